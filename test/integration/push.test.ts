// The engine's web push channel (issue 9) against a local push service that verifies VAPID and decrypts the payload
// with the subscription's own keys, as a browser would (test/support/push-service.ts). EM4: the notice names the
// organisation and carries the portal link, and nothing of the message or the patient.
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, deliveries, patientPreferences, patients, pushSubscriptions } from '../../db/schema/index';
import { createWebPushTransport } from '../../server/delivery/push';
import { subscribePush } from '../../server/delivery/push-subscriptions';
import { createSmtpTransport } from '../../server/delivery/transport';
import { PUSH_TTL_SECONDS, runPass, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage } from '../../server/engine/enqueue';
import { LINK_PATHS } from '../../server/links/links';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { createTestPatient } from '../support/identity';
import { startFakePushService, type FakeBrowserSubscription, type FakePushService } from '../support/push-service';

const handle = testDatabase(6);
const db = handle.db;
const vault = kekRing(Buffer.alloc(32, 11));
const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:push@carepost.test' };
let service: FakePushService;
let relay: Awaited<ReturnType<typeof startSink>>;
let deps: EngineDeps;

beforeAll(async () => {
  [service, relay] = await Promise.all([startFakePushService(), startSink()]);
  deps = {
    db,
    vault,
    links: linkKeyring(Buffer.alloc(32, 12)),
    publicUrl: new URL('https://portal.example.com'),
    mailFrom: 'no-reply@carepost.test',
    messageIdDomain: 'carepost.test',
    mail: createSmtpTransport(relay.url, { pool: false }),
    sms: undefined,
    push: createWebPushTransport({ vapid, allowPrivateNetworks: true, timeoutMs: 5_000 }),
    logger: createLogger({ level: 'silent' }),
    workerId: 'push-test',
    retryBaseMs: 1,
  };
});
afterAll(async () => {
  await Promise.all([service.close(), relay.close()]);
  await handle.close();
});

async function setup(orgName = `Sunrise Clinic ${randomBytes(2).toString('hex')}`) {
  const org = await createTestOrganisation(handle, orgName);
  const { patient } = await createTestPatient(handle, org.id);
  return { org, patient };
}

async function subscribe(orgId: string, patientId: string, sub: FakeBrowserSubscription = service.subscribe()) {
  await subscribePush(db, vault, { orgId, patientId, subscription: { endpoint: sub.endpoint, p256dh: sub.json.keys.p256dh, auth: sub.json.keys.auth }, now: new Date() });
  return sub;
}

const secret = () => ({ subject: `Biopsy result ${randomBytes(3).toString('hex')}`, text: `Your HbA1c is ${randomBytes(3).toString('hex')}` });

async function send(orgId: string, patientId: string, content = secret(), options: { drain?: boolean; engine?: EngineDeps } = {}) {
  const r = await db.transaction((tx) =>
    enqueueMessage(tx, vault, { orgId, category: 'treatment', content, recipients: [{ patientId, channels: ['push'] }], actor: { type: 'system' }, now: new Date() }),
  );
  if (!r.ok) throw new Error(JSON.stringify(r.fieldErrors));
  await pass(orgId, options.engine);
  const [row] = await db.select().from(deliveries).where(and(eq(deliveries.orgId, orgId), eq(deliveries.messageId, r.messageId)));
  return { row: row!, content, messageId: r.messageId };
}

async function pass(orgId: string, engine = deps) {
  await runPass({ ...engine, orgIds: [orgId] }, { batchSize: 10, concurrency: 1 });
}

const deliveryOf = async (orgId: string, messageId: string) =>
  (await db.select().from(deliveries).where(and(eq(deliveries.orgId, orgId), eq(deliveries.messageId, messageId))))[0]!;
const subscriptionOf = async (orgId: string, endpoint: string) =>
  (await db.select().from(pushSubscriptions).where(and(eq(pushSubscriptions.orgId, orgId), eq(pushSubscriptions.endpoint, endpoint))))[0]!;

describe('EM4: the push notice', () => {
  it('is encrypted to the subscription (aes128gcm), signed with VAPID, and says only that a secure message is waiting from the organisation', async () => {
    const { org, patient } = await setup();
    const sub = await subscribe(org.id, patient.id);
    const { row, content } = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'sent', route: 'push_notice', decision: 'allow', reason: 'care_message' });

    const [push] = service.receivedFor(sub);
    expect(push).toBeDefined();
    // RFC 8292: signed by our key, for the push service's origin, expiring within 24 h, with a contact.
    expect(push!.vapid).toMatchObject({ ok: true, publicKey: vapid.publicKey, claims: { aud: service.origin, sub: vapid.subject } });
    // RFC 8030 headers: how long the service may hold it, its urgency, and a topic so a repeat replaces it.
    expect(push!.headers).toMatchObject({ 'content-encoding': 'aes128gcm', ttl: String(PUSH_TTL_SECONDS), urgency: 'normal', topic: row.id.replace(/-/g, '') });

    expect(push!.decryptError).toBeUndefined();
    const notice = JSON.parse(push!.plaintext!) as { title: string; body: string; url: string; tag: string };
    expect(notice.title).toContain(org.name);
    expect(notice.body).toContain(org.name);
    expect(notice.url).toMatch(new RegExp(`^https://portal\\.example\\.com/o/${org.slug}/${LINK_PATHS.pickup}/[A-Za-z0-9._~-]+$`));
    // EM4: no subject, no body, no patient name anywhere in what the device receives.
    for (const phi of [content.subject, content.text, patient.displayName, patient.externalRef]) expect(push!.plaintext).not.toContain(phi);

    expect((await subscriptionOf(org.id, sub.endpoint)).lastSuccessAt).not.toBeNull();
  });

  it('is in Spanish for a patient whose language is Spanish', async () => {
    const { org, patient } = await setup();
    await db.update(patients).set({ locale: 'es' }).where(and(eq(patients.orgId, org.id), eq(patients.id, patient.id)));
    const sub = await subscribe(org.id, patient.id);
    await send(org.id, patient.id);
    const notice = JSON.parse(service.receivedFor(sub)[0]!.plaintext!) as { title: string; body: string };
    expect(notice.title).toBe(`Mensaje seguro de ${org.name}`);
    expect(notice.body).toContain('mensaje seguro');
  });

  it('reaches every device the patient turned notifications on for', async () => {
    const { org, patient } = await setup();
    const [phone, laptop] = [await subscribe(org.id, patient.id), await subscribe(org.id, patient.id)];
    const { row } = await send(org.id, patient.id);
    expect(row.status).toBe('sent');
    expect(service.receivedFor(phone)).toHaveLength(1);
    expect(service.receivedFor(laptop)).toHaveLength(1);
  });
});

describe('no push without an opt-in', () => {
  it('a patient without a subscription: blocked (no_push_subscription), and nothing reaches any push service', async () => {
    const { org, patient } = await setup();
    const before = service.received.length;
    const { row } = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'blocked', reason: 'no_push_subscription' });
    expect(service.received.length).toBe(before);
  });

  it('a patient who took push out of their care channels: blocked (channel_opted_out), subscription or not', async () => {
    const { org, patient } = await setup();
    const sub = await subscribe(org.id, patient.id);
    await db.insert(patientPreferences).values({ orgId: org.id, patientId: patient.id, careChannels: ['email'], timeZone: 'UTC', updatedAt: new Date() });
    const { row } = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'blocked', reason: 'channel_opted_out' });
    expect(service.receivedFor(sub)).toHaveLength(0);
  });

  it('a deployment without VAPID keys: the delivery fails (push_not_configured) instead of waiting for ever', async () => {
    const { org, patient } = await setup();
    await subscribe(org.id, patient.id);
    const { row } = await send(org.id, patient.id, secret(), { engine: { ...deps, push: undefined } });
    expect(row).toMatchObject({ status: 'failed', lastError: 'push_not_configured' });
  });
});

describe('the push service says no', () => {
  it('410 Gone: the subscription is disabled (audited, no PHI), and the delivery fails as push_subscription_gone', async () => {
    const { org, patient } = await setup();
    const sub = await subscribe(org.id, patient.id);
    service.replyWith(sub, { status: 410 });
    const { row } = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'failed', reason: 'push_subscription_gone', lastError: 'push_gone' });
    const stored = await subscriptionOf(org.id, sub.endpoint);
    expect(stored).toMatchObject({ disabledReason: 'gone' });
    expect(stored.disabledAt).not.toBeNull();
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'push.subscription_disabled')));
    expect(event).toMatchObject({ subjectId: stored.id, details: { reason: 'gone', deliveryId: row.id } });
    expect(JSON.stringify(event)).not.toContain(sub.endpoint);

    // The next message for this patient is not even tried: the gate sees no active subscription.
    const before = service.received.length;
    const next = await send(org.id, patient.id);
    expect(next.row).toMatchObject({ status: 'blocked', reason: 'no_push_subscription' });
    expect(service.received.length).toBe(before);
  });

  it('404 on one device and 201 on another: sent; only the 404 one is disabled', async () => {
    const { org, patient } = await setup();
    const [gone, fine] = [await subscribe(org.id, patient.id), await subscribe(org.id, patient.id)];
    service.replyWith(gone, { status: 404 });
    const { row } = await send(org.id, patient.id);
    expect(row.status).toBe('sent');
    expect(await subscriptionOf(org.id, gone.endpoint)).toMatchObject({ disabledReason: 'not_found' });
    expect((await subscriptionOf(org.id, fine.endpoint)).disabledAt).toBeNull();
  });

  it('5xx and 429 are retried with backoff (the subscription kept) until the service accepts', async () => {
    const { org, patient } = await setup();
    const sub = await subscribe(org.id, patient.id);
    service.replyWith(sub, { status: 503 }, { status: 429 });
    const { row, messageId } = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'queued', reason: 'transient_failure', lastError: 'push_unavailable', attempts: 1 });
    expect(row.dueAt.getTime()).toBeGreaterThan(row.updatedAt.getTime() - 1);

    await new Promise((r) => setTimeout(r, 20));
    await pass(org.id);
    expect(await deliveryOf(org.id, messageId)).toMatchObject({ status: 'queued', lastError: 'push_rate_limited', attempts: 2 });

    await new Promise((r) => setTimeout(r, 20));
    await pass(org.id);
    expect(await deliveryOf(org.id, messageId)).toMatchObject({ status: 'sent', route: 'push_notice', attempts: 3 });
    expect(service.receivedFor(sub).map((r) => r.status)).toEqual([503, 429, 201]);
    expect((await subscriptionOf(org.id, sub.endpoint)).disabledAt).toBeNull();
  });

  it('a 429 with Retry-After waits at least that long', async () => {
    const { org, patient } = await setup();
    const sub = await subscribe(org.id, patient.id);
    service.replyWith(sub, { status: 429, headers: { 'retry-after': '120' } });
    const started = Date.now();
    const { row } = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'queued', lastError: 'push_rate_limited' });
    expect(row.dueAt.getTime()).toBeGreaterThanOrEqual(started + 119_000);
  });
});
