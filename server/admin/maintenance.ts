// Admin sign-in state that has done its job: expired challenges, second-step attempts and reset codes. The audit log
// keeps what happened; these rows only served the live checks. Called from the identity housekeeping.
import { lt, lte } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { adminPasswordResets, adminSignInAttempts, adminWebauthnChallenges } from '../../db/schema/index';

const DAY_MS = 86_400_000;

export async function pruneAdminSignInState(db: Database, now: Date): Promise<number> {
  const dayAgo = new Date(now.getTime() - DAY_MS);
  const challenges = await db.delete(adminWebauthnChallenges).where(lte(adminWebauthnChallenges.expiresAt, now)).returning({ id: adminWebauthnChallenges.id });
  const attempts = await db.delete(adminSignInAttempts).where(lt(adminSignInAttempts.expiresAt, dayAgo)).returning({ id: adminSignInAttempts.id });
  const resets = await db.delete(adminPasswordResets).where(lt(adminPasswordResets.expiresAt, dayAgo)).returning({ id: adminPasswordResets.id });
  return challenges.length + attempts.length + resets.length;
}
