// Normalising what a patient types into "email or mobile number", so one person always maps to one contact point.
export type ContactInput = { kind: 'email'; value: string } | { kind: 'sms'; value: string };

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]{2,}$/;
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * An email address (lower-cased) or a phone number in E.164. A 10-digit number is taken as North American (+1),
 * the only national format accepted without a country code. Undefined means neither.
 */
export function normaliseContact(raw: string): ContactInput | undefined {
  const input = raw.trim();
  if (input.length === 0 || input.length > 254) return undefined;
  if (input.includes('@')) return EMAIL.test(input) ? { kind: 'email', value: input.toLowerCase() } : undefined;
  if (!/^[+\d\s().-]+$/.test(input)) return undefined;
  const digits = input.replace(/[^\d]/g, '');
  const candidate = input.startsWith('+') ? `+${digits}` : digits.length === 10 ? `+1${digits}` : digits.length === 11 && digits.startsWith('1') ? `+${digits}` : '';
  return E164.test(candidate) ? { kind: 'sms', value: candidate } : undefined;
}

/** For screens: "m•••@example.com", "•••• 0101". Never the whole contact point. */
export function maskContact(contact: ContactInput): string {
  if (contact.kind === 'sms') return `•••• ${contact.value.slice(-4)}`;
  const [local = '', domain = ''] = contact.value.split('@');
  return `${local.slice(0, 1)}•••@${domain}`;
}
