// Plain words for the secure inbox and its access history, in the patient's language (issue 9, item 3).
import { INTL_LOCALES, type Locale } from '../../server/i18n/locale';
import type { Translate, UiKey } from '../../server/i18n/translate';

const METHOD_KEYS: Record<string, UiKey> = {
  code_email: 'account.method.code_email',
  code_sms: 'account.method.code_sms',
  code_dob: 'account.method.code_dob',
  passkey: 'account.method.passkey',
};

/** How the session that opened a message was verified, completing "Verified with ...". */
export function verificationWords(method: string, t: Translate): string {
  const key = METHOD_KEYS[method];
  return key ? t(key) : t('access.methodUnknown');
}

// server/identity/sessions.ts describeUserAgent() stores "Chrome on Linux" (English, shared with the admin console's
// access record); the patient reads it in their language. Browser and system names are the same in both.
const DEVICE = /^(Edge|Firefox|Chrome|Safari|A browser) on (Android|iOS|macOS|Windows|Linux|an unknown system)$/;

export function deviceWords(device: string, t: Translate): string {
  if (device === 'Unknown browser') return t('device.unknown');
  const match = DEVICE.exec(device);
  if (!match) return device;
  const browser = match[1] === 'A browser' ? t('device.aBrowser') : match[1]!;
  const system = match[2] === 'an unknown system' ? t('device.unknownSystem') : match[2]!;
  return t('device.on', { browser, system });
}

export function fileSizeWords(bytes: number, t: Translate, locale: Locale): string {
  if (bytes < 1024) return t('file.bytes', { count: bytes });
  const number = new Intl.NumberFormat(INTL_LOCALES[locale], { maximumFractionDigits: bytes < 1024 * 1024 ? 0 : 1, minimumFractionDigits: bytes < 1024 * 1024 ? 0 : 1 });
  return bytes < 1024 * 1024 ? `${number.format(Math.round(bytes / 1024))} KB` : `${number.format(bytes / (1024 * 1024))} MB`;
}

const TYPE_KEYS: Record<string, UiKey> = {
  'application/pdf': 'file.type.pdf',
  'image/png': 'file.type.png',
  'image/jpeg': 'file.type.jpeg',
  'image/gif': 'file.type.gif',
  'image/webp': 'file.type.webp',
  'text/plain': 'file.type.text',
  'text/csv': 'file.type.csv',
  'text/calendar': 'file.type.calendar',
  'application/msword': 'file.type.word',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'file.type.word',
  'application/vnd.ms-excel': 'file.type.excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'file.type.excel',
  'application/zip': 'file.type.zip',
};

export function fileTypeWords(contentType: string, t: Translate): string {
  return t(TYPE_KEYS[contentType] ?? 'file.type.file');
}
