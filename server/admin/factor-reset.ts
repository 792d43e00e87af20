// An owner resets another admin's sign-in factors after they lost their phone and passkeys (ADR 016). The owner
// proves themselves again in the same form (their password, or a fresh authenticator code), so a stolen owner session
// alone cannot take over a colleague's account. The reset removes the authenticator app and every passkey, clears the
// password, ends every session and open sign-in attempt, and replaces open invitations with a fresh enrolment link
// (24 hours, once) that the route mails to the admin: they choose a password and add an authenticator app through the
// invitation pages, which are already built and tested. Audited (AU1) with counts, never a secret.
import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { adminInvitations, adminPasskeys, admins, adminSignInAttempts, adminTotpFactors } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { randomToken, sha256 } from '../identity/codes';
import { sendToContact, type CodeTransports } from '../identity/code-delivery';
import { isUuid } from '../ids';
import type { KekRing } from '../messages/vault';
import { revokeInvitations } from './invitations';
import { verifyPassword } from './passwords';
import { endAdminSessions, recordFailure } from './sign-in';
import { lockActiveOwners } from './team';
import { checkTotp } from './totp';

/** The recovery link: long enough to read the mail on another day's shift start, short for a link worth an account. */
export const RECOVERY_LINK_TTL_MS = 24 * 60 * 60 * 1000;

export type FactorResetResult =
  | { status: 'reset'; token: string; email: string; name: string; expiresAt: Date }
  | { status: 'self' | 'not_found' | 'not_active' | 'disabled' | 'last_owner' | 'wrong_step_up' | 'locked' };

/**
 * Checks the owner's step-up (a 6-digit code is an authenticator code, anything else their password: passwords have
 * at least 12 characters), then resets the target's factors in one transaction. A wrong step-up counts towards the
 * owner's own sign-in lock, as a wrong current password does on the account page.
 */
export async function resetAdminFactors(
  db: Database,
  ring: KekRing,
  options: { orgId: string; actorId: string; adminId: string; stepUp: string; now: Date },
): Promise<FactorResetResult> {
  const { orgId, actorId, adminId, now } = options;
  if (actorId === adminId) return { status: 'self' };
  if (!isUuid(adminId)) return { status: 'not_found' };
  const [actor] = await db
    .select({ passwordHash: admins.passwordHash, lockedUntil: admins.lockedUntil })
    .from(admins)
    .where(and(eq(admins.orgId, orgId), eq(admins.id, actorId)));
  if (!actor) return { status: 'wrong_step_up' };
  if (actor.lockedUntil && actor.lockedUntil.getTime() > now.getTime()) return { status: 'locked' };
  const stepUp = options.stepUp.replace(/\s+/g, '');
  const totp = /^\d{6}$/.test(stepUp);
  // The slow argon2 check happens before any lock is taken; the code check must be inside (its step is recorded).
  const passwordOk = !totp && actor.passwordHash !== null && stepUp.length > 0 ? await verifyPassword(actor.passwordHash, options.stepUp) : false;

  return db.transaction(async (tx) => {
    const owners = await lockActiveOwners(tx, orgId);
    const [self] = await tx.select({ failedSignIns: admins.failedSignIns }).from(admins).where(and(eq(admins.orgId, orgId), eq(admins.id, actorId))).for('update');
    const stepUpOk = totp ? (await checkTotp(tx, ring, { orgId, adminId: actorId, code: stepUp, now })).status === 'accepted' : passwordOk;
    if (!stepUpOk || !self) {
      const { locked } = await recordFailure(tx, { orgId, adminId: actorId, failuresBefore: self?.failedSignIns ?? 0, stage: 'step_up', reason: totp ? 'wrong_code' : 'wrong_password', now });
      return { status: locked ? 'locked' : 'wrong_step_up' } as const;
    }
    await tx.update(admins).set({ failedSignIns: 0 }).where(and(eq(admins.orgId, orgId), eq(admins.id, actorId)));

    const [target] = await tx
      .select({ id: admins.id, email: admins.email, name: admins.name, role: admins.role, passwordHash: admins.passwordHash, disabledAt: admins.disabledAt })
      .from(admins)
      .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)))
      .for('update');
    // EN3: another organisation's admin is unknown here.
    if (!target) return { status: 'not_found' } as const;
    if (target.disabledAt) return { status: 'disabled' } as const;
    if (!target.passwordHash) return { status: 'not_active' } as const;
    // The organisation keeps an active owner: the acting owner is one, but the rule is checked, not assumed.
    if (owners.filter((id) => id !== target.id).length < 1) return { status: 'last_owner' } as const;

    const totpRemoved = await tx.delete(adminTotpFactors).where(and(eq(adminTotpFactors.orgId, orgId), eq(adminTotpFactors.adminId, adminId))).returning({ adminId: adminTotpFactors.adminId });
    const passkeysRemoved = await tx.delete(adminPasskeys).where(and(eq(adminPasskeys.orgId, orgId), eq(adminPasskeys.adminId, adminId))).returning({ id: adminPasskeys.id });
    await tx.update(admins).set({ passwordHash: null, failedSignIns: 0, lockedUntil: null }).where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)));
    await tx
      .update(adminSignInAttempts)
      .set({ consumedAt: now })
      .where(and(eq(adminSignInAttempts.orgId, orgId), eq(adminSignInAttempts.adminId, adminId), isNull(adminSignInAttempts.consumedAt)));
    const sessionsEnded = await endAdminSessions(tx, { orgId, adminId, now });
    await revokeInvitations(tx, orgId, adminId, now);
    const token = randomToken();
    const expiresAt = new Date(now.getTime() + RECOVERY_LINK_TTL_MS);
    await tx.insert(adminInvitations).values({ orgId, adminId, tokenHash: sha256(token), role: target.role, invitedBy: actorId, createdAt: now, expiresAt });
    await appendAudit(tx, orgId, {
      actorType: 'admin',
      actorId,
      action: 'admin.factors_reset',
      subjectType: 'admin',
      subjectId: adminId,
      details: { stepUp: totp ? 'totp' : 'password', totpRemoved: totpRemoved.length, passkeysRemoved: passkeysRemoved.length, sessionsEnded },
    });
    return { status: 'reset', token, email: target.email, name: target.name, expiresAt } as const;
  });
}

/** The mail to the admin whose factors were reset: what happened, and the one-time link to enrol again. No secret of theirs. */
export async function deliverFactorResetNotice(transports: CodeTransports, options: { orgName: string; to: string; url: string; adminId: string }) {
  const text = [
    `An owner of the ${options.orgName} admin console on Carepost reset the ways you sign in.`,
    'Your authenticator app and passkeys no longer work there, your password was cleared, and you were signed out everywhere.',
    '',
    `To sign in again, choose a new password and add an authenticator app: ${options.url}`,
    '',
    'The link works once, for 24 hours.',
    'If you did not ask for this, tell another owner of your organisation at once.',
  ].join('\n');
  await sendToContact(
    transports,
    { channel: 'email', to: options.to, subject: `Your sign-in to the ${options.orgName} admin console was reset`, text, sms: '' },
    { ids: { adminId: options.adminId }, sent: 'admin factor reset notice sent', failed: 'admin factor reset notice not sent' },
  );
}
