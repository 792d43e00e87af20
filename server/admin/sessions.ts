// Admin sessions: the same table and hashing as patient sessions (SE1), with the subject an admin and shorter
// timeouts. Only the admin sign-in flows create them (password plus a second factor, or a passkey).
import { and, eq, isNull } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client';
import { admins, sessions } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { sha256 } from '../identity/codes';
import { insertSession } from '../identity/sessions';
import type { AdminRole } from './roles';

export const ADMIN_IDLE_MS = 15 * 60 * 1000;
export const ADMIN_ABSOLUTE_MS = 8 * 60 * 60 * 1000;
const TOUCH_EVERY_MS = 30 * 1000;

export type AdminVerificationMethod = 'password_totp' | 'passkey';

export type ActiveAdminSession = {
  idHash: string;
  orgId: string;
  adminId: string;
  verificationMethod: string;
  verifiedAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  idleExpiresAt: Date;
};

export type SessionAdmin = { id: string; email: string; name: string; role: AdminRole };

/** SE1: a fresh session at every sign-in; the browser's previous admin session, if any, ends in the same transaction. */
export async function createAdminSession(
  tx: Tx,
  options: { orgId: string; adminId: string; method: AdminVerificationMethod; previousToken?: string; userAgent?: string | null; now: Date },
): Promise<{ token: string; expiresAt: Date }> {
  const { orgId, adminId, method } = options;
  const created = await insertSession(tx, { ...options, subject: { type: 'admin', id: adminId }, absoluteMs: ADMIN_ABSOLUTE_MS });
  await appendAudit(tx, orgId, { actorType: 'admin', actorId: adminId, action: 'admin.sign_in.succeeded', subjectType: 'admin', subjectId: adminId, details: { method } });
  return created;
}

/**
 * The live admin session for a cookie in this organisation, with its admin, or undefined. Timed-out sessions are
 * ended on the server (SE2); a disabled admin has no session; another organisation's session is not one here (EN3).
 */
export async function getAdminSession(
  db: DbOrTx,
  orgId: string,
  token: string | undefined,
  now: Date,
): Promise<{ session: ActiveAdminSession; admin: SessionAdmin } | undefined> {
  if (!token || token.length > 100) return undefined;
  const idHash = sha256(token);
  const [row] = await db
    .select({ session: sessions, admin: { id: admins.id, email: admins.email, name: admins.name, role: admins.role, disabledAt: admins.disabledAt } })
    .from(sessions)
    .innerJoin(admins, and(eq(admins.orgId, sessions.orgId), eq(admins.id, sessions.adminId)))
    .where(and(eq(sessions.idHash, idHash), eq(sessions.orgId, orgId), eq(sessions.subjectType, 'admin'), isNull(sessions.revokedAt)));
  if (!row || !row.session.adminId) return undefined;
  const s = row.session;
  const idleExpiresAt = new Date(s.lastSeenAt.getTime() + ADMIN_IDLE_MS);
  if (row.admin.disabledAt || s.expiresAt.getTime() <= now.getTime() || idleExpiresAt.getTime() <= now.getTime()) {
    await db.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.idHash, idHash), isNull(sessions.revokedAt)));
    return undefined;
  }
  let lastSeenAt = s.lastSeenAt;
  if (now.getTime() - s.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    lastSeenAt = now;
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.idHash, idHash));
  }
  return {
    session: {
      idHash,
      orgId: s.orgId,
      adminId: s.adminId!,
      verificationMethod: s.verificationMethod,
      verifiedAt: s.verifiedAt,
      lastSeenAt,
      expiresAt: s.expiresAt,
      idleExpiresAt: new Date(lastSeenAt.getTime() + ADMIN_IDLE_MS),
    },
    admin: { id: row.admin.id, email: row.admin.email, name: row.admin.name, role: row.admin.role },
  };
}

/** SE3 for admins. */
export async function endAdminSession(tx: Tx, session: ActiveAdminSession, now: Date): Promise<void> {
  await tx.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.idHash, session.idHash), isNull(sessions.revokedAt)));
  await appendAudit(tx, session.orgId, { actorType: 'admin', actorId: session.adminId, action: 'admin.sign_out', subjectType: 'admin', subjectId: session.adminId, details: {} });
}
