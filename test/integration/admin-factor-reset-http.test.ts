// An owner resets a colleague's lost sign-in factors on the team page (issue 8, ADR 016): step-up with the owner's
// own password or code, the target's app, passkeys, password, sessions and attempts gone, a mailed one-time
// enrolment link that leads through the invitation pages, audited (AU1); owners only, own organisation only (EN3).
import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminInvitations, adminPasskeys, admins, adminTotpFactors, auditEvents, sessions } from '../../db/schema/index';
import { hashPassword } from '../../server/admin/passwords';
import { newTotpSecret, sealAdminTotpSecret, totpCode } from '../../server/admin/totp';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { vaultRing, type KekRing } from '../../server/messages/vault';
import { createTestAdmin } from '../support/admin';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { mailSnapshot } from '../support/mailbox';

const handle = testDatabase();
const db = handle.db;
const PASSWORD = 'correct horse battery staple 42';
let dev: Awaited<ReturnType<typeof startTestServer>>;
let ring: KekRing;
let passwordHash: string;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;

beforeAll(async () => {
  dev = await startTestServer();
  ring = vaultRing(dev.config);
  passwordHash = await hashPassword(PASSWORD); // once: argon2id is slow on purpose
  org = await createTestOrganisation(handle, 'Factor Clinic');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

/** A signed-in admin with a password and a confirmed authenticator app (and, for targets, a passkey). */
async function admin(orgId: string, role: 'owner' | 'support' | 'compliance' | 'marketer', options: { passkey?: boolean } = {}) {
  const a = await createTestAdmin(db, orgId, role);
  const secret = newTotpSecret();
  await db.update(admins).set({ passwordHash }).where(eq(admins.id, a.adminId));
  await db.insert(adminTotpFactors).values({ orgId, adminId: a.adminId, secret: sealAdminTotpSecret(ring, orgId, a.adminId, secret), confirmedAt: new Date() });
  if (options.passkey) {
    await db.insert(adminPasskeys).values({ id: `pk-${a.adminId}`, orgId, adminId: a.adminId, publicKey: Buffer.alloc(65, 4), backupEligible: false, backupState: false, aaguid: '00000000-0000-0000-0000-000000000000', name: 'Laptop' });
  }
  return { ...a, secret };
}

const post = (cookie: string, fields: Record<string, string>, slug = org.slug) =>
  dev.fetch(`/admin/${slug}/team`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3999', 'x-forwarded-host': 'localhost:3999', cookie },
    body: new URLSearchParams(fields).toString(),
  });

const liveSessions = (adminId: string) => db.select().from(sessions).where(and(eq(sessions.adminId, adminId), isNull(sessions.revokedAt)));

async function waitForResetMail(to: string, ignore: Set<string>): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const summary of await listMail(dev.dataDir)) {
      if (!summary.to.includes(to) || ignore.has(summary.id)) continue;
      const mail = await readMail(dev.dataDir, summary.id);
      if (mail?.subject?.includes('was reset')) return mail.text ?? '';
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no reset mail for ${to}`);
}

describe('owner resets a colleague’s sign-in factors', () => {
  it('AU1 SE3: with the owner’s password, the target’s app, passkeys, password and sessions are gone, they are mailed a one-time link that opens the enrolment pages', async () => {
    const owner = await admin(org.id, 'owner');
    const target = await admin(org.id, 'support', { passkey: true });
    expect(await liveSessions(target.adminId)).toHaveLength(1);
    const before = await mailSnapshot(dev.dataDir);

    const res = await post(owner.cookie, { intent: 'reset_factors', adminId: target.adminId, stepUp: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('were reset and their sessions ended');
    expect(await db.select().from(adminTotpFactors).where(eq(adminTotpFactors.adminId, target.adminId))).toHaveLength(0);
    expect(await db.select().from(adminPasskeys).where(eq(adminPasskeys.adminId, target.adminId))).toHaveLength(0);
    const [row] = await db.select().from(admins).where(eq(admins.id, target.adminId));
    expect(row!.passwordHash).toBeNull();
    expect(await liveSessions(target.adminId)).toHaveLength(0);
    // The old session no longer opens any admin page.
    expect((await dev.fetch(`/admin/${org.slug}/support`, { headers: { cookie: target.cookie } })).status).toBe(303);

    const text = await waitForResetMail(target.email, before);
    expect(text).toContain('reset the ways you sign in');
    expect(text).not.toContain(target.secret);
    expect(text).not.toContain(PASSWORD);
    const link = /https?:\/\/\S+(\/admin\/\S+\/invite\/[A-Za-z0-9_-]{43})/.exec(text)![1]!;
    const page = await dev.fetch(link);
    expect(page.status).toBe(200);
    const [invitation] = await db.select().from(adminInvitations).where(and(eq(adminInvitations.adminId, target.adminId), isNull(adminInvitations.revokedAt)));
    expect(invitation!.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);

    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'admin.factors_reset'), eq(auditEvents.subjectId, target.adminId)));
    expect(event).toMatchObject({ actorType: 'admin', actorId: owner.adminId });
    expect(event!.details).toEqual({ stepUp: 'password', totpRemoved: 1, passkeysRemoved: 1, sessionsEnded: 1 });
  });

  it('a current authenticator code is a step-up too; another owner can be reset and the organisation keeps an owner', async () => {
    const owner = await admin(org.id, 'owner');
    const other = await admin(org.id, 'owner');
    const res = await post(owner.cookie, { intent: 'reset_factors', adminId: other.adminId, stepUp: await totpCode(owner.secret, new Date()) });
    expect(res.status).toBe(200);
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.action, 'admin.factors_reset'), eq(auditEvents.subjectId, other.adminId)));
    expect(event!.details).toMatchObject({ stepUp: 'totp' });
  });

  it('a wrong or missing step-up is a 400 with a field error, counts against the owner, and changes nothing; nobody resets themselves', async () => {
    const owner = await admin(org.id, 'owner');
    const target = await admin(org.id, 'compliance');
    for (const stepUp of ['not my password at all', '000000', '']) {
      const res = await post(owner.cookie, { intent: 'reset_factors', adminId: target.adminId, stepUp });
      expect(res.status, stepUp).toBe(400);
      const html = await res.text();
      expect(html).toContain(`id="stepUp-${target.adminId}-error"`);
      expect(html).toContain('aria-invalid="true"');
    }
    expect(await db.select().from(adminTotpFactors).where(eq(adminTotpFactors.adminId, target.adminId))).toHaveLength(1);
    expect(await liveSessions(target.adminId)).toHaveLength(1);
    const [self] = await db.select().from(admins).where(eq(admins.id, owner.adminId));
    expect(self!.failedSignIns).toBeGreaterThanOrEqual(1);
    const failures = await db.select().from(auditEvents).where(and(eq(auditEvents.action, 'admin.sign_in.failed'), eq(auditEvents.subjectId, owner.adminId)));
    expect(failures.map((f) => (f.details as { stage: string }).stage)).toContain('step_up');

    const own = await post(owner.cookie, { intent: 'reset_factors', adminId: owner.adminId, stepUp: PASSWORD });
    expect(own.status).toBe(400);
    expect(await db.select().from(adminTotpFactors).where(eq(adminTotpFactors.adminId, owner.adminId))).toHaveLength(1);
  });

  it('EN3: support, compliance and marketer are refused (403); another organisation’s admin is not found (404) and keeps their factors', async () => {
    const target = await admin(org.id, 'support');
    for (const role of ['support', 'compliance', 'marketer'] as const) {
      const a = await admin(org.id, role);
      expect((await post(a.cookie, { intent: 'reset_factors', adminId: target.adminId, stepUp: PASSWORD })).status, role).toBe(403);
    }
    const otherOrg = await createTestOrganisation(handle, 'Other Factor Clinic');
    const foreignOwner = await admin(otherOrg.id, 'owner');
    const res = await post(foreignOwner.cookie, { intent: 'reset_factors', adminId: target.adminId, stepUp: PASSWORD }, otherOrg.slug);
    expect(res.status).toBe(404);
    // And an owner of this organisation cannot act on it through the other organisation's URL.
    const owner = await admin(org.id, 'owner');
    expect((await post(owner.cookie, { intent: 'reset_factors', adminId: target.adminId, stepUp: PASSWORD }, otherOrg.slug)).status).not.toBe(200);
    expect(await db.select().from(adminTotpFactors).where(eq(adminTotpFactors.adminId, target.adminId))).toHaveLength(1);
    expect(await liveSessions(target.adminId)).toHaveLength(1);
  });
});
