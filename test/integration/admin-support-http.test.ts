// Patient support over real HTTP (issue 8, role "support"): find a patient by exact contact or reference, see a
// sign-in lock and unlock it (OT4), audited; masked contact points only; other roles and organisations refused (EN3).
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, codeThrottles, contactPoints } from '../../db/schema/index';
import { keyedHash } from '../../server/identity/codes';
import { createTestAdmin } from '../support/admin';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
let support: Awaited<ReturnType<typeof createTestAdmin>>;

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Support Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Support Clinic');
  support = await createTestAdmin(db, org.id, 'support');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const post = (cookie: string, fields: [string, string][], slug = org.slug) =>
  dev.fetch(`/admin/${slug}/support`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3999', 'x-forwarded-host': 'localhost:3999', cookie },
    body: new URLSearchParams(fields).toString(),
  });

async function lock(orgId: string, email: string) {
  const targetHash = keyedHash(dev.config.secrets.CODE_HMAC_SECRET, orgId, 'email', email);
  await db.insert(codeThrottles).values({ orgId, targetHash, consecutiveFailures: 100, lockedUntil: new Date(Date.now() + 3_600_000) });
  return targetHash;
}

describe('patient support', () => {
  it('OT4: support finds a locked patient by email, sees the lock with a masked address, unlocks it, and the unlock is audited', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    const targetHash = await lock(org.id, email);
    const found = await post(support.cookie, [['intent', 'search'], ['query', email.toUpperCase()]]);
    expect(found.status).toBe(200);
    const html = await found.text();
    expect(html).toContain(patient.displayName);
    expect(html).toContain('Locked until');
    expect(html).not.toContain(email); // masked: p•••@example.com
    expect(html).toContain(`${email.slice(0, 1)}•••@example.com`);

    const [point] = await db.select().from(contactPoints).where(and(eq(contactPoints.orgId, org.id), eq(contactPoints.patientId, patient.id)));
    const unlocked = await post(support.cookie, [['intent', 'unlock'], ['contactPointId', point!.id]]);
    expect(unlocked.status).toBe(200);
    expect(await unlocked.text()).toContain('Not locked');
    const [throttle] = await db.select().from(codeThrottles).where(and(eq(codeThrottles.orgId, org.id), eq(codeThrottles.targetHash, targetHash)));
    expect(throttle).toMatchObject({ consecutiveFailures: 0, lockedUntil: null });
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'support.sign_in_unlocked')));
    expect(event).toMatchObject({ actorType: 'admin', actorId: support.adminId, subjectId: patient.id });
    expect(JSON.stringify(event!.details)).not.toContain(email);
  });

  it('finds by exact patient reference; an empty search is a 400; no match says so', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    expect(await (await post(support.cookie, [['intent', 'search'], ['query', patient.externalRef]])).text()).toContain(patient.displayName);
    const empty = await post(support.cookie, [['intent', 'search'], ['query', '  ']]);
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('id="query-error"');
    expect(await (await post(support.cookie, [['intent', 'search'], ['query', 'nobody@example.com']])).text()).toContain('No patient matches exactly.');
  });

  it('EN3: another organisation’s patient is not found and its contact point cannot be unlocked; marketer and compliance are refused', async () => {
    const { patient, email } = await createTestPatient(handle, otherOrg.id);
    const targetHash = await lock(otherOrg.id, email);
    const html = await (await post(support.cookie, [['intent', 'search'], ['query', email]])).text();
    expect(html).not.toContain(patient.displayName);
    const [point] = await db.select().from(contactPoints).where(and(eq(contactPoints.orgId, otherOrg.id), eq(contactPoints.patientId, patient.id)));
    expect((await post(support.cookie, [['intent', 'unlock'], ['contactPointId', point!.id]])).status).toBe(404);
    const [throttle] = await db.select().from(codeThrottles).where(and(eq(codeThrottles.orgId, otherOrg.id), eq(codeThrottles.targetHash, targetHash)));
    expect(throttle!.consecutiveFailures).toBe(100);
    for (const role of ['marketer', 'compliance'] as const) {
      const admin = await createTestAdmin(db, org.id, role);
      expect((await post(admin.cookie, [['intent', 'search'], ['query', email]])).status, role).toBe(403);
    }
  });
});
