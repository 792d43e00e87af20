// The push opt-in endpoint (/o/<slug>/push) over real HTTP against the Remix build: a signed-in patient subscribes
// and unsubscribes their own browser in their own organisation only (EN3); bad input is a 400 with field errors and
// changes nothing; the preferences page offers the opt-in with the VAPID public key.
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, pushSubscriptions } from '../../db/schema/index';
import { PUSH_AUTH_PURPOSE } from '../../server/delivery/push-subscriptions';
import { createPatientSession } from '../../server/identity/sessions';
import { openJson, vaultRing } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';
import { startFakePushService, type FakePushService } from '../support/push-service';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let service: FakePushService;
const ORIGIN = 'http://localhost:3999';

beforeAll(async () => {
  [dev, service] = await Promise.all([startTestServer(), startFakePushService()]);
});
afterAll(async () => {
  await Promise.all([dev.close(), service.close()]);
  await handle.close();
});

async function patientWithSession(orgId: string) {
  const { patient } = await createTestPatient(handle, orgId);
  const { token } = await db.transaction((tx) => createPatientSession(tx, { orgId, patientId: patient.id, method: 'code_email', now: new Date() }));
  return { patient, cookie: `carepost_session=${token}` };
}

function post(slug: string, cookie: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  return dev.fetch(`/o/${slug}/push`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      origin: ORIGIN,
      'sec-fetch-site': 'same-origin',
      'x-forwarded-host': 'localhost:3999',
      ...(cookie ? { cookie } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const rowsOf = (orgId: string) => db.select().from(pushSubscriptions).where(eq(pushSubscriptions.orgId, orgId));

describe('subscribing', () => {
  it('stores the subscription for the signed-in patient with the auth secret sealed, and audits it without the endpoint', async () => {
    const org = await createTestOrganisation(handle);
    const { patient, cookie } = await patientWithSession(org.id);
    const sub = service.subscribe();
    const res = await post(org.slug, cookie, { intent: 'subscribe', subscription: sub.json });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ subscribed: true });
    const [row] = await rowsOf(org.id);
    expect(row).toMatchObject({ patientId: patient.id, endpoint: sub.endpoint, p256dh: sub.json.keys.p256dh, disabledAt: null });
    expect(JSON.stringify(row!.auth)).not.toContain(sub.json.keys.auth);
    expect(openJson<string>(vaultRing(dev.config), { orgId: org.id, purpose: PUSH_AUTH_PURPOSE }, row!.auth)).toBe(sub.json.keys.auth);
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'push.subscribed')));
    expect(event).toMatchObject({ actorType: 'patient', actorId: patient.id, subjectId: row!.id });
    expect(JSON.stringify(event)).not.toContain(sub.endpoint);

    // The same browser again (a re-subscribe after the service disowned it): one row, enabled again.
    await db.update(pushSubscriptions).set({ disabledAt: new Date(), disabledReason: 'gone' }).where(eq(pushSubscriptions.id, row!.id));
    expect((await post(org.slug, cookie, { intent: 'subscribe', subscription: sub.json })).status).toBe(200);
    const rows = await rowsOf(org.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: row!.id, disabledAt: null, disabledReason: null });
  });

  it('bad input: 400 with field errors, and nothing stored', async () => {
    const org = await createTestOrganisation(handle);
    const { cookie } = await patientWithSession(org.id);
    const good = service.subscribe().json;
    const cases: [unknown, string][] = [
      [{ intent: 'subscribe', subscription: { ...good, endpoint: 'not a url' } }, 'endpoint'],
      [{ intent: 'subscribe', subscription: { ...good, endpoint: 'http://push.example.com/x' } }, 'endpoint'],
      [{ intent: 'subscribe', subscription: { ...good, endpoint: 'ftp://127.0.0.1/x' } }, 'endpoint'],
      [{ intent: 'subscribe', subscription: { ...good, endpoint: 'https://user:pw@push.example.com/x' } }, 'endpoint'],
      [{ intent: 'subscribe', subscription: { ...good, endpoint: `https://push.example.com/${'x'.repeat(2100)}` } }, 'endpoint'],
      [{ intent: 'subscribe', subscription: { ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 4).toString('base64url') } } }, 'keys.p256dh'],
      [{ intent: 'subscribe', subscription: { ...good, keys: { ...good.keys, p256dh: 'not base64!' } } }, 'keys.p256dh'],
      [{ intent: 'subscribe', subscription: { ...good, keys: { ...good.keys, auth: Buffer.alloc(8).toString('base64url') } } }, 'keys.auth'],
      [{ intent: 'subscribe', subscription: { endpoint: good.endpoint } }, 'keys'],
      [{ intent: 'subscribe' }, 'subscription'],
      [{ intent: 'unsubscribe' }, 'endpoint'],
      [{ intent: 'delete-everything' }, 'intent'],
      ['[1, 2', 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await post(org.slug, cookie, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const json = (await res.json()) as { fieldErrors: Record<string, string> };
      expect(Object.keys(json.fieldErrors), JSON.stringify(body).slice(0, 80)).toContain(field);
    }
    expect(await rowsOf(org.id)).toHaveLength(0);
  });

  it('needs a session, JSON, and a same-origin request', async () => {
    const org = await createTestOrganisation(handle);
    const { cookie } = await patientWithSession(org.id);
    const sub = service.subscribe();
    const signedOut = await post(org.slug, undefined, { intent: 'subscribe', subscription: sub.json });
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get('location')).toBe(`/o/${org.slug}/sign-in`);
    const crossSite = await post(org.slug, cookie, { intent: 'subscribe', subscription: sub.json }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    const form = await post(org.slug, cookie, 'intent=subscribe', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(await rowsOf(org.id)).toHaveLength(0);
  });
});

describe('EN3: one patient, one organisation', () => {
  it('a session for one organisation cannot subscribe into another', async () => {
    const [home, other] = [await createTestOrganisation(handle), await createTestOrganisation(handle)];
    const { cookie } = await patientWithSession(home.id);
    const res = await post(other.slug, cookie, { intent: 'subscribe', subscription: service.subscribe().json });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/o/${other.slug}/sign-in`);
    expect(await rowsOf(other.id)).toHaveLength(0);
    expect(await rowsOf(home.id)).toHaveLength(0);
  });

  it("a patient cannot remove another patient's subscription, and removes their own", async () => {
    const org = await createTestOrganisation(handle);
    const alice = await patientWithSession(org.id);
    const bob = await patientWithSession(org.id);
    const aliceSub = service.subscribe();
    expect((await post(org.slug, alice.cookie, { intent: 'subscribe', subscription: aliceSub.json })).status).toBe(200);

    const attempt = await post(org.slug, bob.cookie, { intent: 'unsubscribe', endpoint: aliceSub.endpoint });
    expect(attempt.status).toBe(200); // no hint whether the endpoint exists
    expect(await rowsOf(org.id)).toHaveLength(1);

    const own = await post(org.slug, alice.cookie, { intent: 'unsubscribe', endpoint: aliceSub.endpoint });
    expect(own.status).toBe(200);
    expect(await rowsOf(org.id)).toHaveLength(0);
    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'push.unsubscribed')));
    expect(event).toMatchObject({ actorId: alice.patient.id });
  });
});

describe('the preferences page', () => {
  it('offers the opt-in with the VAPID public key', async () => {
    const org = await createTestOrganisation(handle);
    const { cookie } = await patientWithSession(org.id);
    const res = await dev.fetch(`/o/${org.slug}/preferences`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Notifications on this device');
    expect(html).toContain(dev.config.push!.publicKey);
    expect(html).toContain('role="status"');
  });
});
