// Outbound webhooks with real processes: events written by real business functions leave through the outbox, signed
// so that the independent `standardwebhooks` package verifies them as a client of ours would. A dispatcher killed
// with SIGKILL mid-delivery loses nothing: every event arrives at least once, always under the same webhook-id.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { webhookAttempts, webhookDeliveries } from '../../db/schema/index';
import { createWebhookEndpoint, isPrivateAddress, replayWebhookDelivery, runWebhookPass } from '../../server/delivery/webhooks';
import { recordOutboundEvent } from '../../server/events/outbound';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
const vault = kekRing(Buffer.alloc(32, 7));
const logger = createLogger({ level: 'silent' });

type Received = { id: string; timestamp: string; signature: string; body: string };

/** A local endpoint: records every request; `answer` decides the status, `delayMs` holds the response. */
async function startReceiver(options: { answer?: (r: Received, n: number) => number; delayMs?: number } = {}) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r = { id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']), body };
      received.push(r);
      const status = options.answer?.(r, received.length) ?? 204;
      setTimeout(() => res.writeHead(status).end(), options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function events(orgId: string, patientId: string, n: number, type: 'message.opened' | 'consent.revoked' = 'message.opened') {
  await db.transaction(async (tx) => {
    for (let i = 0; i < n; i++) await recordOutboundEvent(tx, orgId, { type, patientId, payload: { n: i }, occurredAt: new Date() });
  });
}

afterAll(async () => {
  await handle.close();
});

describe('webhooks', () => {
  it('signed deliveries verify with standardwebhooks; only subscribed types are sent; ids only in the body', async () => {
    const org = await createTestOrganisation(handle, 'Hook Clinic');
    const { patient } = await createTestPatient(handle, org.id);
    const receiver = await startReceiver();
    try {
      const { endpoint, secret } = await createWebhookEndpoint(db, vault, { orgId: org.id, url: receiver.url, eventTypes: ['message.opened'], actor: { type: 'organisation', id: 'k' }, now: new Date() });
      await events(org.id, patient.id, 2);
      await events(org.id, patient.id, 1, 'consent.revoked');
      while ((await runWebhookPass({ db, vault, logger, orgIds: [org.id], allowPrivateNetworks: true })) > 0);
      expect(receiver.received).toHaveLength(2);
      const verifier = new Webhook(secret);
      for (const r of receiver.received) {
        const payload = verifier.verify(r.body, { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature }) as { type: string; data: Record<string, unknown> };
        expect(payload.type).toBe('message.opened');
        expect(payload.data.patient).toEqual({ id: patient.id, externalRef: patient.externalRef });
        expect(r.body).not.toContain(patient.displayName);
      }
      // A tampered body or another secret does not verify.
      const r = receiver.received[0]!;
      expect(() => verifier.verify(r.body.replace('message.opened', 'message.openex'), { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature })).toThrow();
      expect(() => new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(r.body, { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature })).toThrow();
      const rows = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpoint.id));
      expect(rows.map((d) => d.status)).toEqual(['delivered', 'delivered']);
    } finally {
      await receiver.close();
    }
  });

  it('a refused delivery is retried later with the same webhook-id, logged per attempt, and can be replayed', async () => {
    const org = await createTestOrganisation(handle, 'Retry Hook Clinic');
    const { patient } = await createTestPatient(handle, org.id);
    const receiver = await startReceiver({ answer: (_r, n) => (n === 1 ? 503 : 200) });
    try {
      await createWebhookEndpoint(db, vault, { orgId: org.id, url: receiver.url, eventTypes: ['message.opened'], actor: { type: 'organisation', id: 'k' }, now: new Date() });
      await events(org.id, patient.id, 1);
      await runWebhookPass({ db, vault, logger, orgIds: [org.id], allowPrivateNetworks: true });
      const [pending] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.orgId, org.id));
      expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 503, lastError: 'http_503' });
      expect(pending!.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
      await db.update(webhookDeliveries).set({ nextAttemptAt: new Date() }).where(eq(webhookDeliveries.id, pending!.id));
      await runWebhookPass({ db, vault, logger, orgIds: [org.id], allowPrivateNetworks: true });
      const [done] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, pending!.id));
      expect(done).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 200 });
      expect((await db.select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, pending!.id))).map((a) => a.statusCode)).toEqual([503, 200]);
      expect(await replayWebhookDelivery(db, { orgId: (await createTestOrganisation(handle, 'Stranger')).id, deliveryId: pending!.id })).toBeUndefined();
      expect(await replayWebhookDelivery(db, { orgId: org.id, deliveryId: pending!.id })).toMatchObject({ status: 'pending' });
      await runWebhookPass({ db, vault, logger, orgIds: [org.id], allowPrivateNetworks: true });
      expect(receiver.received.map((r) => r.id)).toEqual([pending!.id, pending!.id, pending!.id]);
    } finally {
      await receiver.close();
    }
  });

  it('SSRF: in production an endpoint on a loopback or private address is not called, and the attempt says why', async () => {
    expect(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1'].every(isPrivateAddress)).toBe(true);
    expect(['8.8.8.8', '172.32.0.1', '2001:4860:4860::8888', '93.184.216.34'].some(isPrivateAddress)).toBe(false);
    const org = await createTestOrganisation(handle, 'SSRF Clinic');
    const { patient } = await createTestPatient(handle, org.id);
    const receiver = await startReceiver();
    try {
      await createWebhookEndpoint(db, vault, { orgId: org.id, url: receiver.url, eventTypes: ['message.opened'], actor: { type: 'organisation', id: 'k' }, now: new Date() });
      await events(org.id, patient.id, 1);
      await runWebhookPass({ db, vault, logger, orgIds: [org.id] });
      expect(receiver.received).toHaveLength(0);
      const [row] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.orgId, org.id));
      expect(row).toMatchObject({ status: 'pending', lastError: 'private_address', lastStatusCode: null });
    } finally {
      await receiver.close();
    }
  });

  it('after kill -9 of the dispatcher during delivery, every event still arrives, under a stable webhook-id', async () => {
    const org = await createTestOrganisation(handle, 'Crash Hook Clinic');
    const { patient } = await createTestPatient(handle, org.id);
    // Slow answers: the first process is killed while requests are in flight.
    const receiver = await startReceiver({ delayMs: 150 });
    const children: ChildProcess[] = [];
    const start = async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/webhook-worker.ts'], {
        env: { ...process.env, DATABASE_URL: inject('databaseUrl'), ORG_ID: org.id },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
      return child;
    };
    try {
      await createWebhookEndpoint(db, vault, { orgId: org.id, url: receiver.url, eventTypes: ['message.opened'], actor: { type: 'organisation', id: 'k' }, now: new Date() });
      await events(org.id, patient.id, 40);
      const first = await start();
      await waitFor(() => receiver.received.length >= 5);
      first.kill('SIGKILL');
      await events(org.id, patient.id, 10);
      await start();
      await waitFor(async () => {
        const rows = await db.select({ status: webhookDeliveries.status }).from(webhookDeliveries).where(eq(webhookDeliveries.orgId, org.id));
        return rows.length === 50 && rows.every((r) => r.status === 'delivered');
      }, 30_000);
      const rows = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.orgId, org.id));
      const ids = new Set(rows.map((r) => r.id));
      const arrived = new Map<string, Set<string>>();
      for (const r of receiver.received) {
        expect(ids.has(r.id)).toBe(true);
        const eventId = (JSON.parse(r.body) as { data: { eventId: string } }).data.eventId;
        (arrived.get(eventId) ?? arrived.set(eventId, new Set()).get(eventId)!).add(r.id);
      }
      // Every event arrived, each always under one webhook-id (duplicates, if any, share it).
      expect(arrived.size).toBe(50);
      // The killed process had requests in flight (answers are held 150 ms): they were sent again, so the crash path ran.
      expect(receiver.received.length).toBeGreaterThan(50);
      expect([...arrived.values()].every((s) => s.size === 1)).toBe(true);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await receiver.close();
    }
  }, 60_000);
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
