// The HTTP side of passkeys: which patient a "sign in with a passkey" names, and answers for fetch() callers.
import { and, eq, isNotNull } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { contactPoints } from '../../db/schema/index';
import { keyedHash } from './codes';
import type { ContactInput } from './contact';
import { startPasskeyAuthentication } from './passkeys';
import { consumeRateLimits, type RateLimit } from './rate-limit';

// Anyone can ask for a challenge (EN2). Every sign-in page view asks once, for autofill, and clinic networks share
// one address, hence the generous figure.
export const PASSKEY_OPTIONS_LIMIT: RateLimit = { name: 'passkey_options_ip', limit: 300, windowSeconds: 3600 };

/**
 * Authentication options for the sign-in page. With a contact typed in, a known patient's passkeys are offered;
 * anyone else gets one made-up credential id derived from what was typed, so the answer does not say whether the
 * address is on record (EN1). Without a contact, the browser offers its discoverable passkeys (usernameless).
 */
export async function passkeySignInOptions(options: {
  db: Database;
  codeSecret: Buffer;
  orgId: string;
  contact: ContactInput | undefined;
  ipAddress: string;
  rpId: string;
  now: Date;
}) {
  const { db, orgId, contact } = options;
  const rate = await consumeRateLimits(db, [{ limit: PASSKEY_OPTIONS_LIMIT, key: keyedHash(options.codeSecret, 'ip', options.ipAddress) }], options.now);
  if (!rate.allowed) return { status: 'rate_limited', retryAfterSeconds: rate.retryAfterSeconds } as const;
  let patientId: string | undefined;
  if (contact) {
    const [point] = await db
      .select({ patientId: contactPoints.patientId })
      .from(contactPoints)
      .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.kind, contact.kind), eq(contactPoints.value, contact.value), isNotNull(contactPoints.verifiedAt)));
    patientId = point?.patientId;
  }
  const started = await startPasskeyAuthentication({ db, orgId, patientId, rpId: options.rpId, now: options.now });
  if (contact && started.options.allowCredentials?.length === 0) {
    // Unknown address, or a patient with no passkey yet: a stable decoy instead of a telling empty list.
    const decoy = keyedHash(options.codeSecret, 'passkey-decoy', orgId, contact.kind, contact.value);
    started.options.allowCredentials = [{ id: decoy, type: 'public-key', transports: ['internal', 'hybrid'] }];
  }
  return { status: 'started', ...started } as const;
}

export function json(body: unknown, init: { status?: number; headers?: Headers | Record<string, string> } = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('Content-Type', 'application/json; charset=utf-8');
  return new Response(JSON.stringify(body), { status: init.status ?? 200, headers });
}

/** Turns a redirect (sign-in, step-up) into a JSON answer a fetch() caller can follow, keeping its cookies. */
export function redirectAsJson(redirect: Response): Response {
  const headers = new Headers();
  for (const cookie of redirect.headers.getSetCookie()) headers.append('Set-Cookie', cookie);
  return json({ location: redirect.headers.get('Location') }, { status: redirect.status === 303 ? 200 : redirect.status, headers });
}
