import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const CODE_TTL_MS = 10 * 60 * 1000; // OT2
export const MAX_TRIES_PER_CODE = 5; // OT4

/** OT1: six digits from the CSPRNG, leading zeros kept. */
export function generateCode(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0');
}

/** The code is kept only as an HMAC bound to its verification row, so a copied hash is useless elsewhere. */
export function codeHmac(secret: Buffer, verificationId: string, code: string): string {
  return createHmac('sha256', secret).update(`code:${verificationId}:${code}`).digest('hex');
}

export function codeMatches(secret: Buffer, verificationId: string, code: string, storedHmac: string): boolean {
  const actual = Buffer.from(codeHmac(secret, verificationId, code), 'hex');
  const expected = Buffer.from(storedHmac, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Contact points and IPs appear in tables and rate-limit keys only as keyed hashes. */
export function keyedHash(secret: Buffer, ...parts: string[]): string {
  return createHmac('sha256', secret).update(parts.join('\u0000')).digest('base64url');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
