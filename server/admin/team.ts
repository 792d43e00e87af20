// The team page (owners only, capability 'team'): who has access, invitations, roles, disabling. Every query names
// the organisation (EN3). The organisation always keeps at least one active owner: the owner rows are locked while
// that is checked, so two owners demoting each other at once cannot both succeed.
import { and, asc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { adminInvitations, admins } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { revokeInvitations } from './invitations';
import { hashPassword, verifyPassword } from './passwords';
import type { AdminRole } from './roles';
import { endAdminSessions, recordFailure } from './sign-in';

export type TeamMember = {
  id: string;
  name: string;
  email: string;
  role: AdminRole;
  status: 'active' | 'invited' | 'disabled';
  invitationExpiresAt: Date | null;
};

export async function listTeam(db: Database, orgId: string): Promise<TeamMember[]> {
  const rows = await db
    .select({
      id: admins.id,
      name: admins.name,
      email: admins.email,
      role: admins.role,
      passwordHash: admins.passwordHash,
      disabledAt: admins.disabledAt,
      invitationExpiresAt: sql<Date | null>`(
        select max(i.expires_at) from admin_invitations i
        where i.org_id = ${admins.orgId} and i.admin_id = ${admins.id} and i.accepted_at is null and i.revoked_at is null)`.mapWith((v) => (v ? new Date(v) : null)),
    })
    .from(admins)
    .where(eq(admins.orgId, orgId))
    .orderBy(asc(admins.name), asc(admins.email));
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    email: r.email,
    role: r.role,
    status: r.disabledAt ? 'disabled' : r.passwordHash ? 'active' : 'invited',
    invitationExpiresAt: r.invitationExpiresAt,
  }));
}

/** Locks the organisation's active owners (the ones who can sign in) and counts them. */
export async function lockActiveOwners(tx: Tx, orgId: string): Promise<string[]> {
  const rows = await tx
    .select({ id: admins.id })
    .from(admins)
    .where(and(eq(admins.orgId, orgId), eq(admins.role, 'owner'), isNull(admins.disabledAt), isNotNull(admins.passwordHash)))
    .orderBy(asc(admins.id))
    .for('update');
  return rows.map((r) => r.id);
}

export type TeamChange = 'changed' | 'unchanged' | 'not_found' | 'last_owner' | 'self';

export async function changeRole(db: Database, options: { orgId: string; actorId: string; adminId: string; role: AdminRole }): Promise<TeamChange> {
  const { orgId, actorId, adminId, role } = options;
  return db.transaction(async (tx) => {
    const owners = await lockActiveOwners(tx, orgId);
    const [admin] = await tx.select({ id: admins.id, role: admins.role }).from(admins).where(and(eq(admins.orgId, orgId), eq(admins.id, adminId))).for('update');
    if (!admin) return 'not_found' as const;
    if (admin.role === role) return 'unchanged' as const;
    if (admin.role === 'owner' && owners.includes(admin.id) && owners.length <= 1) return 'last_owner' as const;
    await tx.update(admins).set({ role }).where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)));
    // An invitation not yet accepted grants the new role too.
    await tx.update(adminInvitations).set({ role }).where(and(eq(adminInvitations.orgId, orgId), eq(adminInvitations.adminId, adminId), isNull(adminInvitations.acceptedAt)));
    await appendAudit(tx, orgId, { actorType: 'admin', actorId, action: 'admin.role_changed', subjectType: 'admin', subjectId: adminId, details: { from: admin.role, to: role } });
    return 'changed' as const;
  });
}

/** Disabling ends the admin's sessions and open invitations at once; their rows stay for the audit trail. */
export async function disableAdmin(db: Database, options: { orgId: string; actorId: string; adminId: string; now: Date }): Promise<TeamChange> {
  const { orgId, actorId, adminId, now } = options;
  if (actorId === adminId) return 'self';
  return db.transaction(async (tx) => {
    const owners = await lockActiveOwners(tx, orgId);
    const [admin] = await tx
      .select({ id: admins.id, disabledAt: admins.disabledAt })
      .from(admins)
      .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)))
      .for('update');
    if (!admin) return 'not_found' as const;
    if (admin.disabledAt) return 'unchanged' as const;
    if (owners.includes(admin.id) && owners.length <= 1) return 'last_owner' as const;
    await tx.update(admins).set({ disabledAt: now }).where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)));
    const ended = await endAdminSessions(tx, { orgId, adminId, now });
    await revokeInvitations(tx, orgId, adminId, now);
    await appendAudit(tx, orgId, { actorType: 'admin', actorId, action: 'admin.disabled', subjectType: 'admin', subjectId: adminId, details: { sessionsEnded: ended } });
    return 'changed' as const;
  });
}

export async function enableAdmin(db: Database, options: { orgId: string; actorId: string; adminId: string }): Promise<TeamChange> {
  const { orgId, actorId, adminId } = options;
  return db.transaction(async (tx) => {
    const [admin] = await tx
      .update(admins)
      .set({ disabledAt: null, failedSignIns: 0, lockedUntil: null })
      .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId), isNotNull(admins.disabledAt)))
      .returning({ id: admins.id });
    if (!admin) return 'unchanged' as const;
    await appendAudit(tx, orgId, { actorType: 'admin', actorId, action: 'admin.enabled', subjectType: 'admin', subjectId: adminId, details: {} });
    return 'changed' as const;
  });
}

export type ChangePasswordResult = 'changed' | 'wrong_current' | 'locked';

/**
 * From the account page: the current password is asked again, and wrong ones count towards the same lock as at
 * sign-in, so a borrowed session cannot be used to guess it. The admin's other sessions end.
 */
export async function changePassword(
  db: Database,
  options: { orgId: string; adminId: string; sessionIdHash: string; current: string; next: string; now: Date },
): Promise<ChangePasswordResult> {
  const { orgId, adminId, now } = options;
  const [row] = await db
    .select({ passwordHash: admins.passwordHash, lockedUntil: admins.lockedUntil })
    .from(admins)
    .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)));
  if (row?.lockedUntil && row.lockedUntil.getTime() > now.getTime()) return 'locked';
  const ok = row?.passwordHash ? await verifyPassword(row.passwordHash, options.current) : false;
  const nextHash = ok ? await hashPassword(options.next) : undefined;
  return db.transaction(async (tx) => {
    if (!nextHash) {
      const [locked] = await tx.select({ failedSignIns: admins.failedSignIns }).from(admins).where(and(eq(admins.orgId, orgId), eq(admins.id, adminId))).for('update');
      const result = await recordFailure(tx, { orgId, adminId, failuresBefore: locked?.failedSignIns ?? 0, stage: 'password_change', reason: 'wrong_current', now });
      return result.locked ? ('locked' as const) : ('wrong_current' as const);
    }
    const [updated] = await tx
      .update(admins)
      .set({ passwordHash: nextHash })
      .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId), eq(admins.passwordHash, row!.passwordHash!)))
      .returning({ id: admins.id });
    if (!updated) return 'wrong_current' as const; // changed meanwhile elsewhere
    const ended = await endAdminSessions(tx, { orgId, adminId, exceptIdHash: options.sessionIdHash, now });
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: adminId, action: 'admin.password.changed', subjectType: 'admin', subjectId: adminId, details: { otherSessionsEnded: ended } });
    return 'changed' as const;
  });
}
