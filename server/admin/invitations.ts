// Invitations (ADR 010). An owner invites someone by email with a role; the admin row exists at once, with no
// password, so it cannot sign in. The link carries a random token kept only as a SHA-256, works for 7 days and once.
// Accepting is two pages: choose a password (held on the invitation, behind a cookie bound to this browser), then
// add an authenticator app and confirm it with a code. Only that confirmation changes the admin, in one transaction.
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { adminInvitations, admins } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { randomToken, sha256 } from '../identity/codes';
import type { CodeTransports } from '../identity/code-delivery';
import { sendToContact } from '../identity/code-delivery';
import type { KekRing } from '../messages/vault';
import type { AdminRole } from './roles';
import { hashPassword } from './passwords';
import { createAdminSession } from './sessions';
import type { SessionContext } from './sign-in';
import { checkTotp, newTotpSecret, openTotpSecret, storePendingTotp } from './totp';

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** The password page to the code page: an hour is plenty to install an app. */
export const ENROL_COOKIE_SECONDS = 60 * 60;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export type InviteResult = { status: 'invited'; adminId: string; token: string; expiresAt: Date } | { status: 'exists' };

/** A new admin of `role`, invited by `invitedBy`. An address already in the team is refused (the owner can re-send). */
export async function inviteAdmin(
  db: Database,
  options: { orgId: string; invitedBy: string; email: string; name: string; role: AdminRole; now: Date },
): Promise<InviteResult> {
  const { orgId, invitedBy, email, name, role, now } = options;
  return db.transaction(async (tx) => {
    const [admin] = await tx.insert(admins).values({ orgId, email, name, role, createdAt: now }).onConflictDoNothing().returning({ id: admins.id });
    if (!admin) return { status: 'exists' } as const;
    const token = randomToken();
    const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS);
    await tx.insert(adminInvitations).values({ orgId, adminId: admin.id, tokenHash: sha256(token), role, invitedBy, createdAt: now, expiresAt });
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: invitedBy, action: 'admin.invited', subjectType: 'admin', subjectId: admin.id, details: { role } });
    return { status: 'invited', adminId: admin.id, token, expiresAt } as const;
  });
}

/** A fresh link for an admin who has not accepted yet; earlier links stop working. */
export async function reinviteAdmin(
  db: Database,
  options: { orgId: string; invitedBy: string; adminId: string; now: Date },
): Promise<{ status: 'invited'; token: string; email: string; role: AdminRole; expiresAt: Date } | { status: 'not_pending' }> {
  const { orgId, invitedBy, adminId, now } = options;
  return db.transaction(async (tx) => {
    const [admin] = await tx
      .select({ id: admins.id, email: admins.email, role: admins.role })
      .from(admins)
      .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId), isNull(admins.passwordHash), isNull(admins.disabledAt)))
      .for('update');
    if (!admin) return { status: 'not_pending' } as const;
    await revokeInvitations(tx, orgId, adminId, now);
    const token = randomToken();
    const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS);
    await tx.insert(adminInvitations).values({ orgId, adminId, tokenHash: sha256(token), role: admin.role, invitedBy, createdAt: now, expiresAt });
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: invitedBy, action: 'admin.invited', subjectType: 'admin', subjectId: adminId, details: { role: admin.role, again: true } });
    return { status: 'invited', token, email: admin.email, role: admin.role, expiresAt } as const;
  });
}

export async function revokeInvitations(tx: Tx, orgId: string, adminId: string, now: Date) {
  await tx
    .update(adminInvitations)
    .set({ revokedAt: now })
    .where(and(eq(adminInvitations.orgId, orgId), eq(adminInvitations.adminId, adminId), isNull(adminInvitations.acceptedAt), isNull(adminInvitations.revokedAt)));
}

/** The invitation email: who invited them to what, and the link. No PHI (there is none to give). */
export async function deliverInvitation(transports: CodeTransports, options: { orgName: string; to: string; url: string; role: AdminRole; adminId: string }) {
  const text = [
    `You have been invited to the ${options.orgName} admin console on Carepost, as ${ROLE_WORDS[options.role]}.`,
    '',
    `Accept the invitation: ${options.url}`,
    '',
    'The link works once, for 7 days. You will choose a password and add an authenticator app.',
    'If you did not expect this invitation, you can ignore this email.',
  ].join('\n');
  await sendToContact(
    transports,
    { channel: 'email', to: options.to, subject: `Your invitation to the ${options.orgName} admin console`, text, sms: '' },
    { ids: { adminId: options.adminId }, sent: 'admin invitation sent', failed: 'admin invitation not sent' },
  );
}

const ROLE_WORDS: Record<AdminRole, string> = { owner: 'an owner', compliance: 'a compliance officer', marketer: 'a marketer', support: 'a support agent' };

export type OpenInvitation = {
  id: string;
  orgId: string;
  adminId: string;
  email: string;
  name: string;
  role: AdminRole;
  expiresAt: Date;
  enrolHash: string | null;
};

/**
 * The invitation a link names, if it can still be used: this organisation's (EN3), not accepted, not replaced, not
 * expired, for an admin who is not disabled. Forged, expired, used and foreign tokens all come back undefined.
 */
export async function openInvitation(db: Database, options: { orgId: string; token: string; now: Date }): Promise<OpenInvitation | undefined> {
  if (!TOKEN.test(options.token)) return undefined;
  const [row] = await db
    .select({
      id: adminInvitations.id,
      adminId: adminInvitations.adminId,
      role: adminInvitations.role,
      expiresAt: adminInvitations.expiresAt,
      enrolHash: adminInvitations.enrolHash,
      email: admins.email,
      name: admins.name,
      passwordHash: admins.passwordHash,
      disabledAt: admins.disabledAt,
    })
    .from(adminInvitations)
    .innerJoin(admins, and(eq(admins.orgId, adminInvitations.orgId), eq(admins.id, adminInvitations.adminId)))
    .where(
      and(
        eq(adminInvitations.orgId, options.orgId),
        eq(adminInvitations.tokenHash, sha256(options.token)),
        isNull(adminInvitations.acceptedAt),
        isNull(adminInvitations.revokedAt),
        gt(adminInvitations.expiresAt, options.now),
      ),
    );
  if (!row || row.disabledAt || row.passwordHash) return undefined;
  return { id: row.id, orgId: options.orgId, adminId: row.adminId, email: row.email, name: row.name, role: row.role, expiresAt: row.expiresAt, enrolHash: row.enrolHash };
}

/**
 * Page one: the chosen password (already checked for strength by the caller) waits on the invitation, argon2id
 * hashed, and a new authenticator secret waits unconfirmed. The returned enrolment token goes in a cookie.
 */
export async function choosePassword(
  db: Database,
  ring: KekRing,
  options: { orgId: string; token: string; password: string; now: Date },
): Promise<{ status: 'ok'; enrolToken: string } | { status: 'invalid' }> {
  const { orgId, now } = options;
  const invitation = await openInvitation(db, { orgId, token: options.token, now });
  if (!invitation) return { status: 'invalid' };
  const pendingPasswordHash = await hashPassword(options.password);
  const enrolToken = randomToken();
  return db.transaction(async (tx) => {
    const [updated] = await tx
      .update(adminInvitations)
      .set({ pendingPasswordHash, enrolHash: sha256(enrolToken) })
      .where(and(eq(adminInvitations.orgId, orgId), eq(adminInvitations.id, invitation.id), isNull(adminInvitations.acceptedAt), isNull(adminInvitations.revokedAt)))
      .returning({ id: adminInvitations.id });
    if (!updated) return { status: 'invalid' } as const;
    await storePendingTotp(tx, ring, { orgId, adminId: invitation.adminId, secret: newTotpSecret(), now });
    return { status: 'ok', enrolToken } as const;
  });
}

/** Page two's secret, shown only to the browser that chose the password. */
export async function enrolmentSecret(db: Database, ring: KekRing, invitation: OpenInvitation, enrolToken: string | undefined): Promise<string | undefined> {
  if (!enrolToken || !invitation.enrolHash || sha256(enrolToken) !== invitation.enrolHash) return undefined;
  return openTotpSecret(db, ring, { orgId: invitation.orgId, adminId: invitation.adminId, confirmed: false });
}

export type AcceptResult = { status: 'accepted'; token: string; adminId: string } | { status: 'invalid' } | { status: 'no_enrolment' } | { status: 'wrong_code' };

/**
 * Page two: the code from the new app. In one transaction the invitation is used up (only once: the row is locked
 * and must still be open), the factor confirmed with the code's step, the password set, and a session made.
 */
export async function acceptInvitation(
  db: Database,
  ring: KekRing,
  options: { orgId: string; token: string; enrolToken: string | undefined; code: string; session: SessionContext; now: Date },
): Promise<AcceptResult> {
  const { orgId, now } = options;
  if (!TOKEN.test(options.token)) return { status: 'invalid' };
  return db.transaction(async (tx) => {
    const [invitation] = await tx
      .select()
      .from(adminInvitations)
      .where(and(eq(adminInvitations.orgId, orgId), eq(adminInvitations.tokenHash, sha256(options.token))))
      .for('update');
    if (!invitation || invitation.acceptedAt || invitation.revokedAt || invitation.expiresAt.getTime() <= now.getTime()) return { status: 'invalid' } as const;
    const [admin] = await tx
      .select({ id: admins.id, passwordHash: admins.passwordHash, disabledAt: admins.disabledAt })
      .from(admins)
      .where(and(eq(admins.orgId, orgId), eq(admins.id, invitation.adminId)))
      .for('update');
    if (!admin || admin.disabledAt || admin.passwordHash) return { status: 'invalid' } as const;
    if (!options.enrolToken || !invitation.enrolHash || !invitation.pendingPasswordHash || sha256(options.enrolToken) !== invitation.enrolHash) {
      return { status: 'no_enrolment' } as const;
    }
    const check = await checkTotp(tx, ring, { orgId, adminId: admin.id, code: options.code, enrolment: true, now });
    if (check.status !== 'accepted') return { status: 'wrong_code' } as const;
    await tx.update(admins).set({ passwordHash: invitation.pendingPasswordHash, failedSignIns: 0, lockedUntil: null }).where(and(eq(admins.orgId, orgId), eq(admins.id, admin.id)));
    await tx.update(adminInvitations).set({ acceptedAt: now, pendingPasswordHash: null, enrolHash: null }).where(eq(adminInvitations.id, invitation.id));
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: admin.id, action: 'admin.invitation.accepted', subjectType: 'admin', subjectId: admin.id, details: { role: invitation.role } });
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: admin.id, action: 'admin.totp.enrolled', subjectType: 'admin', subjectId: admin.id, details: {} });
    const { token } = await createAdminSession(tx, { orgId, adminId: admin.id, method: 'password_totp', ...options.session, now });
    return { status: 'accepted', token, adminId: admin.id } as const;
  });
}
