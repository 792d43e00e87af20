// Admin sign-in over real HTTP against the real database (issue 8 part 1): password + TOTP or passkey, replay,
// lockout, enumeration, invitations, password reset, role guards (EN3) and timeouts (SE2).
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminInvitations, adminPasswordResets, admins, adminSignInAttempts, adminTotpFactors, auditEvents, sessions } from '../../db/schema/index';
import { pruneAdminSignInState } from '../../server/admin/maintenance';
import { finishAdminPasskeyRegistration, startAdminPasskeyRegistration } from '../../server/admin/admin-passkeys';
import { hashPassword } from '../../server/admin/passwords';
import type { AdminRole } from '../../server/admin/roles';
import { ADMIN_ABSOLUTE_MS, ADMIN_IDLE_MS, createAdminSession, getAdminSession } from '../../server/admin/sessions';
import { checkTotp, newTotpSecret, sealAdminTotpSecret, TOTP_PERIOD_SECONDS, totpCode } from '../../server/admin/totp';
import { sha256 } from '../../server/identity/codes';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { vaultRing, type KekRing } from '../../server/messages/vault';
import { createTestAdmin } from '../support/admin';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { mailSnapshot } from '../support/mailbox';
import { SoftAuthenticator } from '../support/soft-authenticator';

const handle = testDatabase();
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
let ring: KekRing;
let passwordHash: string;
const PASSWORD = 'quiet-river-lantern-42';
const ORIGIN = 'http://localhost:3999';

beforeAll(async () => {
  dev = await startTestServer();
  ring = vaultRing(dev.config);
  org = await createTestOrganisation(handle, 'Admin Sign-in Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Admin Clinic');
  passwordHash = await hashPassword(PASSWORD); // once: argon2id is slow on purpose
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

let counter = 0;
/** An admin who can sign in: password and a confirmed authenticator app. */
async function makeAdmin(role: AdminRole = 'owner', orgId = org.id) {
  const secret = newTotpSecret();
  const email = `admin-${++counter}-${Math.random().toString(36).slice(2, 8)}@clinic.example`;
  const [admin] = await handle.db.insert(admins).values({ orgId, email, name: `Admin ${counter}`, role, passwordHash }).returning({ id: admins.id });
  await handle.db.insert(adminTotpFactors).values({ orgId, adminId: admin!.id, secret: sealAdminTotpSecret(ring, orgId, admin!.id, secret), confirmedAt: new Date() });
  return { id: admin!.id, email, secret, orgId };
}

function cookieFrom(res: Response, name: string): string | undefined {
  const header = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  const value = header?.split(';')[0]!.slice(name.length + 1);
  return value ? `${name}=${value}` : undefined;
}

const formHeaders = (cookie?: string) => ({
  'content-type': 'application/x-www-form-urlencoded',
  origin: ORIGIN,
  'sec-fetch-site': 'same-origin',
  'x-forwarded-host': 'localhost:3999',
  ...(cookie ? { cookie } : {}),
});
const jsonHeaders = (cookie?: string) => ({ ...formHeaders(cookie), 'content-type': 'application/json' });

function post(pathname: string, body: Record<string, string>, cookie?: string) {
  return dev.fetch(pathname, { method: 'POST', headers: formHeaders(cookie), body: new URLSearchParams(body).toString() });
}
function postJson(pathname: string, body: unknown, cookie?: string) {
  return dev.fetch(pathname, { method: 'POST', headers: jsonHeaders(cookie), body: JSON.stringify(body) });
}

async function passwordStep(email: string, password = PASSWORD, slug = org.slug) {
  const res = await post(`/admin/${slug}/sign-in`, { email, password });
  return { res, attempt: cookieFrom(res, 'carepost_admin_attempt') };
}

async function codeStep(attempt: string | undefined, code: string, slug = org.slug) {
  const res = await post(`/admin/${slug}/sign-in/verify`, { code }, attempt);
  return { res, session: cookieFrom(res, 'carepost_admin') };
}

const usedSteps = new Map<string, number>();
/** A code for a step this secret has not used yet in these tests: waits for the next step if it has. */
async function freshCode(secret: string) {
  const step = Math.floor(Date.now() / (TOTP_PERIOD_SECONDS * 1000));
  if ((usedSteps.get(secret) ?? -1) >= step) await new Promise((r) => setTimeout(r, (step + 1) * TOTP_PERIOD_SECONDS * 1000 - Date.now() + 100));
  usedSteps.set(secret, Math.floor(Date.now() / (TOTP_PERIOD_SECONDS * 1000)));
  return totpCode(secret, new Date());
}

async function signIn(admin: { email: string; secret: string }) {
  const { attempt } = await passwordStep(admin.email);
  const { res, session } = await codeStep(attempt, await freshCode(admin.secret));
  expect(res.status).toBe(303);
  return session!;
}

async function auditOf(orgId: string, action: string) {
  return handle.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, action)));
}

/** The page body without what legitimately differs between two requests (the echoed email, the nonce). */
function comparable(body: string, email: string) {
  return body.replaceAll(email, 'EMAIL').replace(/nonce="[^"]+"/g, 'nonce').replace(/"nonce":"[^"]+"/g, 'nonce');
}

describe('admin sign-in: password and authentication code', () => {
  it('AU1, SE1: the right password then the right code makes a session; both steps are audited, with no secrets', async () => {
    const admin = await makeAdmin('compliance');
    const { res, attempt } = await passwordStep(admin.email);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in/verify`);
    expect(attempt).toBeDefined();
    const page = await dev.fetch(`/admin/${org.slug}/sign-in/verify`, { headers: { cookie: attempt! } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Authentication code');

    const code = await freshCode(admin.secret);
    const done = await codeStep(attempt, code);
    expect(done.res.status).toBe(303);
    expect(done.res.headers.get('location')).toBe(`/admin/${org.slug}`);
    const home = await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: done.session! } });
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Welcome, Admin');

    const succeeded = await auditOf(org.id, 'admin.sign_in.succeeded');
    expect(succeeded.some((e) => e.subjectId === admin.id && (e.details as { method: string }).method === 'password_totp')).toBe(true);
    const everything = JSON.stringify(await handle.db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id)));
    expect(everything).not.toContain(admin.secret);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(code);
    expect(everything).not.toContain(admin.email);
  });

  it('EN1: a wrong password, an unknown email, a disabled admin and a locked admin get the same 400 answer', async () => {
    const admin = await makeAdmin();
    const disabled = await makeAdmin();
    await handle.db.update(admins).set({ disabledAt: new Date() }).where(eq(admins.id, disabled.id));
    const locked = await makeAdmin();
    await handle.db.update(admins).set({ lockedUntil: new Date(Date.now() + 60_000) }).where(eq(admins.id, locked.id));

    const answers = [
      { email: admin.email, res: (await passwordStep(admin.email, 'not-the-password-at-all')).res },
      { email: 'nobody-here@clinic.example', res: (await passwordStep('nobody-here@clinic.example')).res },
      { email: disabled.email, res: (await passwordStep(disabled.email)).res },
      { email: locked.email, res: (await passwordStep(locked.email)).res },
    ];
    const bodies = [];
    for (const a of answers) {
      expect(a.res.status).toBe(400);
      expect(cookieFrom(a.res, 'carepost_admin_attempt')).toBeUndefined();
      bodies.push(comparable(await a.res.text(), a.email));
    }
    expect(bodies[0]).toContain('do not match an admin account here');
    expect(new Set(bodies).size).toBe(1);
    const failed = await auditOf(org.id, 'admin.sign_in.failed');
    expect(failed.some((e) => (e.details as { reason: string }).reason === 'unknown_account' && e.subjectId === null)).toBe(true);
  });

  it('bad input is a 400 with field errors, and nothing is counted', async () => {
    const res = await post(`/admin/${org.slug}/sign-in`, { email: 'not an email', password: '' });
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain('Enter an email address like name@example.com.');
    expect(body).toContain('Enter your password.');
    expect(body).toContain('aria-describedby="email-error"');
    const admin = await makeAdmin();
    const { attempt } = await passwordStep(admin.email);
    const bad = await codeStep(attempt, '12ab');
    expect(bad.res.status).toBe(400);
    expect(await bad.res.text()).toContain('Enter the 6-digit code your authenticator app shows now.');
    const [row] = await handle.db.select().from(admins).where(eq(admins.id, admin.id));
    expect(row!.failedSignIns).toBe(0);
    // Without an attempt there is nothing to answer: back to the start.
    expect((await codeStep(undefined, '123456')).res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in?notice=expired`);
  });

  it('TOTP replay refused', async () => {
    const admin = await makeAdmin();
    const code = await freshCode(admin.secret);
    const first = await passwordStep(admin.email);
    expect((await codeStep(first.attempt, code)).res.status).toBe(303);
    // The same code again, in a new sign-in within its 30 seconds: refused.
    const second = await passwordStep(admin.email);
    const replay = await codeStep(second.attempt, code);
    expect(replay.res.status).toBe(400);
    expect(replay.session).toBeUndefined();
    expect(await replay.res.text()).toContain('already used');
    const failed = await auditOf(org.id, 'admin.sign_in.failed');
    expect(failed.some((e) => e.subjectId === admin.id && (e.details as { reason: string }).reason === 'replayed')).toBe(true);
  });

  it('TOTP replay refused: two concurrent submissions of one code, only one wins', async () => {
    const admin = await makeAdmin();
    const a = await passwordStep(admin.email);
    const b = await passwordStep(admin.email);
    const code = await freshCode(admin.secret);
    const [one, two] = await Promise.all([codeStep(a.attempt, code), codeStep(b.attempt, code)]);
    expect([one.res.status, two.res.status].sort()).toEqual([303, 400]);
    expect([one.session, two.session].filter(Boolean)).toHaveLength(1);
  });

  it('TOTP replay refused: at the function level, a code (or an older one) is never accepted twice, even in parallel', async () => {
    const admin = await makeAdmin();
    const now = new Date(Math.floor(Date.now() / 30_000) * 30_000 + 10_000);
    const code = await totpCode(admin.secret, now);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => handle.db.transaction((tx) => checkTotp(tx, ring, { orgId: org.id, adminId: admin.id, code, now }))),
    );
    expect(results.filter((r) => r.status === 'accepted')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'replayed')).toHaveLength(3);
    // One step earlier is inside the ±1 window, but older than the accepted step: refused too.
    const older = await totpCode(admin.secret, new Date(now.getTime() - TOTP_PERIOD_SECONDS * 1000));
    expect((await handle.db.transaction((tx) => checkTotp(tx, ring, { orgId: org.id, adminId: admin.id, code: older, now }))).status).toBe('replayed');
    // The next step's code is fine; two steps ahead is outside the window.
    const next = await totpCode(admin.secret, new Date(now.getTime() + TOTP_PERIOD_SECONDS * 1000));
    expect((await handle.db.transaction((tx) => checkTotp(tx, ring, { orgId: org.id, adminId: admin.id, code: next, now }))).status).toBe('accepted');
    const far = await totpCode(admin.secret, new Date(now.getTime() + 3 * TOTP_PERIOD_SECONDS * 1000));
    expect((await handle.db.transaction((tx) => checkTotp(tx, ring, { orgId: org.id, adminId: admin.id, code: far, now }))).status).toBe('wrong');
    // The secret is sealed for this admin: copied to another admin's row, it does not open.
    const other = await makeAdmin();
    const [row] = await handle.db.select().from(adminTotpFactors).where(eq(adminTotpFactors.adminId, admin.id));
    await handle.db.update(adminTotpFactors).set({ secret: row!.secret }).where(eq(adminTotpFactors.adminId, other.id));
    await expect(handle.db.transaction((tx) => checkTotp(tx, ring, { orgId: org.id, adminId: other.id, code: next, now }))).rejects.toThrow(/vault/);
  });

  it('lockout: five wrong passwords lock the account; the right password then gets the same answer until the lock ends', async () => {
    const admin = await makeAdmin();
    for (let i = 0; i < 5; i++) expect((await passwordStep(admin.email, `wrong-password-${i}-xx`)).res.status).toBe(400);
    const [row] = await handle.db.select().from(admins).where(eq(admins.id, admin.id));
    expect(row!.failedSignIns).toBe(5);
    expect(row!.lockedUntil!.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect((await auditOf(org.id, 'admin.sign_in.locked')).some((e) => e.subjectId === admin.id)).toBe(true);
    const refused = await passwordStep(admin.email);
    expect(refused.res.status).toBe(400);
    expect(refused.attempt).toBeUndefined();
    // The lock runs out: the right password works again, and a full sign-in clears the count.
    await handle.db.update(admins).set({ lockedUntil: new Date(Date.now() - 1000) }).where(eq(admins.id, admin.id));
    await signIn(admin);
    const [after] = await handle.db.select().from(admins).where(eq(admins.id, admin.id));
    expect(after!.failedSignIns).toBe(0);
  });

  it('lockout: wrong authentication codes count too, and five end the attempt', async () => {
    const admin = await makeAdmin();
    const { attempt } = await passwordStep(admin.email);
    const right = await freshCode(admin.secret);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 4; i++) {
      const res = (await codeStep(attempt, wrong)).res;
      expect(res.status).toBe(400);
      expect(await res.text()).toContain(`${4 - i} ${i === 3 ? 'try' : 'tries'} left`);
    }
    const fifth = (await codeStep(attempt, wrong)).res;
    expect(fifth.status).toBe(303);
    expect(fifth.headers.get('location')).toBe(`/admin/${org.slug}/sign-in?notice=paused`);
    expect((await auditOf(org.id, 'admin.sign_in.locked')).some((e) => e.subjectId === admin.id)).toBe(true);
    // Locked now: even the right code does not sign in, and the page does not take it.
    const after = await codeStep(attempt, right);
    expect(after.session).toBeUndefined();
  });
});

describe('admin sign-in: passkeys', () => {
  async function withPasskey(admin: { id: string; email: string }) {
    const authenticator = new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN });
    const started = await startAdminPasskeyRegistration({ db: handle.db, orgId: org.id, admin: { ...admin, name: 'A' }, rp: { id: 'localhost', name: 'x' }, now: new Date() });
    const added = await finishAdminPasskeyRegistration({
      db: handle.db,
      orgId: org.id,
      adminId: admin.id,
      challengeId: started.challengeId,
      response: authenticator.register(started.options),
      expectedOrigins: [ORIGIN],
      rpId: 'localhost',
      name: 'Laptop',
      now: new Date(),
    });
    expect(added.status).toBe('added');
    return authenticator;
  }

  async function passkeyCeremony(authenticator: SoftAuthenticator, step: 'only' | 'second', cookie?: string) {
    const res = await postJson(`/admin/${org.slug}/sign-in/passkey`, { intent: 'options', step }, cookie);
    expect(res.status).toBe(200);
    const challenge = cookieFrom(res, 'carepost_admin_webauthn')!;
    const { options } = (await res.json()) as { options: Parameters<SoftAuthenticator['authenticate']>[0] & { allowCredentials: { id: string }[] } };
    const response = authenticator.authenticate(options);
    const done = await postJson(`/admin/${org.slug}/sign-in/passkey`, { intent: 'finish', step, response }, [challenge, cookie].filter(Boolean).join('; '));
    return { done, options };
  }

  it('a passkey alone signs an admin in (both factors), without a username; its challenge works once (PK1)', async () => {
    const admin = await makeAdmin('marketer');
    const authenticator = await withPasskey(admin);
    const { done } = await passkeyCeremony(authenticator, 'only');
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ location: `/admin/${org.slug}` });
    const session = cookieFrom(done, 'carepost_admin')!;
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: session } })).status).toBe(200);
    const [row] = await handle.db.select().from(sessions).where(eq(sessions.idHash, sha256(session.split('=')[1]!)));
    expect(row!.verificationMethod).toBe('passkey');
  });

  it('a passkey as the second step: only that admin’s passkeys are offered, and the attempt is used up', async () => {
    const admin = await makeAdmin();
    const authenticator = await withPasskey(admin);
    const { attempt } = await passwordStep(admin.email);
    const page = await dev.fetch(`/admin/${org.slug}/sign-in/verify`, { headers: { cookie: attempt! } });
    expect(await page.text()).toContain('Authentication code');
    const { done, options } = await passkeyCeremony(authenticator, 'second', attempt);
    expect(options.allowCredentials).toHaveLength(1);
    expect(done.status).toBe(200);
    expect(cookieFrom(done, 'carepost_admin')).toBeDefined();
    const after = await codeStep(attempt, '123456'); // the attempt is used up: back to sign-in
    expect(after.res.status).toBe(303);
    expect(after.res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in?notice=expired`);
  });

  it('a disabled admin’s passkey does not sign in', async () => {
    const admin = await makeAdmin();
    const authenticator = await withPasskey(admin);
    await handle.db.update(admins).set({ disabledAt: new Date() }).where(eq(admins.id, admin.id));
    const { done } = await passkeyCeremony(authenticator, 'only');
    expect(done.status).toBe(400);
    expect(cookieFrom(done, 'carepost_admin')).toBeUndefined();
  });

  it('adding a passkey needs a sign-in from the last 15 minutes', async () => {
    const { cookie } = await createTestAdmin(handle.db, org.id, 'support', new Date(Date.now() - 16 * 60_000));
    // Keep the session alive but old: only verified_at is old.
    await handle.db.update(sessions).set({ lastSeenAt: new Date() }).where(eq(sessions.idHash, sha256(cookie.split('=')[1]!)));
    const stale = await postJson(`/admin/${org.slug}/account/passkey`, { intent: 'options' }, cookie);
    expect(stale.status).toBe(401);
    const fresh = await createTestAdmin(handle.db, org.id, 'support');
    const ok = await postJson(`/admin/${org.slug}/account/passkey`, { intent: 'options' }, fresh.cookie);
    expect(ok.status).toBe(200);
    const { options } = (await ok.json()) as { options: { rp: { id: string }; authenticatorSelection: { userVerification: string } } };
    expect(options.rp.id).toBe('localhost');
    expect(options.authenticatorSelection.userVerification).toBe('required');
  });
});

describe('admin access: disabled admins, sign-out, timeouts', () => {
  it('a disabled admin is refused and their sessions are dead at once (AU1)', async () => {
    const owner = await makeAdmin('owner');
    const ownerSession = await signIn(owner);
    const victim = await makeAdmin('support');
    const victimSession = await signIn(victim);
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: victimSession } })).status).toBe(200);
    const res = await post(`/admin/${org.slug}/team`, { intent: 'disable', adminId: victim.id }, ownerSession);
    expect(res.status).toBe(200);
    const after = await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: victimSession } });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe(`/admin/${org.slug}/sign-in`);
    const live = await handle.db.select().from(sessions).where(and(eq(sessions.adminId, victim.id), sql`${sessions.revokedAt} is null`));
    expect(live).toHaveLength(0);
    expect((await passwordStep(victim.email)).res.status).toBe(400);
    expect((await auditOf(org.id, 'admin.disabled')).some((e) => e.subjectId === victim.id && e.actorId === owner.id)).toBe(true);
  });

  it('SE3: sign-out ends the session, clears the site data and goes to sign-in; GET changes nothing', async () => {
    const admin = await makeAdmin('support');
    const session = await signIn(admin);
    const get = await dev.fetch(`/admin/${org.slug}/sign-out`, { headers: { cookie: session } });
    expect(get.status).toBe(303);
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: session } })).status).toBe(200);
    const res = await post(`/admin/${org.slug}/sign-out`, {}, session);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in?notice=signed-out`);
    expect(res.headers.get('clear-site-data')).toBe('"cache", "cookies", "storage"');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('carepost_admin=;') && c.includes('Max-Age=0'))).toBe(true);
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: session } })).status).toBe(303);
  });

  it('SE2: the admin session ends after 15 idle minutes and after 8 hours whatever happens', async () => {
    const idle = (await createTestAdmin(handle.db, org.id, 'support')).cookie;
    const idleHash = sha256(idle.split('=')[1]!);
    await handle.db.update(sessions).set({ lastSeenAt: new Date(Date.now() - ADMIN_IDLE_MS - 1000) }).where(eq(sessions.idHash, idleHash));
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: idle } })).status).toBe(303);
    const [ended] = await handle.db.select().from(sessions).where(eq(sessions.idHash, idleHash));
    expect(ended!.revokedAt).not.toBeNull();

    const absolute = (await createTestAdmin(handle.db, org.id, 'support')).cookie;
    const absoluteHash = sha256(absolute.split('=')[1]!);
    await handle.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000), lastSeenAt: new Date() }).where(eq(sessions.idHash, absoluteHash));
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: absolute } })).status).toBe(303);

    // With the clock passed in: alive while used within 15 minutes, dead at 8 hours however busy.
    const { cookie } = await createTestAdmin(handle.db, org.id, 'support');
    const token = cookie.split('=')[1]!;
    const [row] = await handle.db.select().from(sessions).where(eq(sessions.idHash, sha256(token)));
    const start = row!.createdAt.getTime();
    for (let t = start + ADMIN_IDLE_MS - 1000; t < start + ADMIN_ABSOLUTE_MS; t += ADMIN_IDLE_MS - 1000) {
      expect(await getAdminSession(handle.db, org.id, token, new Date(t))).toBeDefined();
    }
    expect(await getAdminSession(handle.db, org.id, token, new Date(start + ADMIN_ABSOLUTE_MS))).toBeUndefined();
  });
});

describe('invitations', () => {
  async function invite(role: AdminRole = 'marketer') {
    const owner = await createTestAdmin(handle.db, org.id, 'owner');
    const email = `invitee-${Math.random().toString(36).slice(2, 8)}@clinic.example`;
    const ignore = await mailSnapshot(dev.dataDir);
    const res = await post(`/admin/${org.slug}/team`, { intent: 'invite', name: 'New Person', email, role }, owner.cookie);
    expect(res.status).toBe(200);
    const link = await waitForInvitation(email, ignore);
    const [admin] = await handle.db.select().from(admins).where(and(eq(admins.orgId, org.id), eq(admins.email, email)));
    return { owner, email, link, path: new URL(link).pathname, token: new URL(link).pathname.split('/').pop()!, adminId: admin!.id };
  }

  async function waitForInvitation(to: string, ignore: Set<string>) {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      for (const summary of await listMail(dev.dataDir)) {
        if (!summary.to.includes(to) || ignore.has(summary.id)) continue;
        const match = /(http\S+\/invite\/[A-Za-z0-9_-]{43})/.exec((await readMail(dev.dataDir, summary.id))?.text ?? '');
        if (match) return match[1]!;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no invitation mail for ${to}`);
  }

  it('AU1: an invitation is accepted with a password and a confirmed authenticator app, then works only once', async () => {
    const { owner, path, adminId } = await invite('compliance');
    const first = await dev.fetch(path);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('Accept your invitation');

    const weak = await post(path, { intent: 'password', password: 'short', confirm: 'short' });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('Use at least 12 characters');
    const mismatch = await post(path, { intent: 'password', password: PASSWORD, confirm: `${PASSWORD}x` });
    expect(mismatch.status).toBe(400);

    const chosen = await post(path, { intent: 'password', password: PASSWORD, confirm: PASSWORD });
    expect(chosen.status).toBe(303);
    const enrol = cookieFrom(chosen, 'carepost_admin_enrol')!;
    // Nothing about the admin changes before the app is confirmed.
    const [pending] = await handle.db.select().from(admins).where(eq(admins.id, adminId));
    expect(pending!.passwordHash).toBeNull();

    const page = await (await dev.fetch(path, { headers: { cookie: enrol } })).text();
    expect(page).toContain('Add an authenticator app');
    const grouped = /class="fingerprint">([A-Z2-7 ]{39})</.exec(page)![1]!;
    const secret = grouped.replaceAll(' ', '');
    expect(page).toContain(`otpauth://totp/`);
    // Without the enrolment cookie (another browser), the link shows the password step, not the secret.
    expect(await (await dev.fetch(path)).text()).not.toContain(grouped);

    const wrong = await post(path, { intent: 'confirm', code: (await totpCode(secret, new Date())) === '000000' ? '111111' : '000000' }, enrol);
    expect(wrong.status).toBe(400);
    const accepted = await post(path, { intent: 'confirm', code: await totpCode(secret, new Date()) }, enrol);
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe(`/admin/${org.slug}`);
    const session = cookieFrom(accepted, 'carepost_admin')!;
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: session } })).status).toBe(200);

    // Used: the same link is dead, also with the enrolment cookie.
    expect((await dev.fetch(path, { headers: { cookie: enrol } })).status).toBe(404);
    expect((await post(path, { intent: 'password', password: PASSWORD, confirm: PASSWORD })).status).toBe(404);
    expect((await auditOf(org.id, 'admin.invited')).some((e) => e.subjectId === adminId && e.actorId === owner.adminId)).toBe(true);
    expect((await auditOf(org.id, 'admin.invitation.accepted')).some((e) => e.subjectId === adminId)).toBe(true);
    expect((await auditOf(org.id, 'admin.totp.enrolled')).some((e) => e.subjectId === adminId)).toBe(true);
  });

  it('an expired, forged or other organisation’s invitation link gets the same 404 page', async () => {
    const expired = await invite();
    await handle.db.update(adminInvitations).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(adminInvitations.adminId, expired.adminId));
    const answers = [
      await dev.fetch(expired.path),
      await dev.fetch(`/admin/${org.slug}/invite/${'A'.repeat(43)}`),
      await dev.fetch(`/admin/${org.slug}/invite/not-a-token`),
    ];
    const foreign = await invite();
    answers.push(await dev.fetch(`/admin/${otherOrg.slug}/invite/${foreign.token}`));
    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('This invitation link does not work');
    }
    // The foreign token still works in its own organisation: it was refused only because of where it was used (EN3).
    expect((await dev.fetch(foreign.path)).status).toBe(200);
    expect((await post(`/admin/${otherOrg.slug}/invite/${foreign.token}`, { intent: 'password', password: PASSWORD, confirm: PASSWORD })).status).toBe(404);
  });

  it('a new invitation replaces the old link; an invited admin cannot sign in before accepting', async () => {
    const first = await invite();
    expect((await passwordStep(first.email)).res.status).toBe(400);
    const ignore = await mailSnapshot(dev.dataDir);
    const res = await post(`/admin/${org.slug}/team`, { intent: 'reinvite', adminId: first.adminId }, first.owner.cookie);
    expect(res.status).toBe(200);
    const link = await waitForInvitation(first.email, ignore);
    expect((await dev.fetch(first.path)).status).toBe(404);
    expect((await dev.fetch(new URL(link).pathname)).status).toBe(200);
  });
});

describe('password reset by emailed code', () => {
  async function waitForResetCode(to: string, ignore: Set<string>) {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      for (const summary of await listMail(dev.dataDir)) {
        if (!summary.to.includes(to) || ignore.has(summary.id)) continue;
        const match = /password is (\d{6})/.exec((await readMail(dev.dataDir, summary.id))?.text ?? '');
        if (match) return match[1]!;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no reset mail for ${to}`);
  }

  it('EN1: asking for a code answers the same for an unknown address, and sends nothing', async () => {
    const admin = await makeAdmin();
    const ignore = await mailSnapshot(dev.dataDir);
    const known = await post(`/admin/${org.slug}/reset`, { email: admin.email });
    const unknown = await post(`/admin/${org.slug}/reset`, { email: 'nobody-else@clinic.example' });
    for (const res of [known, unknown]) {
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`/admin/${org.slug}/reset/code`);
      expect(cookieFrom(res, 'carepost_admin_reset')).toBeDefined();
    }
    await waitForResetCode(admin.email, ignore);
    const mail = await listMail(dev.dataDir);
    expect(mail.some((m) => m.to.includes('nobody-else@clinic.example'))).toBe(false);
    const cookie = cookieFrom(unknown, 'carepost_admin_reset')!;
    const tried = await post(`/admin/${org.slug}/reset/code`, { code: '123456', password: 'a-brand-new-passphrase', confirm: 'a-brand-new-passphrase' }, cookie);
    expect(tried.status).toBe(400);
    expect(await tried.text()).toContain('That code is not right');
  });

  it('a reset code that is wrong or expired is refused; the right one sets the password and ends every session', async () => {
    const admin = await makeAdmin();
    const session = await signIn(admin);
    const ignore = await mailSnapshot(dev.dataDir);
    const asked = await post(`/admin/${org.slug}/reset`, { email: admin.email });
    const cookie = cookieFrom(asked, 'carepost_admin_reset')!;
    const code = await waitForResetCode(admin.email, ignore);
    const newPassword = 'another-long-passphrase';
    const body = (c: string) => ({ code: c, password: newPassword, confirm: newPassword });

    const weak = await post(`/admin/${org.slug}/reset/code`, { code, password: 'short', confirm: 'short' }, cookie);
    expect(weak.status).toBe(400);
    const wrong = await post(`/admin/${org.slug}/reset/code`, body(code === '000000' ? '111111' : '000000'), cookie);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('4 tries left');

    await handle.db.update(adminPasswordResets).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(adminPasswordResets.adminId, admin.id));
    const expired = await post(`/admin/${org.slug}/reset/code`, body(code), cookie);
    expect(expired.status).toBe(400);
    expect(await expired.text()).toContain('expired');
    await handle.db.update(adminPasswordResets).set({ expiresAt: new Date(Date.now() + 60_000) }).where(eq(adminPasswordResets.adminId, admin.id));

    const done = await post(`/admin/${org.slug}/reset/code`, body(code), cookie);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/admin/${org.slug}/sign-in?notice=reset`);
    expect((await dev.fetch(`/admin/${org.slug}`, { headers: { cookie: session } })).status).toBe(303);
    const used = await post(`/admin/${org.slug}/reset/code`, body(code), cookie);
    expect(used.status).toBe(400);
    expect(await used.text()).toContain('already used');
    // The old password no longer works; the new one still needs the second factor.
    expect((await passwordStep(admin.email)).res.status).toBe(400);
    const next = await passwordStep(admin.email, newPassword);
    expect(next.res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in/verify`);
    expect((await auditOf(org.id, 'admin.password.reset')).some((e) => e.subjectId === admin.id)).toBe(true);
  });
});

describe('EN3: every admin route guards its role and its organisation', () => {
  // Routes that need a session; the capability each needs. Sign-in, invitation and reset pages need none.
  const ROUTES: { method: 'GET' | 'POST'; path: string; capability: 'overview' | 'team'; body?: Record<string, string>; json?: unknown }[] = [
    { method: 'GET', path: '', capability: 'overview' },
    { method: 'GET', path: '/account', capability: 'overview' },
    { method: 'POST', path: '/account', capability: 'overview', body: { intent: 'nothing' } },
    { method: 'POST', path: '/account/passkey', capability: 'overview', json: { intent: 'nothing' } },
    { method: 'POST', path: '/session', capability: 'overview', body: {} },
    { method: 'GET', path: '/team', capability: 'team' },
    { method: 'POST', path: '/team', capability: 'team', body: { intent: 'invite', name: 'X', email: 'x-guard@clinic.example', role: 'owner' } },
    { method: 'POST', path: '/team', capability: 'team', body: { intent: 'role', adminId: '00000000-0000-0000-0000-000000000000', role: 'owner' } },
  ];
  const roles: AdminRole[] = ['owner', 'compliance', 'marketer', 'support'];

  function call(route: (typeof ROUTES)[number], cookie?: string, slug = org.slug) {
    const path = `/admin/${slug}${route.path}`;
    if (route.method === 'GET') return dev.fetch(path, { headers: cookie ? { cookie } : {} });
    if (route.json !== undefined) return postJson(path, route.json, cookie);
    return post(path, route.body ?? {}, cookie);
  }

  it('without a session: 303 to the admin sign-in page', async () => {
    for (const route of ROUTES) {
      const res = await call(route);
      expect(res.status, `${route.method} ${route.path}`).toBe(303);
      expect(res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in`);
    }
  });

  it('a role without the capability: 403, and nothing changes', async () => {
    const sessionsByRole = Object.fromEntries(await Promise.all(roles.map(async (r) => [r, (await createTestAdmin(handle.db, org.id, r)).cookie] as const)));
    for (const route of ROUTES) {
      for (const role of roles) {
        const res = await call(route, sessionsByRole[role]);
        const allowed = route.capability === 'overview' || role === 'owner';
        if (allowed) expect(res.status, `${role} ${route.method} ${route.path}`).not.toBe(403);
        else expect(res.status, `${role} ${route.method} ${route.path}`).toBe(403);
        expect(res.status).not.toBe(303);
      }
    }
    const invited = await handle.db.select().from(admins).where(and(eq(admins.orgId, org.id), eq(admins.email, 'x-guard@clinic.example')));
    expect(invited).toHaveLength(1); // only the owner's invitation went through
  });

  it('another organisation’s admin cookie is no session here', async () => {
    const foreign = await createTestAdmin(handle.db, otherOrg.id, 'owner');
    for (const route of ROUTES) {
      const res = await call(route, foreign.cookie);
      expect(res.status, `${route.method} ${route.path}`).toBe(303);
      expect(res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in`);
    }
    // An owner cannot reach another organisation's admins by id either.
    const owner = await createTestAdmin(handle.db, org.id, 'owner');
    const res = await post(`/admin/${org.slug}/team`, { intent: 'disable', adminId: foreign.adminId }, owner.cookie);
    expect(res.status).toBe(404);
    const [still] = await handle.db.select().from(admins).where(eq(admins.id, foreign.adminId));
    expect(still!.disabledAt).toBeNull();
  });

  it('an unknown organisation is a 404', async () => {
    expect((await dev.fetch('/admin/no-such-clinic-here/sign-in')).status).toBe(404);
    expect((await dev.fetch('/admin/no-such-clinic-here/team')).status).toBe(404);
  });
});

describe('housekeeping', () => {
  it('expired second-step attempts and reset codes are deleted a day after they expire', async () => {
    const admin = await makeAdmin();
    await passwordStep(admin.email);
    await post(`/admin/${org.slug}/reset`, { email: admin.email });
    const later = new Date(Date.now() + 2 * 86_400_000);
    await pruneAdminSignInState(handle.db, later);
    expect(await handle.db.select().from(adminSignInAttempts).where(eq(adminSignInAttempts.adminId, admin.id))).toHaveLength(0);
    expect(await handle.db.select().from(adminPasswordResets).where(eq(adminPasswordResets.adminId, admin.id))).toHaveLength(0);
  });
});

describe('team management', () => {
  it('the organisation keeps at least one active owner; owners change roles with an audit event', async () => {
    const solo = await createTestOrganisation(handle, 'Solo Owner Clinic');
    const secret = newTotpSecret();
    const [owner] = await handle.db.insert(admins).values({ orgId: solo.id, email: 'solo@clinic.example', name: 'Solo', role: 'owner', passwordHash }).returning();
    await handle.db.insert(adminTotpFactors).values({ orgId: solo.id, adminId: owner!.id, secret: sealAdminTotpSecret(ring, solo.id, owner!.id, secret), confirmedAt: new Date() });
    const { attempt } = await passwordStep('solo@clinic.example', PASSWORD, solo.slug);
    const { session } = await codeStep(attempt, await totpCode(secret, new Date()), solo.slug);

    const demote = await post(`/admin/${solo.slug}/team`, { intent: 'role', adminId: owner!.id, role: 'support' }, session);
    expect(demote.status).toBe(400);
    expect(await demote.text()).toContain('at least one active owner');
    const self = await post(`/admin/${solo.slug}/team`, { intent: 'disable', adminId: owner!.id }, session);
    expect(self.status).toBe(400);

    const second = await createTestAdmin(handle.db, solo.id, 'compliance');
    await handle.db.update(admins).set({ passwordHash }).where(eq(admins.id, second.adminId));
    expect((await post(`/admin/${solo.slug}/team`, { intent: 'role', adminId: second.adminId, role: 'owner' }, session)).status).toBe(200);
    const stepDown = await post(`/admin/${solo.slug}/team`, { intent: 'role', adminId: owner!.id, role: 'support' }, session);
    expect(stepDown.status).toBe(303);
    expect(stepDown.headers.get('location')).toBe(`/admin/${solo.slug}`);
    // Now a support agent: the team page is closed to them.
    expect((await dev.fetch(`/admin/${solo.slug}/team`, { headers: { cookie: session! } })).status).toBe(403);
    const changed = await auditOf(solo.id, 'admin.role_changed');
    expect(changed.map((e) => e.details)).toEqual(expect.arrayContaining([{ from: 'compliance', to: 'owner' }, { from: 'owner', to: 'support' }]));
    // The new owner cannot demote themselves now that they are the only one.
    expect((await post(`/admin/${solo.slug}/team`, { intent: 'role', adminId: second.adminId, role: 'marketer' }, second.cookie)).status).toBe(400);
  });

  it('invitation form errors are 400 with field errors; an address already in the team is refused', async () => {
    const owner = await createTestAdmin(handle.db, org.id, 'owner');
    const bad = await post(`/admin/${org.slug}/team`, { intent: 'invite', name: '', email: 'nope', role: 'king' }, owner.cookie);
    expect(bad.status).toBe(400);
    const body = await bad.text();
    expect(body).toContain('Enter their name');
    expect(body).toContain('Enter their email address');
    expect(body).toContain('Choose a role.');
    const dup = await post(`/admin/${org.slug}/team`, { intent: 'invite', name: 'Dup', email: owner.email, role: 'support' }, owner.cookie);
    expect(dup.status).toBe(400);
    expect(await dup.text()).toContain('already in the team');
  });

  it('changing the password needs the current one and ends the other sessions', async () => {
    const admin = await makeAdmin('marketer');
    const here = await signIn(admin);
    const elsewhere = (await handle.db.transaction((tx) => createAdminSession(tx, { orgId: org.id, adminId: admin.id, method: 'password_totp', now: new Date() }))).token;
    const wrong = await post(`/admin/${org.slug}/account`, { intent: 'change-password', current: 'not-my-password', password: 'fresh-long-passphrase', confirm: 'fresh-long-passphrase' }, here);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('That is not your current password.');
    const ok = await post(`/admin/${org.slug}/account`, { intent: 'change-password', current: PASSWORD, password: 'fresh-long-passphrase', confirm: 'fresh-long-passphrase' }, here);
    expect(ok.status).toBe(200);
    expect((await dev.fetch(`/admin/${org.slug}/account`, { headers: { cookie: here } })).status).toBe(200);
    expect((await dev.fetch(`/admin/${org.slug}/account`, { headers: { cookie: `carepost_admin=${elsewhere}` } })).status).toBe(303);
    expect((await auditOf(org.id, 'admin.password.changed')).some((e) => e.subjectId === admin.id)).toBe(true);
  });
});
