// Who may read messages (OT5): the organisation's pickup policy names the verification a session needs, whatever
// the age of the session; a weaker session is sent to confirm it is them at that level and comes back.
import type { DbOrTx } from '../../db/client';
import { requireAssurance } from '../identity/assurance';
import type { CookieSettings } from '../identity/cookies';
import { describeUserAgent } from '../identity/sessions';
import type { Reader } from './inbox';

/**
 * The signed-in patient as a reader of their messages: verified the way the organisation's pickup policy asks, or
 * a redirect to sign in or to confirm it is them, and back to `returnTo`.
 */
export async function requireReader(options: { request: Request; db: DbOrTx; cookies: CookieSettings; slug: string | undefined; now: Date; returnTo: string }) {
  const signedIn = await requireAssurance({ ...options, level: (org) => org.pickupPolicy, maxAgeMs: Number.POSITIVE_INFINITY });
  const reader: Reader = {
    orgId: signedIn.org.id,
    patientId: signedIn.patient.id,
    sessionIdHash: signedIn.session.idHash,
    verificationMethod: signedIn.session.verificationMethod,
    device: describeUserAgent(options.request.headers.get('user-agent')),
  };
  return { ...signedIn, reader };
}
