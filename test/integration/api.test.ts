// The organisation API over real HTTP against the real app and Postgres. Every answer is checked against the OpenAPI
// document the server publishes (ajv, JSON Schema 2020-12), and every operation in that document is called.
import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { and, eq } from 'drizzle-orm';
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, deliveries, messages, outboundEvents, suppressions } from '../../db/schema/index';
import { buildRouter } from '../../server/api/framework';
import { createApiKey, revokeApiKey, rotateApiKey } from '../../server/api/keys';
import { OPERATIONS } from '../../server/api/operations';
import { grantAuthorization } from '../../server/consent/ledger';
import { listen } from '../../server/http/server';
import { linkKeyring } from '../../server/links/tokens';
import { runWebhookPass } from '../../server/delivery/webhooks';
import { createLogger } from '../../server/logger';
import { vaultRing } from '../../server/messages/vault';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
let key: string;
let otherKey: string;
let doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
const called = new Set<string>();
const ALL_SCOPES = ['messages', 'consent', 'links', 'patients', 'webhooks'] as const;

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'API Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other API Clinic');
  const secret = dev.config.secrets.CODE_HMAC_SECRET;
  key = (await createApiKey(db, secret, { orgId: org.id, name: 'EHR', scopes: [...ALL_SCOPES], actor: { type: 'system' }, now: new Date() })).key;
  otherKey = (await createApiKey(db, secret, { orgId: otherOrg.id, name: 'Other', scopes: [...ALL_SCOPES], actor: { type: 'system' }, now: new Date() })).key;
  doc = (await (await dev.fetch('/api/v1/openapi.json')).json()) as typeof doc;
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

/** Calls the API and checks the answer against the published document for that operation and status. */
async function api(method: string, path: string, options: { body?: unknown; key?: string; headers?: Record<string, string>; template?: string } = {}) {
  const res = await dev.fetch(`/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${options.key ?? key}`, ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  const template = options.template ?? path;
  const operation = doc.paths[template]?.[method.toLowerCase()];
  expect(operation, `${method} ${template} is in the document`).toBeDefined();
  const documented = operation!.responses[String(res.status)];
  expect(documented, `${method} ${template} documents ${res.status}: ${text}`).toBeDefined();
  const contentType = res.status >= 400 ? 'application/problem+json' : 'application/json';
  if (documented!.content) {
    expect(res.headers.get('content-type')).toContain(contentType);
    const validate = ajv.compile(documented!.content[contentType]!.schema);
    expect(validate(json), `${method} ${template} ${res.status}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }
  called.add(`${method.toLowerCase()} ${template}`);
  return { status: res.status, json, headers: res.headers };
}

describe('contract: every operation, as documented', () => {
  it('the document is OpenAPI 3.1 and the docs page lists every operation', async () => {
    const raw = (await (await dev.fetch('/api/v1/openapi.json')).json()) as { openapi: string; paths: object };
    expect(raw.openapi).toBe('3.1.0');
    const html = await (await dev.fetch('/api/v1/docs')).text();
    for (const op of OPERATIONS) expect(html).toContain(`${op.method.toUpperCase()} /api/v1${op.path}`);
  });

  it('patients, consent state, preflight, links, messages, replies, access and retraction', async () => {
    const ref = `MRN-${randomUUID().slice(0, 8)}`;
    const email = `${ref.toLowerCase()}@example.com`;
    const upsert = await api('PUT', `/patients/${ref}`, { template: '/patients/{externalRef}', body: { displayName: 'Dana API', timeZone: 'Europe/London', contactPoints: [{ kind: 'email', value: email }] } });
    expect(upsert.status).toBe(200);
    expect(upsert.json.contactPoints).toEqual([{ kind: 'email', value: email, verified: true }]);
    expect((await api('PUT', `/patients/${ref}`, { template: '/patients/{externalRef}', body: { displayName: 'Dana API', timeZone: 'Mars/Olympus' } })).status).toBe(400);

    const { topic, text } = await publishedTopic(handle, org.id);
    const state = await api('GET', `/patients/${ref}/consent`, { template: '/patients/{externalRef}/consent' });
    expect(state.json.topics.find((t: { key: string }) => t.key === topic.key)).toMatchObject({ status: 'never', channels: [] });

    const ask = (category: string, channel: string, topicKey?: string) =>
      api('POST', '/consent/preflight', { body: { patient: { externalRef: ref }, category, channel, ...(topicKey ? { topic: topicKey } : {}) } });
    expect((await ask('marketing', 'email', topic.key)).json).toEqual({ decision: 'block', reason: 'no_authorization' });
    expect((await ask('treatment', 'email')).json).toMatchObject({ decision: 'allow', reason: 'care_message' });
    expect((await ask('marketing', 'email')).status).toBe(400);
    expect((await ask('marketing', 'email', 'no-such-topic')).status).toBe(404);
    // Patient and topic are resolved in the facts statement itself (one round trip): an unknown patient is still a 404.
    expect((await api('POST', '/consent/preflight', { body: { patient: { externalRef: `${ref}-nobody` }, category: 'treatment', channel: 'email' } })).status).toBe(404);
    expect((await api('POST', '/consent/preflight', { body: { patient: { externalRef: `${ref}-nobody` }, category: 'marketing', topic: topic.key, channel: 'email' } })).status).toBe(404);
    // The same gate as the engine: with a grant, marketing is allowed and names its basis.
    const patientId = upsert.json.id as string;
    const grant = await grantAuthorization(db, {
      orgId: org.id,
      patientId,
      topicId: topic.id,
      textId: text.id,
      channels: ['email'],
      signatureName: 'Dana API',
      evidence: { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal' },
      now: new Date(),
    });
    if (grant.status !== 'granted') throw new Error(grant.status);
    expect((await ask('marketing', 'email', topic.key)).json).toEqual({ decision: 'allow', reason: 'authorized', basis: { grantEventId: grant.event.id, textHash: text.contentHash } });
    expect((await ask('marketing', 'sms', topic.key)).json).toMatchObject({ decision: 'block' });

    const link = await api('POST', '/links', { body: { patient: { externalRef: ref }, purpose: 'unsubscribe', topic: topic.key, channel: 'email' } });
    expect(link.status).toBe(201);
    expect(link.json.url).toMatch(new RegExp(`^http://localhost:3999/o/${org.slug}/u/`));
    expect((await api('POST', '/links', { body: { patient: { externalRef: ref }, purpose: 'unsubscribe', topic: topic.key } })).status).toBe(400);

    const sent = await api('POST', '/messages', {
      body: {
        category: 'treatment',
        subject: 'Results',
        text: 'All clear.',
        attachments: [{ name: 'r.txt', contentType: 'text/plain', contentBase64: Buffer.from('hello').toString('base64') }],
        recipients: [{ patient: { externalRef: ref }, channels: ['email', 'portal'] }],
      },
    });
    expect(sent.status).toBe(201);
    expect(sent.headers.get('location')).toBe(`/api/v1/messages/${sent.json.id}`);
    expect(sent.json.deliveries.map((d: { channel: string; status: string }) => [d.channel, d.status]).sort()).toEqual([
      ['email', 'queued'],
      ['portal', 'queued'],
    ]);
    const messageId = sent.json.id as string;
    expect((await api('GET', `/messages/${messageId}`, { template: '/messages/{messageId}' })).json.id).toBe(messageId);
    expect((await api('GET', `/messages/${messageId}/replies`, { template: '/messages/{messageId}/replies' })).json).toEqual({ replies: [] });
    expect((await api('GET', `/messages/${messageId}/access`, { template: '/messages/{messageId}/access' })).json).toEqual({ access: [] });
    const retracted = await api('POST', `/messages/${messageId}/retract`, { template: '/messages/{messageId}/retract' });
    expect(retracted.status).toBe(200);
    expect(retracted.json.retractedAt).toEqual(expect.any(String));
    const [event] = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, org.id), eq(outboundEvents.type, 'message.retracted')));
    expect(event?.payload).toEqual({ messageId });

    const bad = await api('POST', '/messages', { body: { category: 'marketing', subject: '', text: 'x', recipients: [] } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.errors)).toEqual(expect.arrayContaining(['body.subject', 'body.recipients']));
    const badJson = await dev.fetch('/api/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{nope' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { type: string }).type).toContain('malformed-json');
  });

  it('webhooks: register, list, read the log, replay, disable', async () => {
    const received: string[] = [];
    const receiver = http.createServer((req, res) => {
      received.push(String(req.headers['webhook-id']));
      req.resume();
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/in`;
      expect((await api('POST', '/webhooks', { body: { url, eventTypes: ['not.a.type'] } })).status).toBe(400);
      const created = await api('POST', '/webhooks', { body: { url, eventTypes: ['message.retracted'] } });
      expect(created.status).toBe(201);
      expect(created.json.secret).toMatch(/^whsec_/);
      const endpointId = created.json.id as string;
      const listed = await api('GET', '/webhooks');
      expect(listed.json.endpoints.map((e: { id: string }) => e.id)).toContain(endpointId);
      expect(JSON.stringify(listed.json)).not.toContain('whsec_');
      const { patient } = await createTestPatient(handle, org.id);
      const msg = await api('POST', '/messages', { body: { category: 'treatment', subject: 'Oops', text: 'x', recipients: [{ patient: { id: patient.id }, channels: ['portal'] }] } });
      await api('POST', `/messages/${msg.json.id}/retract`, { template: '/messages/{messageId}/retract' });
      while ((await runWebhookPass({ db, vault: vaultRing(dev.config), logger: createLogger({ level: 'silent' }), orgIds: [org.id], allowPrivateNetworks: true })) > 0);
      const log = await api('GET', `/webhooks/${endpointId}/deliveries`, { template: '/webhooks/{endpointId}/deliveries' });
      expect(log.json.deliveries).toHaveLength(1);
      expect(log.json.deliveries[0]).toMatchObject({ eventType: 'message.retracted', status: 'delivered', attempts: 1, lastStatusCode: 204 });
      const deliveryId = log.json.deliveries[0].id as string;
      expect(received).toEqual([deliveryId]);
      expect((await api('POST', `/webhooks/deliveries/${deliveryId}/replay`, { key: otherKey, template: '/webhooks/deliveries/{deliveryId}/replay' })).status).toBe(404);
      const replayed = await api('POST', `/webhooks/deliveries/${deliveryId}/replay`, { template: '/webhooks/deliveries/{deliveryId}/replay' });
      expect(replayed.status).toBe(202);
      await runWebhookPass({ db, vault: vaultRing(dev.config), logger: createLogger({ level: 'silent' }), orgIds: [org.id], allowPrivateNetworks: true });
      expect(received).toEqual([deliveryId, deliveryId]);
      expect((await api('GET', `/webhooks/${endpointId}/deliveries`, { key: otherKey, template: '/webhooks/{endpointId}/deliveries' })).status).toBe(404);
      expect((await api('DELETE', `/webhooks/${endpointId}`, { key: otherKey, template: '/webhooks/{endpointId}' })).status).toBe(404);
      expect((await api('DELETE', `/webhooks/${endpointId}`, { template: '/webhooks/{endpointId}' })).status).toBe(204);
      expect((await api('GET', '/webhooks')).json.endpoints.find((e: { id: string }) => e.id === endpointId).disabledAt).toEqual(expect.any(String));
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  it('OAuth 2.0 client credentials: a 15-minute token for a key, narrowed scopes, refused when wrong, expired or revoked', async () => {
    const secret = dev.config.secrets.CODE_HMAC_SECRET;
    const made = await createApiKey(db, secret, { orgId: org.id, name: 'oauth', scopes: ['messages', 'links'], actor: { type: 'system' }, now: new Date() });
    const [clientId, clientSecret] = [made.key.slice(0, 'cpk_'.length + 12), made.key.slice('cpk_'.length + 13)];
    const token = async (form: Record<string, string>, headers: Record<string, string> = {}) => {
      const res = await dev.fetch('/api/v1/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
      const json = (await res.json()) as Record<string, unknown>;
      const documented = doc.paths['/oauth/token']!.post!.responses[String(res.status)]!;
      const validate = ajv.compile(documented.content!['application/json']!.schema);
      expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
      called.add('post /oauth/token');
      return { status: res.status, json };
    };
    const issued = await token({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expect(issued.status).toBe(200);
    expect(issued.json).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'messages links' });
    const access = issued.json.access_token as string;
    const path = `/messages/${randomUUID()}`;
    expect((await api('GET', path, { key: access, template: '/messages/{messageId}' })).status).toBe(404);
    // HTTP Basic works too; a narrower scope gives a narrower token.
    const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
    const narrow = await token({ grant_type: 'client_credentials', scope: 'links' }, { authorization: `Basic ${basic}` });
    expect(narrow.json.scope).toBe('links');
    expect((await api('GET', path, { key: narrow.json.access_token as string, template: '/messages/{messageId}' })).status).toBe(403);
    expect((await token({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'x'.repeat(43) })).json.error).toBe('invalid_client');
    expect((await token({ grant_type: 'password', client_id: clientId, client_secret: clientSecret })).json.error).toBe('unsupported_grant_type');
    expect((await token({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'consent' })).json.error).toBe('invalid_scope');
    expect((await token({ grant_type: 'client_credentials' })).json.error).toBe('invalid_request');
    // A forged token, one signed for another audience, and an expired one are refused.
    const [h, p, sig] = access.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'messages links consent patients webhooks' })).toString('base64url')}.${sig}`;
    expect((await api('GET', path, { key: forged, template: '/messages/{messageId}' })).status).toBe(401);
    const { issueToken } = await import('../../server/api/oauth');
    const old = await issueToken(db, secret, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }, undefined, new Date(Date.now() - 16 * 60_000));
    expect((await api('GET', path, { key: (old.body as { access_token: string }).access_token, template: '/messages/{messageId}' })).status).toBe(401);
    // Revoking the key ends its tokens at once.
    await revokeApiKey(db, { orgId: org.id, keyId: made.id, at: new Date(), actor: { type: 'system' } });
    expect((await api('GET', path, { key: access, template: '/messages/{messageId}' })).status).toBe(401);
  });

  it('suppressions: add (idempotent), list, remove; a patient STOP cannot be removed by the organisation', async () => {
    const email = `Supp-${randomUUID().slice(0, 6)}@Example.com`;
    const added = await api('POST', '/suppressions', { body: { kind: 'email', value: email } });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ kind: 'email', value: email.toLowerCase(), reason: 'admin' });
    expect((await api('POST', '/suppressions', { body: { kind: 'email', value: email } })).status).toBe(201);
    expect((await api('POST', '/suppressions', { body: { kind: 'sms', value: 'not a number' } })).status).toBe(400);
    const listed = await api('GET', '/suppressions?kind=email', { template: '/suppressions' });
    expect(listed.json.suppressions.filter((s: { value: string }) => s.value === email.toLowerCase())).toHaveLength(1);
    expect((await api('GET', '/suppressions', { key: otherKey })).json.suppressions.some((s: { value: string }) => s.value === email.toLowerCase())).toBe(false);
    expect((await api('DELETE', `/suppressions/email/${encodeURIComponent(email)}`, { key: otherKey, template: '/suppressions/{kind}/{value}' })).status).toBe(404);
    expect((await api('DELETE', `/suppressions/email/${encodeURIComponent(email)}`, { template: '/suppressions/{kind}/{value}' })).status).toBe(204);
    expect((await api('DELETE', `/suppressions/email/${encodeURIComponent(email)}`, { template: '/suppressions/{kind}/{value}' })).status).toBe(404);
    const phone = `+1555${Math.floor(1_000_000 + Math.random() * 8_999_999)}`;
    await db.insert(suppressions).values({ orgId: org.id, kind: 'sms', value: phone, reason: 'sms_stop', createdAt: new Date() });
    expect((await api('DELETE', `/suppressions/sms/${encodeURIComponent(phone)}`, { template: '/suppressions/{kind}/{value}' })).status).toBe(409);
  });

  it('every operation in the document was called', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`));
    expect([...called].sort()).toEqual(expect.arrayContaining(documented.sort()));
    expect(documented.sort()).toEqual(expect.arrayContaining([...called].sort()));
  });
});

describe('keys and tenants', () => {
  it("EN3: another organisation's patient, message and key give 404 or 401", async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const mine = await api('POST', '/messages', { body: { category: 'treatment', subject: 'Mine', text: 'x', recipients: [{ patient: { id: patient.id }, channels: ['portal'] }] } });
    expect(mine.status).toBe(201);
    // The other organisation's key sees none of it.
    expect((await api('GET', `/messages/${mine.json.id}`, { key: otherKey, template: '/messages/{messageId}' })).status).toBe(404);
    expect((await api('POST', `/messages/${mine.json.id}/retract`, { key: otherKey, template: '/messages/{messageId}/retract' })).status).toBe(404);
    expect((await api('POST', '/consent/preflight', { key: otherKey, body: { patient: { id: patient.id }, category: 'treatment', channel: 'email' } })).status).toBe(404);
    const [m] = await db.select().from(messages).where(eq(messages.id, mine.json.id));
    expect(m!.retractedAt).toBeNull();
    // A key pointed at another organisation's data by guessing its prefix is just an unknown key.
    const [otherRow] = await db.select().from(apiKeys).where(eq(apiKeys.orgId, otherOrg.id));
    const guessed = `cpk_${otherRow!.prefix}_${'A'.repeat(43)}`;
    expect((await api('GET', `/messages/${mine.json.id}`, { key: guessed, template: '/messages/{messageId}' })).status).toBe(401);
  });

  it('expired, revoked, rotated-out and wrongly scoped keys are refused; the replacement works; last use is recorded', async () => {
    const secret = dev.config.secrets.CODE_HMAC_SECRET;
    const now = new Date();
    const expired = await createApiKey(db, secret, { orgId: org.id, name: 'old', scopes: ['messages'], expiresAt: new Date(now.getTime() - 1000), actor: { type: 'system' }, now });
    const revoked = await createApiKey(db, secret, { orgId: org.id, name: 'gone', scopes: ['messages'], actor: { type: 'system' }, now });
    expect(await revokeApiKey(db, { orgId: otherOrg.id, keyId: revoked.id, at: now, actor: { type: 'system' } })).toBe(false);
    expect(await revokeApiKey(db, { orgId: org.id, keyId: revoked.id, at: now, actor: { type: 'system' } })).toBe(true);
    const linksOnly = await createApiKey(db, secret, { orgId: org.id, name: 'links', scopes: ['links'], actor: { type: 'system' }, now });
    const rotating = await createApiKey(db, secret, { orgId: org.id, name: 'rotating', scopes: ['messages'], actor: { type: 'system' }, now });
    const replacement = await rotateApiKey(db, secret, { orgId: org.id, keyId: rotating.id, graceMs: 0, actor: { type: 'system' }, now });
    const path = `/messages/${randomUUID()}`;
    for (const k of [expired.key, revoked.key, rotating.key, 'cpk_nonsense', `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`]) {
      const res = await api('GET', path, { key: k, template: '/messages/{messageId}' });
      expect(res.status, k.slice(0, 20)).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
    const noScope = await api('GET', path, { key: linksOnly.key, template: '/messages/{messageId}' });
    expect(noScope.status).toBe(403);
    expect(noScope.headers.get('www-authenticate')).toContain('scope="messages"');
    expect((await api('GET', path, { key: replacement!.key, template: '/messages/{messageId}' })).status).toBe(404);
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, replacement!.id));
    expect(row!.lastUsedAt).not.toBeNull();
    expect(row!.replacesId).toBe(rotating.id);
    expect(JSON.stringify(row)).not.toContain(replacement!.key.slice('cpk_'.length + 13));
    const noAuth = await dev.fetch(`/api/v1${path}`);
    expect(noAuth.status).toBe(401);
  });
});

describe('idempotency and rate limits', () => {
  it('the same Idempotency-Key twice gives one message and the same answer; another body with it is a 422', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const body = { category: 'treatment', subject: 'Once', text: 'Only once.', recipients: [{ patient: { id: patient.id }, channels: ['portal'] }] };
    const idem = { 'idempotency-key': `k-${randomUUID()}` };
    const [a, b] = await Promise.all([api('POST', '/messages', { body, headers: idem }), api('POST', '/messages', { body, headers: idem })]);
    const c = await api('POST', '/messages', { body, headers: idem });
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
    expect(new Set([a.json.id, b.json.id, c.json.id]).size).toBe(1);
    expect(c.headers.get('idempotent-replayed')).toBe('true');
    const rows = await db.select().from(deliveries).where(and(eq(deliveries.orgId, org.id), eq(deliveries.patientId, patient.id)));
    expect(rows).toHaveLength(1);
    const changed = await api('POST', '/messages', { body: { ...body, subject: 'Twice?' }, headers: idem });
    expect(changed.status).toBe(422);
    // A key is per organisation: the other organisation may use the same string.
    const elsewhere = await api('POST', '/consent/preflight', { key: otherKey, body: { patient: { id: patient.id }, category: 'treatment', channel: 'email' }, headers: idem });
    expect(elsewhere.status).toBe(404);
    // Validation problems are answers too: replayed, not re-run.
    const badIdem = { 'idempotency-key': `bad-${randomUUID()}` };
    const bad = { ...body, recipients: [{ patient: { id: randomUUID() }, channels: ['portal'] }] };
    expect((await api('POST', '/messages', { body: bad, headers: badIdem })).status).toBe(404);
    const replay = await api('POST', '/messages', { body: bad, headers: badIdem });
    expect(replay.status).toBe(404);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });

  it('past the per-key limit: 429 with Retry-After and RateLimit headers; other keys, and forged secrets for a known prefix, do not count', async () => {
    const app = express();
    const logger = createLogger({ level: 'silent' });
    app.use('/api/v1', buildRouter({ db, vault: vaultRing(dev.config), links: linkKeyring(dev.config.secrets.LINK_SIGNING_SECRET), publicUrl: dev.config.publicUrl, hmacSecret: dev.config.secrets.CODE_HMAC_SECRET, logger, rateLimitPerMinute: 3 }, OPERATIONS));
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const secret = dev.config.secrets.CODE_HMAC_SECRET;
      const limited = await createApiKey(db, secret, { orgId: org.id, name: 'busy', scopes: ['messages'], actor: { type: 'system' }, now: new Date() });
      const calm = await createApiKey(db, secret, { orgId: org.id, name: 'calm', scopes: ['messages'], actor: { type: 'system' }, now: new Date() });
      const get = (k: string) => fetch(`${server.url}/api/v1/messages/${randomUUID()}`, { headers: { authorization: `Bearer ${k}` } });
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 5; i++) {
        last = await get(limited.key);
        statuses.push(last.status);
      }
      // A minute boundary may fall inside the loop and reset the window once; the last answers are still refused.
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
      const refused = statuses.lastIndexOf(429) === 4 ? last! : await get(limited.key);
      if (refused.status === 429) {
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(refused.headers.get('ratelimit')).toMatch(/r=0;t=\d+/);
        expect(refused.headers.get('ratelimit-policy')).toBe('"per-key";q=3;w=60');
        expect(refused.headers.get('content-type')).toContain('application/problem+json');
      }
      // Someone who knows a key's prefix but not its secret cannot spend that key's budget: refusals are not counted.
      const forged = `cpk_${calm.prefix}_${'A'.repeat(43)}`;
      for (let i = 0; i < 5; i++) expect((await get(forged)).status).toBe(401);
      const calmAnswer = await get(calm.key);
      expect(calmAnswer.status).toBe(404);
      expect(calmAnswer.headers.get('ratelimit')).toMatch(/^"per-key";r=2;t=\d+$/);
    } finally {
      await server.close(500);
    }
  });
});

