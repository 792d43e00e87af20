// How sure we are who the patient is, and how recently they proved it (SE5, OT5).
import type { DbOrTx } from '../../db/client';
import type { CookieSettings } from './cookies';
import { redirectTo, requirePatient, type SignedInPatient } from './guards';
import { safeReturnTo } from './return-to';
import type { VerificationMethod } from './sessions';

export { safeReturnTo };

/** The levels an organisation's pickup policy can name (organisations.pickup_policy). */
export type AssuranceLevel = 'code' | 'code_dob' | 'passkey';

/** A recent verification, for adding a passkey, changing a contact point or granting consent (SE5). */
export const STEP_UP_MAX_AGE_MS = 5 * 60 * 1000;

const STRENGTH: Record<VerificationMethod, number> = { code_email: 1, code_sms: 1, code_dob: 2, passkey: 3 };
const NEEDED: Record<AssuranceLevel, number> = { code: 1, code_dob: 2, passkey: 3 };

export function methodSatisfies(method: string, level: AssuranceLevel): boolean {
  return (STRENGTH[method as VerificationMethod] ?? 0) >= NEEDED[level];
}

/**
 * The signed-in patient, verified at `level` or better within `maxAgeMs`; otherwise a redirect to the
 * step-up page, which brings the patient back to `returnTo` with a fresh session (SE1).
 */
export async function requireAssurance(options: {
  request: Request;
  db: DbOrTx;
  cookies: CookieSettings;
  slug: string | undefined;
  now: Date;
  /** A level, or how to read it from the organisation (its pickup policy, OT5). */
  level: AssuranceLevel | ((org: SignedInPatient['org']) => AssuranceLevel);
  maxAgeMs: number;
  returnTo: string;
}): Promise<SignedInPatient> {
  const signedIn = await requirePatient(options);
  const level = typeof options.level === 'function' ? options.level(signedIn.org) : options.level;
  const fresh = verifiedWithin(signedIn.session, options.now, options.maxAgeMs);
  if (fresh && methodSatisfies(signedIn.session.verificationMethod, level)) return signedIn;
  const slug = signedIn.org.slug;
  const params = new URLSearchParams({ returnTo: safeReturnTo(slug, options.returnTo) });
  if (level !== 'code') params.set('level', level);
  throw redirectTo(`/o/${slug}/verify?${params.toString()}`);
}

/** Whether the session's last verification is at most `maxAgeMs` old (SE5's step-up window by default). */
export function verifiedWithin(session: { verifiedAt: Date }, now: Date, maxAgeMs = STEP_UP_MAX_AGE_MS): boolean {
  return now.getTime() - session.verifiedAt.getTime() <= maxAgeMs;
}

/**
 * SE5: the signed-in patient, verified by any means within the last few minutes (STEP_UP_MAX_AGE_MS unless a flow
 * needs longer); otherwise a redirect to confirm it is them, and back to `returnTo`. For adding a passkey, changing a
 * contact point or where health information goes, and granting consent.
 */
export function requireRecentVerification(options: Omit<Parameters<typeof requireAssurance>[0], 'level' | 'maxAgeMs'> & { maxAgeMs?: number }): Promise<SignedInPatient> {
  return requireAssurance({ ...options, level: 'code', maxAgeMs: options.maxAgeMs ?? STEP_UP_MAX_AGE_MS });
}
