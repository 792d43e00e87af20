// Housekeeping the worker runs now and then: identity state that has done its job is deleted. Sign-ins and
// failures stay in the audit log; these rows only served the live checks.
import { and, isNotNull, lt, or } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { sessions, verifications } from '../../db/schema/index';
import { pruneAdminSignInState } from '../admin/maintenance';
import { purgeExpiredWebauthnChallenges } from './passkeys';
import { pruneRateLimits } from './rate-limit';

const DAY_MS = 86_400_000;
export const KEEP_ENDED_SESSIONS_MS = 30 * DAY_MS;

export async function pruneIdentityState(db: Database, now: Date): Promise<{ verifications: number; sessions: number }> {
  await pruneRateLimits(db, now);
  await purgeExpiredWebauthnChallenges({ db, now });
  await pruneAdminSignInState(db, now);
  const dayAgo = new Date(now.getTime() - DAY_MS);
  const oldVerifications = await db
    .delete(verifications)
    .where(lt(verifications.expiresAt, dayAgo))
    .returning({ id: verifications.id });
  const cutoff = new Date(now.getTime() - KEEP_ENDED_SESSIONS_MS);
  const oldSessions = await db
    .delete(sessions)
    .where(or(and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, cutoff)), lt(sessions.expiresAt, cutoff)))
    .returning({ idHash: sessions.idHash });
  return { verifications: oldVerifications.length, sessions: oldSessions.length };
}
