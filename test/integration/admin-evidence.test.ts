// The admin console's evidence pages over real HTTP against the real app and Postgres: topics and text versions (AV2,
// AV3, immutability), the compliance dashboard (aggregates only), the audit log (search, keyset paging, streamed CSV
// export, AU2 verify after tampering), and the role and organisation checks on each (EN3).
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, authorizationTexts, consentTopics, deliveries, messages, suppressions } from '../../db/schema/index';
import { complianceDashboard } from '../../server/admin/dashboard';
import type { AdminRole } from '../../server/admin/roles';
import { appendAudit } from '../../server/audit/chain';
import { csvCell } from '../../server/audit/search';
import { grantAuthorization, revokeAuthorization } from '../../server/consent/ledger';
import { createTopic, publishedTopic, validElements } from '../support/consent';
import { createTestAdmin } from '../support/admin';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
const admins = {} as Record<AdminRole, string>;
const ORIGIN = 'http://localhost:3999';
const DAY_MS = 86_400_000;

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Evidence Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Clinic');
  for (const role of ['owner', 'compliance', 'marketer', 'support'] as const) admins[role] = (await createTestAdmin(db, org.id, role)).cookie;
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const formHeaders = (cookie: string) => ({
  'content-type': 'application/x-www-form-urlencoded',
  origin: ORIGIN,
  'sec-fetch-site': 'same-origin',
  'x-forwarded-host': 'localhost:3999',
  cookie,
});

const get = (path: string, cookie: string) => dev.fetch(path, { headers: { cookie } });
const post = (path: string, cookie: string, fields: Record<string, string>) => dev.fetch(path, { method: 'POST', headers: formHeaders(cookie), body: new URLSearchParams(fields) });

function draftFields(elements: Record<string, string>, extra: Record<string, string> = {}) {
  return { ...elements, validForMonths: '12', ...extra };
}

/** The seq of an organisation's newest audit event (creating a test admin writes one). */
async function headSeq(orgId: string): Promise<number> {
  const [row] = await handle.sql<{ last_seq: string }[]>`select last_seq from audit_heads where org_id = ${orgId}`;
  return row ? Number(row.last_seq) : 0;
}

const evidence = { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: 'test', via: 'portal' as const };

describe('roles and organisations on the evidence pages (EN3)', () => {
  it('EN3: each page answers 403 to a role without its capability, and sends a signed-out admin to sign in', async () => {
    const { topic } = await publishedTopic(handle, org.id);
    const base = `/admin/${org.slug}`;
    const expectations: [string, AdminRole, number][] = [
      [`${base}/audit`, 'marketer', 403],
      [`${base}/audit/export.csv`, 'marketer', 403],
      [`${base}/audit`, 'support', 403],
      [`${base}/audit/export.csv`, 'support', 403],
      [`${base}/compliance`, 'support', 403],
      [`${base}/topics`, 'support', 403],
      [`${base}/topics/new`, 'support', 403],
      [`${base}/topics/${topic.id}`, 'support', 403],
      [`${base}/topics/new`, 'compliance', 403],
      [`${base}/audit`, 'compliance', 200],
      [`${base}/compliance`, 'compliance', 200],
      [`${base}/topics/${topic.id}`, 'compliance', 200],
      [`${base}/compliance`, 'marketer', 200],
      [`${base}/topics`, 'marketer', 200],
      [`${base}/topics/new`, 'marketer', 200],
      [`${base}/audit`, 'owner', 200],
    ];
    for (const [path, role, status] of expectations) {
      const res = await get(path, admins[role]);
      expect(`${role} GET ${path} → ${res.status}`).toBe(`${role} GET ${path} → ${status}`);
      await res.arrayBuffer();
    }
    const anonymous = await dev.fetch(`${base}/audit`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe(`${base}/sign-in`);
    const anonymousCsv = await dev.fetch(`${base}/audit/export.csv`);
    expect(anonymousCsv.status).toBe(303);
  });

  it('EN3: each action checks the capability of its intent: marketer cannot publish or verify, compliance cannot edit topics, support nothing', async () => {
    const topic = await createTopic(handle, org.id);
    const path = `/admin/${org.slug}/topics/${topic.id}`;
    expect((await post(path, admins.marketer, draftFields(validElements, { intent: 'draft-publish' }))).status).toBe(403);
    expect((await post(path, admins.compliance, { intent: 'topic-update', name: 'Renamed', description: 'x' })).status).toBe(403);
    expect((await post(path, admins.compliance, { intent: 'topic-retire' })).status).toBe(403);
    expect((await post(path, admins.support, draftFields(validElements, { intent: 'draft-save' }))).status).toBe(403);
    expect((await post(`/admin/${org.slug}/topics/new`, admins.compliance, { key: 'x-1', name: 'X', description: 'X' })).status).toBe(403);
    expect((await post(`/admin/${org.slug}/audit`, admins.marketer, { intent: 'verify' })).status).toBe(403);
    const texts = await db.select().from(authorizationTexts).where(and(eq(authorizationTexts.orgId, org.id), eq(authorizationTexts.topicId, topic.id)));
    expect(texts).toEqual([]);
    const [unchanged] = await db.select().from(consentTopics).where(eq(consentTopics.id, topic.id));
    expect(unchanged!.name).toBe(topic.name);
    expect(unchanged!.retiredAt).toBeNull();
  });

  it("EN3: another organisation's topic or text id is a 404, for reading and for every action", async () => {
    const { topic, text } = await publishedTopic(handle, otherOrg.id);
    const path = `/admin/${org.slug}/topics/${topic.id}`;
    expect((await get(path, admins.owner)).status).toBe(404);
    expect((await get(`/admin/${org.slug}/topics/not-a-uuid`, admins.owner)).status).toBe(404);
    for (const intent of ['draft-save', 'draft-publish', 'text-retire', 'topic-retire', 'topic-update']) {
      expect((await post(path, admins.owner, draftFields(validElements, { intent, textId: text.id, name: 'Stolen', description: 'x' }))).status).toBe(404);
    }
    // Our own topic, but the other organisation's text id: not found, and their text is untouched.
    const own = await createTopic(handle, org.id);
    const res = await post(`/admin/${org.slug}/topics/${own.id}`, admins.owner, { intent: 'text-retire', textId: text.id });
    expect(res.status).toBe(409);
    const [theirs] = await db.select().from(authorizationTexts).where(eq(authorizationTexts.id, text.id));
    expect(theirs!.status).toBe('published');
  });
});

describe('topics and text versions', () => {
  it('creates a topic, refusing a bad or duplicate key with field errors (400) and changing nothing', async () => {
    const key = `news-${Date.now().toString(36)}`;
    const bad = await post(`/admin/${org.slug}/topics/new`, admins.owner, { key: 'Bad Key!', name: '', description: 'About news.', remunerated: 'yes', thirdPartyName: '' });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain('There is a problem');
    expect(html).toMatch(/id="key-error"/);
    expect(html).toMatch(/aria-describedby="key-hint key-error"/);
    expect(html).toContain('Name the third party that pays for this marketing.');
    const created = await post(`/admin/${org.slug}/topics/new`, admins.marketer, { key, name: 'Clinic news', description: 'News from the clinic.' });
    expect(created.status).toBe(303);
    const [topic] = await db.select().from(consentTopics).where(and(eq(consentTopics.orgId, org.id), eq(consentTopics.key, key)));
    expect(created.headers.get('location')).toBe(`/admin/${org.slug}/topics/${topic!.id}?created=1`);
    const again = await post(`/admin/${org.slug}/topics/new`, admins.owner, { key, name: 'Clinic news', description: 'News from the clinic.' });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('Another topic already uses this key.');
    const [audit] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'consent.topic.created'), eq(auditEvents.subjectId, topic!.id)));
    expect(audit!.actorType).toBe('admin');
  });

  it('AV3: publishing a draft that lacks an element is refused with a field error by that field, and the draft is kept', async () => {
    const topic = await createTopic(handle, org.id);
    const path = `/admin/${org.slug}/topics/${topic.id}`;
    const { redisclosure: _missing, ...lacking } = validElements;
    const refused = await post(path, admins.compliance, draftFields({ ...lacking, redisclosure: '' }, { intent: 'draft-publish' }));
    expect(refused.status).toBe(400);
    const html = await refused.text();
    expect(html).toContain('Not published. The draft is saved');
    expect(html).toContain('<a href="#redisclosure">Say that the recipient may share the information further');
    expect(html).toMatch(/id="redisclosure-error"/);
    expect(html).toMatch(/<textarea id="redisclosure" name="redisclosure" aria-describedby="redisclosure-hint redisclosure-error" aria-invalid="true"/);
    const [draft, ...more] = await db.select().from(authorizationTexts).where(and(eq(authorizationTexts.orgId, org.id), eq(authorizationTexts.topicId, topic.id)));
    expect(more).toEqual([]);
    expect(draft!.status).toBe('draft');
    expect(draft!.elements.information).toBe(validElements.information);
    expect(draft!.body).toBeNull();

    // The patient-exact preview of the saved draft, then the fixed draft publishes.
    const page = await (await get(`${path}?version=${draft!.id}`, admins.compliance)).text();
    expect(page).toContain('Preview: exactly what patients will see');
    expect(page).toContain(`Permission for marketing: ${topic.name}`);
    const published = await post(path, admins.compliance, draftFields(validElements, { intent: 'draft-publish', textId: draft!.id }));
    expect(published.status).toBe(303);
    expect(published.headers.get('location')).toBe(`${path}?version=${draft!.id}&published=1`);
    const [row] = await db.select().from(authorizationTexts).where(eq(authorizationTexts.id, draft!.id));
    expect(row!.status).toBe('published');
    expect(row!.contentHash).toMatch(/^[0-9a-f]{64}$/);
    const actions = (await db.select({ action: auditEvents.action }).from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.subjectId, draft!.id)))).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['consent.text.draft_created', 'consent.text.draft_saved', 'consent.text.published']));
  });

  it('AV2: a paid topic needs a remuneration statement naming the payer before it can publish', async () => {
    const topic = await createTopic(handle, org.id, { remunerated: true, thirdPartyName: 'Acme Pharma' });
    const path = `/admin/${org.slug}/topics/${topic.id}`;
    const refused = await post(path, admins.owner, draftFields({ ...validElements, remuneration: 'Someone pays us to send these messages.' }, { intent: 'draft-publish' }));
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('Name who pays: Acme Pharma.');
    const ok = await post(path, admins.owner, draftFields({ ...validElements, remuneration: 'Acme Pharma pays us to send these messages.' }, { intent: 'draft-publish' }));
    expect(ok.status).toBe(303);
    // Who pays cannot change once a text is published.
    const change = await post(path, admins.owner, { intent: 'topic-update', name: topic.name, description: topic.description, thirdPartyName: '' });
    expect(change.status).toBe(400);
    expect(await change.text()).toContain('Who pays cannot change once a text is published');
  });

  it('a published version is read-only: the page offers no editor for it, the server refuses to save it, and so does the database', async () => {
    const { topic, text } = await publishedTopic(handle, org.id);
    const path = `/admin/${org.slug}/topics/${topic.id}`;
    const page = await (await get(`${path}?version=${text.id}`, admins.owner)).text();
    expect(page).toContain(`Version ${text.version}: published, read-only`);
    expect(page).toContain(text.contentHash!);
    const refused = await post(path, admins.owner, draftFields({ ...validElements, purpose: 'Something else entirely.' }, { intent: 'draft-save', textId: text.id }));
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('That version is published, so it can no longer change.');
    const [row] = await db.select().from(authorizationTexts).where(eq(authorizationTexts.id, text.id));
    expect(row!.elements).toEqual(text.elements);
    expect(row!.body).toBe(text.body);
    await expect(handle.sql`update authorization_texts set body = 'changed' where id = ${text.id}`).rejects.toThrow(/immutable/);

    // A new draft starts from the published wording and becomes version 2; retiring version 1 is audited.
    const saved = await post(path, admins.owner, draftFields({ ...validElements, purpose: 'To send you news about wellness programs. This is marketing.' }, { intent: 'draft-save' }));
    expect(saved.status).toBe(303);
    const versions = await db.select().from(authorizationTexts).where(eq(authorizationTexts.topicId, topic.id));
    expect(versions.map((v) => `${v.version}:${v.status}`).sort()).toEqual(['1:published', '2:draft']);
    const retired = await post(path, admins.owner, { intent: 'text-retire', textId: text.id });
    expect(retired.status).toBe(303);
    const [after] = await db.select().from(authorizationTexts).where(eq(authorizationTexts.id, text.id));
    expect(after!.status).toBe('retired');
    expect(after!.body).toBe(text.body);
  });
});

describe('compliance dashboard', () => {
  it('aggregates a small known dataset correctly, scoped to the organisation, and shows no patient name, address or message', async () => {
    const dash = await createTestOrganisation(handle, 'Dashboard Clinic');
    const owner = (await createTestAdmin(db, dash.id, 'owner')).cookie;
    const marketer = (await createTestAdmin(db, dash.id, 'marketer')).cookie;
    const a = await publishedTopic(handle, dash.id);
    const b = await publishedTopic(handle, dash.id);
    await db.update(consentTopics).set({ name: 'Topic B news' }).where(eq(consentTopics.id, b.topic.id));
    const now = new Date();
    const people = await Promise.all([1, 2, 3, 4].map(() => createTestPatient(handle, dash.id)));
    const grant = (i: number, t: { topic: { id: string }; text: { id: string } }, at: Date) =>
      grantAuthorization(db, { orgId: dash.id, patientId: people[i]!.patient.id, topicId: t.topic.id, textId: t.text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now: at });
    expect((await grant(0, a, new Date(now.getTime() - 14 * DAY_MS))).status).toBe('granted');
    expect((await grant(1, a, new Date(now.getTime() - DAY_MS))).status).toBe('granted');
    expect((await grant(2, a, new Date(now.getTime() - DAY_MS))).status).toBe('granted');
    expect((await grant(3, b, new Date(now.getTime() - DAY_MS))).status).toBe('granted');
    expect((await revokeAuthorization(db, { orgId: dash.id, patientId: people[2]!.patient.id, topicId: a.topic.id, evidence, now })).status).toBe('revoked');
    // Deliveries: two by PGP and one portal notice sent, one blocked, one deferred.
    const sealed = { v: 1 as const, kid: 'k', wk: 'x', iv: 'x', ct: 'x' };
    const [message] = await db.insert(messages).values({ orgId: dash.id, category: 'marketing', topicId: a.topic.id, content: sealed, createdAt: now }).returning();
    const rows: { decision: 'allow' | 'block' | 'defer'; reason: string; status: 'sent' | 'blocked' | 'queued'; route: 'pgp' | 'portal_notice' | null }[] = [
      { decision: 'allow', reason: 'authorized', status: 'sent', route: 'pgp' },
      { decision: 'allow', reason: 'authorized', status: 'sent', route: 'pgp' },
      { decision: 'allow', reason: 'authorized', status: 'sent', route: 'portal_notice' },
      { decision: 'block', reason: 'authorization_revoked', status: 'blocked', route: null },
      { decision: 'defer', reason: 'quiet_hours', status: 'queued', route: null },
    ];
    await db.insert(deliveries).values(
      rows.map((r, i) => ({ orgId: dash.id, messageId: message!.id, patientId: people[i % 4]!.patient.id, channel: i === 4 ? ('portal' as const) : ('email' as const), category: 'marketing' as const, topicId: a.topic.id, dueAt: now, createdAt: now, updatedAt: now, ...r })),
    );
    await db.insert(suppressions).values([
      { orgId: dash.id, kind: 'email', value: people[0]!.email, reason: 'hard_bounce', createdAt: now },
      { orgId: dash.id, kind: 'email', value: people[1]!.email, reason: 'hard_bounce', createdAt: now },
      { orgId: dash.id, kind: 'sms', value: '+15550001111', reason: 'sms_stop', createdAt: now },
    ]);

    const d = await complianceDashboard(db, dash.id, new Date(now.getTime() + 1000));
    expect(Object.fromEntries(d.activeByTopic.map((t) => [t.topicId, t.active]))).toEqual({ [a.topic.id]: 2, [b.topic.id]: 1 });
    expect(d.weeks).toHaveLength(12);
    const sum = (k: 'granted' | 'revoked' | 'renewed' | 'expired') => d.weeks.reduce((s, w) => s + w[k], 0);
    expect({ granted: sum('granted'), revoked: sum('revoked'), renewed: sum('renewed'), expired: sum('expired') }).toEqual({ granted: 4, revoked: 1, renewed: 0, expired: 0 });
    expect(d.weeks[11]!.revoked).toBe(1);
    expect(d.decisions).toEqual(
      expect.arrayContaining([
        { decision: 'allow', reason: 'authorized', count: 3 },
        { decision: 'block', reason: 'authorization_revoked', count: 1 },
        { decision: 'defer', reason: 'quiet_hours', count: 1 },
      ]),
    );
    expect(d.routes).toEqual([
      { route: 'pgp', count: 2 },
      { route: 'portal_notice', count: 1 },
    ]);
    expect(d.suppressions).toEqual([
      { reason: 'hard_bounce', kind: 'email', count: 2 },
      { reason: 'sms_stop', kind: 'sms', count: 1 },
    ]);
    expect(d.chain.lastVerification).toBeNull();

    for (const cookie of [owner, marketer]) {
      const res = await get(`/admin/${dash.slug}/compliance`, cookie);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('<svg');
      expect(html).not.toMatch(/<svg[^>]*\sstyle=/);
      expect(html).toContain('3 active authorisations');
      expect(html).toContain('Blocked: authorization_revoked');
      expect(html).toContain('Encrypted email (PGP)');
      expect(html).toContain('Never verified.');
      for (const p of people) {
        expect(html).not.toContain(p.patient.displayName);
        expect(html).not.toContain(p.email);
        expect(html).not.toContain(p.patient.id);
      }
      expect(html).not.toContain('+15550001111');
    }
  });
});

describe('audit log search', () => {
  it('filters by event type (exact and prefix), actor, patient and UTC day, and pages by keyset both ways', async () => {
    const o = await createTestOrganisation(handle, 'Search Clinic');
    const { cookie, adminId } = await createTestAdmin(db, o.id, 'compliance');
    const { patient } = await createTestPatient(handle, o.id);
    const k = await headSeq(o.id);
    await db.transaction(async (tx) => {
      for (let i = 0; i < 120; i++) {
        await appendAudit(tx, o.id, { actorType: 'system', action: i % 2 === 0 ? 'test.even' : 'test.odd', subjectType: 'thing', subjectId: `t${i}`, details: { n: i } });
      }
      await appendAudit(tx, o.id, { actorType: 'patient', actorId: patient.id, action: 'identity.sign_in.succeeded', subjectType: 'patient', subjectId: patient.id, details: { method: 'code_email' } });
      await appendAudit(tx, o.id, { actorType: 'system', action: 'consent.expired', subjectType: 'authorization_event', subjectId: crypto.randomUUID(), details: { patientId: patient.id } });
      await appendAudit(tx, o.id, { actorType: 'admin', actorId: adminId, action: 'consent.topic.created', subjectType: 'consent_topic', subjectId: crypto.randomUUID() });
    });
    const seqs = (html: string) => [...html.matchAll(/<tr><td class="num">(\d+)<\/td>/g)].map((m) => Number(m[1]));
    const base = `/admin/${o.slug}/audit`;

    const first = await (await get(`${base}?action=test.even`, cookie)).text();
    const page1 = seqs(first);
    expect(page1).toHaveLength(50);
    expect(page1[0]).toBe(k + 119);
    expect(page1.every((s, i) => i === 0 || s < page1[i - 1]!)).toBe(true);
    const older = first.match(/href="([^"]*before=(\d+)[^"]*)"/);
    expect(older![2]).toBe(String(page1[49]));
    const second = await (await get(older![1]!.replace(/&amp;/g, '&'), cookie)).text();
    const page2 = seqs(second);
    expect(page2).toHaveLength(10);
    expect(page2[page2.length - 1]).toBe(k + 1);
    expect(second).not.toMatch(/href="[^"]*before=/);
    const newer = second.match(/href="([^"]*after=(\d+)[^"]*)"/);
    const back = seqs(await (await get(newer![1]!.replace(/&amp;/g, '&'), cookie)).text());
    expect(back).toEqual(page1);

    expect(seqs(await (await get(`${base}?action=consent.`, cookie)).text())).toEqual([k + 123, k + 122]);
    expect(seqs(await (await get(`${base}?actorType=admin&actorId=${adminId}&action=consent.topic.created`, cookie)).text())).toEqual([k + 123]);
    expect(seqs(await (await get(`${base}?actorType=admin&actorId=${adminId}`, cookie)).text())).toEqual([k + 123, k]);
    expect(seqs(await (await get(`${base}?patientId=${patient.id}`, cookie)).text())).toEqual([k + 122, k + 121]);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + DAY_MS).toISOString().slice(0, 10);
    expect(seqs(await (await get(`${base}?from=${tomorrow}`, cookie)).text())).toEqual([]);
    expect(seqs(await (await get(`${base}?from=${today}&to=${today}&action=consent.`, cookie)).text())).toEqual([k + 123, k + 122]);
    expect(seqs(await (await get(`${base}?to=${new Date(Date.now() - DAY_MS).toISOString().slice(0, 10)}`, cookie)).text())).toEqual([]);

    const bad = await get(`${base}?patientId=Jane%20Doe&from=2024-13-01`, cookie);
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain('There is a problem');
    expect(html).toMatch(/aria-describedby="patientId-hint patientId-error"/);
    expect(html).toMatch(/id="from-error"/);
  });
});

describe('AU2: verify the chain from the audit page', () => {
  async function orgWithChain() {
    const o = await createTestOrganisation(handle, 'Chain Clinic');
    const { cookie } = await createTestAdmin(db, o.id, 'compliance');
    await db.transaction(async (tx) => {
      for (let i = 0; i < 6; i++) await appendAudit(tx, o.id, { actorType: 'system', action: 'test.event', subjectType: 'thing', subjectId: `t${i}`, details: { n: i } });
    });
    return { o, cookie };
  }
  /** Plays the table owner with superuser rights, getting round the append-only trigger. */
  async function tamper(statement: (sql: typeof handle.sql) => Promise<unknown>) {
    await handle.sql.begin(async (sql) => {
      await sql`set local session_replication_role = replica`;
      await statement(sql as unknown as typeof handle.sql);
    });
  }
  const verify = async (slug: string, cookie: string) => {
    const res = await post(`/admin/${slug}/audit`, cookie, { intent: 'verify' });
    expect(res.status).toBe(200);
    return res.text();
  };

  it('AU2: an intact chain verifies, and the check is itself recorded', async () => {
    const { o, cookie } = await orgWithChain();
    const html = await verify(o.slug, cookie);
    expect(html).toContain('Chain intact.');
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, o.id), eq(auditEvents.action, 'audit.chain.verified')));
    expect(event!.details).toMatchObject({ ok: true, events: 7, problems: 0 });
    const dashboard = await (await get(`/admin/${o.slug}/compliance`, cookie)).text();
    expect(dashboard).toContain('Intact');
  });

  it('AU2: an edited row is reported', async () => {
    const { o, cookie } = await orgWithChain();
    await tamper((sql) => sql`update audit_events set details = '{"n": 99}' where org_id = ${o.id} and seq = 3`);
    const html = await verify(o.slug, cookie);
    expect(html).toContain('Problems found.');
    expect(html).toContain('Event 3: this row was changed after it was written (hash).');
    expect(html).not.toContain('Event 4:');
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, o.id), eq(auditEvents.action, 'audit.chain.verified')));
    expect(event!.details).toMatchObject({ ok: false });
    const dashboard = await (await get(`/admin/${o.slug}/compliance`, cookie)).text();
    expect(dashboard).toContain('Problems found');
  });

  it('AU2: a deleted row is reported', async () => {
    const { o, cookie } = await orgWithChain();
    await tamper((sql) => sql`delete from audit_events where org_id = ${o.id} and seq = 2`);
    const html = await verify(o.slug, cookie);
    expect(html).toContain('Problems found.');
    expect(html).toContain('Event 3: a row is missing before this one');
  });

  it('AU2: reordered rows are reported', async () => {
    const { o, cookie } = await orgWithChain();
    // Swap the contents of rows 2 and 4, keeping their seq numbers and hashes in place.
    await tamper(
      (sql) => sql`
        update audit_events e set action = s.action, subject_id = s.subject_id, details = s.details, occurred_at = s.occurred_at
          from (select seq, action, subject_id, details, occurred_at from audit_events where org_id = ${o.id} and seq in (2, 4)) s
         where e.org_id = ${o.id} and e.seq in (2, 4) and s.seq = 6 - e.seq`,
    );
    const html = await verify(o.slug, cookie);
    expect(html).toContain('Problems found.');
    expect(html).toContain('Event 2: this row was changed after it was written (hash).');
    expect(html).toContain('Event 4: this row was changed after it was written (hash).');
  });
});

describe('audit CSV export', () => {
  it('escapes CSV and neutralises spreadsheet formulas in every cell', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2')).toBe("'-2");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell(null)).toBe('');
    expect(csvCell({ a: 'b,c' })).toBe('"{""a"":""b,c""}"');
  });

  it('streams 50,000 rows in many chunks, paced by the client: server memory stays far below the size of the file', { timeout: 180_000 }, async () => {
    const o = await createTestOrganisation(handle, 'Export Clinic');
    const { cookie } = await createTestAdmin(db, o.id, 'compliance');
    const rows = 50_000;
    const k = await headSeq(o.id);
    // Rows written directly (the chain is not what is tested here), about 1 kB each, then a few awkward ones.
    await handle.sql`
      insert into audit_events (org_id, seq, occurred_at, actor_type, actor_id, action, subject_type, subject_id, details, prev_hash, hash)
      select ${o.id}, ${k} + g, now() - make_interval(secs => ${rows} - g), 'system', null, 'test.bulk', 'thing', 't' || g,
             jsonb_build_object('n', g, 'pad', repeat('x', 1000)), repeat('0', 64), md5(g::text) || md5(g::text)
        from generate_series(1, ${rows}::int) g`;
    const awkward = [
      { actorId: '=cmd|/C calc', action: '@evil', subjectType: '+1', subjectId: '-1+1', details: { note: 'a "quoted", comma\nline' } },
      { actorId: 'ok', action: 'test.plain', subjectType: 'thing', subjectId: 'x', details: {} },
    ];
    for (const [i, a] of awkward.entries()) {
      await handle.sql`
        insert into audit_events (org_id, seq, occurred_at, actor_type, actor_id, action, subject_type, subject_id, details, prev_hash, hash)
        values (${o.id}, ${k + rows + 1 + i}, now(), 'admin', ${a.actorId}, ${a.action}, ${a.subjectType}, ${a.subjectId}, ${JSON.stringify(a.details)}::jsonb, ${'0'.repeat(64)}, ${'1'.repeat(64)})`;
    }
    await handle.sql`update audit_heads set last_seq = ${k + rows + awkward.length}, last_hash = ${'1'.repeat(64)} where org_id = ${o.id}`;

    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = retained();
    const res = await get(`/admin/${o.slug}/audit/export.csv`, cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="audit-${o.slug}-\\d{8}-\\d{6}\\.csv"$`));
    expect(res.headers.get('cache-control')).toContain('no-store');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let chunks = 0;
    let bytes = 0;
    let head = '';
    let tail = '';
    let growthWhilePaused = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks += 1;
      bytes += value.byteLength;
      const text = decoder.decode(value, { stream: true });
      if (head.length < 4000) head += text;
      tail = (tail + text).slice(-8000);
      if (chunks === 5) {
        // A slow client: without backpressure the server would now read and buffer the rest of the log.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        growthWhilePaused = retained() - before;
      }
    }
    expect(bytes).toBeGreaterThan(rows * 1000);
    expect(chunks).toBeGreaterThan(50);
    expect(growthWhilePaused).toBeLessThan(bytes / 10);

    const lines = head.split('\r\n');
    expect(lines[0]).toBe('seq,occurred_at_utc,occurred_at_local,actor_type,actor_id,action,subject_type,subject_id,details,prev_hash,hash');
    expect(lines[1]).toMatch(/^1,.*,admin.sign_in.succeeded,/);
    expect(lines[k + 1]).toMatch(/^\d+,\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z,\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC,system,,test\.bulk,thing,t1,"\{""n"":1,""pad"":""x+""\}",0{64},[0-9a-f]{64}$/);
    expect(lines[k + 1]!.startsWith(`${k + 1},`)).toBe(true);
    expect(tail).toContain(`\r\n${k + rows + 1},`);
    expect(tail).toContain(`,admin,'=cmd|/C calc,'@evil,'+1,'-1+1,"{""note"":""a \\""quoted\\"", comma\\nline""}",`);
    expect(tail.trimEnd().split('\r\n').pop()).toMatch(new RegExp(`^${k + rows + 2},.*,test\\.plain,`));
    // The export stops at the head as it was when it began, and the export itself is recorded.
    const [exported] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, o.id), eq(auditEvents.action, 'audit.exported')));
    expect(exported!.seq).toBe(k + rows + 3);
    expect(exported!.details).toMatchObject({ upToSeq: k + rows + 2 });
    expect(tail).not.toContain('audit.exported');
  });

  it('exports with the same filters as the search, oldest first', async () => {
    const o = await createTestOrganisation(handle, 'Filter Export Clinic');
    const { cookie } = await createTestAdmin(db, o.id, 'owner');
    const k = await headSeq(o.id);
    await db.transaction(async (tx) => {
      for (let i = 0; i < 7; i++) await appendAudit(tx, o.id, { actorType: 'system', action: i % 2 ? 'test.odd' : 'test.even', subjectType: 'thing', subjectId: `t${i}` });
    });
    const res = await get(`/admin/${o.slug}/audit/export.csv?action=test.odd`, cookie);
    const csv = await res.text();
    const seqs = csv
      .trim()
      .split('\r\n')
      .slice(1)
      .map((l) => Number(l.split(',')[0]));
    expect(seqs).toEqual([k + 2, k + 4, k + 6]);
    const bad = await get(`/admin/${o.slug}/audit/export.csv?patientId=someone@example.com`, cookie);
    expect(bad.status).toBe(400);
  });
});
