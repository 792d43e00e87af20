// Admin passwords (ADR 010): argon2id with the OWASP baseline parameters, a length-first strength rule (NIST SP
// 800-63B 3.1.1.2: long, not common, not the account's own name), and a stand-in hash so an unknown email costs
// the same time as a known one (no account enumeration).
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/** OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1 (about 80 ms here). */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 12;
/** Long enough for any passphrase, short enough that hashing it stays cheap. */
export const PASSWORD_MAX_LENGTH = 128;

// The most common passwords that are 12 characters or longer (from public breach corpora); anything shorter is
// refused by length anyway. A short list: length does most of the work.
const COMMON = new Set(
  [
    '123456789012',
    '1234567890123',
    'qwertyuiopas',
    'qwertyuiop123',
    'password1234',
    'password12345',
    'passwordpassword',
    'iloveyou1234',
    'administrator',
    'administrator1',
    'welcome12345',
    'changeme1234',
    'letmein12345',
    '1q2w3e4r5t6y',
    '1qaz2wsx3edc',
    'qazwsxedcrfv',
    'aaaaaaaaaaaa',
    'abcdefghijkl',
    'abc123abc123',
    'trustno1trustno1',
    'correcthorsebatterystaple',
    'carepostcarepost',
    'carepost1234',
    'carepostadmin',
  ].map((p) => p.toLowerCase()),
);

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

/** False for a wrong password and for a malformed stored hash; never throws. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (password.length === 0 || password.length > PASSWORD_MAX_LENGTH) return false;
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** A hash made with weaker parameters than today's is replaced at the next successful sign-in. */
export function passwordNeedsRehash(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, ARGON2_OPTIONS);
  } catch {
    return true;
  }
}

let standIn: Promise<string> | undefined;

/**
 * Spends what checking a real password costs, for an email with no usable account: the answer and its timing do not
 * say whether the account exists.
 */
export async function verifyAgainstStandIn(password: string): Promise<false> {
  standIn ??= hashPassword(randomBytes(16).toString('base64url'));
  await verifyPassword(await standIn, password.length > 0 ? password : 'x');
  return false;
}

/** Why a new password is not acceptable, as a sentence for the form; undefined when it is fine. */
export function passwordProblem(password: string, context: { email?: string; name?: string } = {}): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters. A few unrelated words make a strong, memorable password.`;
  if (length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters.`;
  const folded = password.toLowerCase();
  if (COMMON.has(folded.replace(/\s+/g, ''))) return 'This password is one of the most common ones. Choose something less predictable.';
  if (new Set(folded).size <= 3) return 'Use more different characters.';
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && folded.includes(local)) return 'Do not use your email address in your password.';
  const names = (context.name ?? '').toLowerCase().split(/\s+/).filter((n) => n.length >= 4);
  if (names.some((n) => folded === n || folded.replace(/[^a-z]/g, '') === n)) return 'Do not use your name as your password.';
  return undefined;
}

/** Emails are compared lower-cased and trimmed; the column holds them that way. */
export function normaliseAdminEmail(value: string): string | undefined {
  const email = value.trim().toLowerCase();
  if (email.length < 3 || email.length > 254) return undefined;
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return undefined;
  return email;
}
