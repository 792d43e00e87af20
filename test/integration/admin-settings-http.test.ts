// Admin settings over real HTTP (issue 8, item 3): only the owner may read or change them (EN3, per role), bad input
// changes nothing (400 with field errors), secrets are shown once and never listed, and every change is audited.
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, auditEvents, orgDkimKeys, organisations, webhookDeliveries, webhookEndpoints } from '../../db/schema/index';
import { patientPreferencesOf, savePreferences } from '../../server/consent/preferences';
import { createWebhookEndpoint } from '../../server/delivery/webhooks';
import { open, vaultRing, type KekRing } from '../../server/messages/vault';
import { createTestAdmin } from '../support/admin';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
let owner: Awaited<ReturnType<typeof createTestAdmin>>;
let ring: KekRing;
const ORIGIN = 'http://localhost:3999';

beforeAll(async () => {
  dev = await startTestServer();
  ring = vaultRing(dev.config);
  org = await createTestOrganisation(handle, 'Settings Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Settings Clinic');
  owner = await createTestAdmin(db, org.id, 'owner');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const headers = (cookie?: string) => ({
  'content-type': 'application/x-www-form-urlencoded',
  origin: ORIGIN,
  'x-forwarded-host': 'localhost:3999',
  ...(cookie ? { cookie } : {}),
});
const post = (path: string, cookie: string, fields: [string, string][]) => dev.fetch(path, { method: 'POST', headers: headers(cookie), body: new URLSearchParams(fields).toString() });
const get = (path: string, cookie?: string) => dev.fetch(path, { headers: headers(cookie) });

const SECTIONS = ['', '/domains', '/dkim', '/api-keys', '/webhooks'];
const GENERAL: [string, string][] = [
  ['name', 'Settings Clinic'],
  ['brandColor', '#336699'],
  ['timeZone', 'America/Chicago'],
  ['pickupPolicy', 'code_dob'],
  ['pickupLinkDays', '14'],
  ['messageExpiryDays', '400'],
  ['quietHours', 'on'],
  ['quietStart', '20:30'],
  ['quietEnd', '07:15'],
  ['weeklyCap', '3'],
];

describe('EN3: settings are the owner’s alone', () => {
  it('EN3: every settings page is 200 for the owner, 403 for compliance, marketer and support, and a redirect to admin sign-in without a session', async () => {
    for (const section of SECTIONS) {
      const path = `/admin/${org.slug}/settings${section}`;
      expect((await get(path, owner.cookie)).status, path).toBe(200);
      const anonymous = await get(path);
      expect(anonymous.status, path).toBe(303);
      expect(anonymous.headers.get('location')).toBe(`/admin/${org.slug}/sign-in`);
    }
    for (const role of ['compliance', 'marketer', 'support'] as const) {
      const admin = await createTestAdmin(db, org.id, role);
      for (const section of SECTIONS) {
        const path = `/admin/${org.slug}/settings${section}`;
        expect((await get(path, admin.cookie)).status, `${role} GET ${path}`).toBe(403);
        expect((await post(section === '' ? `${path}?index` : path, admin.cookie, [['intent', 'create']])).status, `${role} POST ${path}`).toBe(403);
      }
    }
  });

  it('EN3: another organisation’s owner session is no session here, and changes nothing', async () => {
    const stranger = await createTestAdmin(db, otherOrg.id, 'owner');
    const res = await post(`/admin/${org.slug}/settings?index`, stranger.cookie, GENERAL.map(([k, v]) => [k, k === 'name' ? 'Hijacked' : v]));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/admin/${org.slug}/sign-in`);
    const [row] = await db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, org.id));
    expect(row!.name).toBe('Settings Clinic');
  });
});

describe('general settings', () => {
  it('saves the whole form, audits the names of what changed (no values), and patients without their own choice get the defaults', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const res = await post(`/admin/${org.slug}/settings?index`, owner.cookie, GENERAL);
    expect(res.status).toBe(303);
    const [row] = await db.select().from(organisations).where(eq(organisations.id, org.id));
    expect(row).toMatchObject({ timeZone: 'America/Chicago', pickupPolicy: 'code_dob', pickupLinkDays: 14, messageExpiryDays: 400, defaultQuietStartMinute: 1230, defaultQuietEndMinute: 435, defaultWeeklyCap: 3 });
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'organisation.settings_changed')));
    expect(event).toMatchObject({ actorType: 'admin', actorId: owner.adminId });
    expect(event!.details).toEqual({ changed: expect.arrayContaining(['timeZone', 'pickupPolicy', 'defaultWeeklyCap']) });
    expect(JSON.stringify(event!.details)).not.toContain('America/Chicago');

    expect(await patientPreferencesOf(db, org.id, patient.id)).toMatchObject({ quietStartMinute: 1230, quietEndMinute: 435, weeklyCap: 3 });
    // Once the patient chooses, their choice wins over the organisation's default.
    const saved = await savePreferences(db, {
      orgId: org.id,
      patientId: patient.id,
      now: new Date(),
      form: { careChannels: ['email'], weeklyCap: '', quietHours: false, quietStart: '', quietEnd: '', timeZone: 'UTC', pauseAllUntil: '', stopAll: false, topics: [] },
    });
    expect(saved.status).toBe('saved');
    expect(await patientPreferencesOf(db, org.id, patient.id)).toMatchObject({ quietStartMinute: null, weeklyCap: null });
  });

  it('bad input is a 400 with a message per field, and changes nothing', async () => {
    const [before] = await db.select().from(organisations).where(eq(organisations.id, org.id));
    const bad = new Map(GENERAL);
    bad.set('name', '');
    bad.set('brandColor', 'red');
    bad.set('timeZone', 'Mars/Olympus');
    bad.set('pickupPolicy', 'nothing');
    bad.set('pickupLinkDays', '0');
    bad.set('messageExpiryDays', 'soon');
    bad.set('quietEnd', bad.get('quietStart')!);
    bad.set('weeklyCap', '500');
    const res = await post(`/admin/${org.slug}/settings?index`, owner.cookie, [...bad.entries()]);
    expect(res.status).toBe(400);
    const html = await res.text();
    for (const id of ['name', 'brandColor', 'timeZone', 'pickupPolicy', 'pickupLinkDays', 'messageExpiryDays', 'quietEnd', 'weeklyCap']) expect(html, id).toContain(`id="${id}-error"`);
    const [after] = await db.select().from(organisations).where(eq(organisations.id, org.id));
    expect(after).toEqual(before);
  });
});

describe('API keys', () => {
  it('a new key is shown once, works against the API, is listed by prefix only, and stops working when revoked', async () => {
    const res = await post(`/admin/${org.slug}/settings/api-keys`, owner.cookie, [
      ['intent', 'create'],
      ['name', 'EHR bridge'],
      ['scopes', 'consent'],
      ['scopes', 'links'],
    ]);
    expect(res.status).toBe(200);
    const key = /cpk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(await res.text())![0];
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.orgId, org.id));
    expect(row).toMatchObject({ name: 'EHR bridge', scopes: ['consent', 'links'] });
    const api = () => dev.fetch('/api/v1/suppressions', { headers: { authorization: `Bearer ${key}` } });
    expect((await api()).status).toBe(403); // known key, wrong scope: it authenticated

    const list = await (await get(`/admin/${org.slug}/settings/api-keys`, owner.cookie)).text();
    expect(list).toContain(`cpk_${row!.prefix}_`);
    expect(list).not.toContain(key);
    expect(list).not.toContain(row!.secretHash);

    expect((await post(`/admin/${org.slug}/settings/api-keys`, owner.cookie, [['intent', 'revoke'], ['keyId', row!.id]])).status).toBe(200);
    expect((await api()).status).toBe(401);
  });

  it('no scope or no name is a 400 and creates nothing; another organisation’s key cannot be revoked or rotated (404)', async () => {
    const before = await db.select().from(apiKeys).where(eq(apiKeys.orgId, org.id));
    const res = await post(`/admin/${org.slug}/settings/api-keys`, owner.cookie, [['intent', 'create'], ['name', '']]);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('id="name-error"');
    expect(html).toContain('id="scopes-error"');
    expect(await db.select().from(apiKeys).where(eq(apiKeys.orgId, org.id))).toHaveLength(before.length);

    const theirs = await createTestAdmin(db, otherOrg.id, 'owner');
    await post(`/admin/${otherOrg.slug}/settings/api-keys`, theirs.cookie, [['intent', 'create'], ['name', 'Theirs'], ['scopes', 'messages']]);
    const [their] = await db.select().from(apiKeys).where(eq(apiKeys.orgId, otherOrg.id));
    expect((await post(`/admin/${org.slug}/settings/api-keys`, owner.cookie, [['intent', 'revoke'], ['keyId', their!.id]])).status).toBe(404);
    expect((await post(`/admin/${org.slug}/settings/api-keys`, owner.cookie, [['intent', 'rotate'], ['keyId', their!.id], ['graceMinutes', '0']])).status).toBe(404);
    const [still] = await db.select().from(apiKeys).where(eq(apiKeys.id, their!.id));
    expect(still!.revokedAt).toBeNull();
  });
});

describe('webhooks', () => {
  it('an endpoint is registered with its secret shown once (sealed at rest), and only https or a field error', async () => {
    const bad = await post(`/admin/${org.slug}/settings/webhooks`, owner.cookie, [['intent', 'create'], ['url', 'ftp://example.org/hook'], ['eventTypes', 'nonsense']]);
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain('id="url-error"');
    expect(badHtml).toContain('id="eventTypes-error"');

    const res = await post(`/admin/${org.slug}/settings/webhooks`, owner.cookie, [['intent', 'create'], ['url', 'https://hooks.example.org/carepost'], ['eventTypes', 'consent.revoked']]);
    expect(res.status).toBe(200);
    const secret = /whsec_[A-Za-z0-9+/=]+/.exec(await res.text())![0];
    const [endpoint] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.orgId, org.id));
    expect(endpoint).toMatchObject({ url: 'https://hooks.example.org/carepost', eventTypes: ['consent.revoked'] });
    expect(JSON.stringify(endpoint!.secret)).not.toContain(secret.slice(6));
    expect(open(ring, { orgId: org.id, purpose: 'webhook-secret' }, endpoint!.secret).toString()).toBe(secret);
    expect(await (await get(`/admin/${org.slug}/settings/webhooks`, owner.cookie)).text()).not.toContain(secret);
    const [audit] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'webhook.endpoint_created')));
    expect(audit).toMatchObject({ actorType: 'admin', actorId: owner.adminId });
  });

  it('EN3: another organisation’s endpoint cannot be disabled, its log not read, its deliveries not replayed', async () => {
    const { endpoint } = await createWebhookEndpoint(db, ring, { orgId: otherOrg.id, url: 'https://other.example.org/hook', eventTypes: ['message.opened'], actor: { type: 'organisation', id: 'k' }, now: new Date() });
    const [delivery] = await db
      .insert(webhookDeliveries)
      .values({ orgId: otherOrg.id, endpointId: endpoint.id, eventId: crypto.randomUUID(), eventType: 'message.opened', status: 'failed', attempts: 10, nextAttemptAt: new Date(), createdAt: new Date() })
      .returning();
    expect((await post(`/admin/${org.slug}/settings/webhooks`, owner.cookie, [['intent', 'disable'], ['endpointId', endpoint.id]])).status).toBe(404);
    expect((await post(`/admin/${org.slug}/settings/webhooks`, owner.cookie, [['intent', 'replay'], ['deliveryId', delivery!.id]])).status).toBe(404);
    const page = await (await get(`/admin/${org.slug}/settings/webhooks?endpoint=${endpoint.id}`, owner.cookie)).text();
    expect(page).not.toContain('other.example.org');
    const [after] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, delivery!.id));
    expect(after).toMatchObject({ status: 'failed', attempts: 10 });
    const [stillOn] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id));
    expect(stillOn!.disabledAt).toBeNull();
  });
});

describe('EM3: DKIM key', () => {
  it('EM3: a key is generated and sealed; the page shows the DNS record and never the private key; bad domain or selector is a 400', async () => {
    const bad = await post(`/admin/${org.slug}/settings/dkim`, owner.cookie, [['intent', 'generate'], ['domain', 'not a domain'], ['selector', '-x']]);
    expect(bad.status).toBe(400);
    expect(await db.select().from(orgDkimKeys).where(eq(orgDkimKeys.orgId, org.id))).toHaveLength(0);

    const res = await post(`/admin/${org.slug}/settings/dkim`, owner.cookie, [['intent', 'generate'], ['domain', 'Settings-Clinic.example'], ['selector', 'cp1']]);
    expect(res.status).toBe(200);
    const [row] = await db.select().from(orgDkimKeys).where(eq(orgDkimKeys.orgId, org.id));
    expect(row).toMatchObject({ domain: 'settings-clinic.example', selector: 'cp1' });
    const pem = open(ring, { orgId: org.id, purpose: 'dkim-private-key' }, row!.sealedPrivateKey).toString();
    expect(pem).toContain('BEGIN PRIVATE KEY');
    const page = await (await get(`/admin/${org.slug}/settings/dkim`, owner.cookie)).text();
    expect(page).toContain('cp1._domainkey.settings-clinic.example');
    expect(page).toContain(row!.dnsRecord);
    expect(page).not.toContain(pem.split('\n')[1]!);
  });
});
