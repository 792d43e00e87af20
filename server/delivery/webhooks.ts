// Outbound webhooks (issue 7): events leave through the database. Every business change already writes an
// outbound_events row in its own transaction (the outbox); the fan-out copies each new event once into
// webhook_deliveries for every endpoint subscribed to its type; the dispatcher claims due deliveries with a lease,
// signs them the Standard Webhooks way and POSTs them, retrying with backoff. A process killed mid-delivery loses
// nothing: its lease runs out and another pass sends the same delivery again, with the same webhook-id.
import { createHmac, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { outboundEvents, patients, webhookAttempts, webhookDeliveries, webhookEndpoints, type WebhookDelivery } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import type { OutboundEventType } from '../events/outbound';
import { isUuid } from '../ids';
import type { Logger } from '../logger';
import { open, seal, type KekRing } from '../messages/vault';

export const WEBHOOK_EVENT_TYPES = [
  'delivery.sent',
  'delivery.deferred',
  'delivery.blocked',
  'delivery.failed',
  'delivery.bounced',
  'delivery.complained',
  'message.opened',
  'message.reply_received',
  'message.retracted',
  'consent.granted',
  'consent.renewed',
  'consent.revoked',
  'consent.expired',
  'preferences.updated',
  'contact_point.added',
  'contact_point.removed',
  'suppression.added',
] as const satisfies readonly OutboundEventType[];

export const WEBHOOK_SECRET_PURPOSE = 'webhook-secret';
export const MAX_WEBHOOK_ATTEMPTS = 10;
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_CAP_MS = 6 * 3_600_000;
const TIMEOUT_MS = 10_000;

/** Who registered or disabled an endpoint: an API key of the organisation, or one of its admins. */
export type WebhookActor = { type: 'organisation' | 'admin'; id: string };

/** Endpoints must use https; plain http only where the deployment allows it (development and tests). */
export function checkWebhookUrl(raw: string, allowHttp: boolean): { ok: true; url: string } | { ok: false; message: string } {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, message: 'Enter a full URL, such as https://example.org/carepost-events.' };
  }
  if (raw.length > 2000) return { ok: false, message: 'Use a URL of 2,000 characters or fewer.' };
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) return { ok: false, message: 'Use an https URL.' };
  if (url.username || url.password) return { ok: false, message: 'Leave credentials out of the URL; deliveries are signed instead.' };
  return { ok: true, url: url.toString() };
}

export async function listWebhookEndpoints(db: DbOrTx, orgId: string) {
  return db.select().from(webhookEndpoints).where(eq(webhookEndpoints.orgId, orgId)).orderBy(desc(webhookEndpoints.createdAt));
}

export async function createWebhookEndpoint(db: Database, ring: KekRing, options: { orgId: string; url: string; eventTypes: string[]; actor: WebhookActor; now: Date }) {
  // Standard Webhooks: the secret is `whsec_` and base64 of the key bytes.
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(webhookEndpoints)
      .values({ orgId: options.orgId, url: options.url, eventTypes: [...new Set(options.eventTypes)], secret: seal(ring, { orgId: options.orgId, purpose: WEBHOOK_SECRET_PURPOSE }, secret), createdAt: options.now })
      .returning();
    await appendAudit(tx, options.orgId, {
      actorType: options.actor.type,
      actorId: options.actor.id,
      action: 'webhook.endpoint_created',
      subjectType: 'webhook_endpoint',
      subjectId: row!.id,
      details: { eventTypes: row!.eventTypes },
    });
    return { endpoint: row!, secret };
  });
}

export async function disableWebhookEndpoint(db: Database, options: { orgId: string; endpointId: string; actor: WebhookActor; now: Date }): Promise<boolean> {
  if (!isUuid(options.endpointId)) return false;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(webhookEndpoints)
      .set({ disabledAt: options.now })
      .where(and(eq(webhookEndpoints.orgId, options.orgId), eq(webhookEndpoints.id, options.endpointId), isNull(webhookEndpoints.disabledAt)))
      .returning({ id: webhookEndpoints.id });
    if (!row) return false;
    await appendAudit(tx, options.orgId, { actorType: options.actor.type, actorId: options.actor.id, action: 'webhook.endpoint_disabled', subjectType: 'webhook_endpoint', subjectId: row.id });
    return true;
  });
}

/**
 * Copies new events into deliveries, once each: events are taken FOR UPDATE SKIP LOCKED and marked dispatched in
 * the same statement, so two dispatchers never copy one event twice and an event that commits late is still taken.
 */
/** `and org_id in (...)` when a pass is limited to some organisations (a dedicated worker, tests sharing a database). */
const orgFilter = (orgIds: string[] | undefined) => (orgIds ? sql`and org_id in (${sql.join(orgIds.map((id) => sql`${id}::uuid`), sql`, `)})` : sql``);

export async function fanOutEvents(db: DbOrTx, options: { limit?: number; orgIds?: string[] } = {}): Promise<number> {
  const rows = await db.execute<{ events: number }>(sql`
    with batch as (
      select id from outbound_events where dispatched_at is null ${orgFilter(options.orgIds)}
      order by created_at limit ${options.limit ?? 500} for update skip locked
    ), marked as (
      update outbound_events e set dispatched_at = now() from batch where e.id = batch.id
      returning e.id, e.org_id, e.type, e.created_at
    ), copied as (
      insert into webhook_deliveries (org_id, endpoint_id, event_id, event_type, next_attempt_at, created_at)
      select m.org_id, w.id, m.id, m.type, now(), now()
      from marked m join webhook_endpoints w on w.org_id = m.org_id and w.disabled_at is null and m.type = any(w.event_types) and w.created_at <= m.created_at
      on conflict (endpoint_id, event_id) do nothing
      returning 1
    )
    select (select count(*) from marked)::int as events`);
  return Number(rows[0]?.events ?? 0);
}

/** Due deliveries, each moved one lease ahead so nobody else takes it meanwhile (and a crash only delays it). */
export async function claimWebhookDeliveries(db: DbOrTx, options: { limit: number; leaseMs: number; orgIds?: string[] }): Promise<WebhookDelivery[]> {
  const due = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(sql`${webhookDeliveries.status} = 'pending' and ${webhookDeliveries.nextAttemptAt} <= now() ${orgFilter(options.orgIds)}`)
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(options.limit)
    .for('update', { skipLocked: true });
  return db
    .update(webhookDeliveries)
    .set({ nextAttemptAt: sql`now() + ${`${options.leaseMs} milliseconds`}::interval`, attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(inArray(webhookDeliveries.id, due))
    .returning();
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the secret's key bytes (Standard Webhooks). */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

function backoff(attempts: number): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** The JSON an endpoint receives: the event type, when it happened, and ids only (no PHI). */
async function bodyOf(db: DbOrTx, d: WebhookDelivery): Promise<string> {
  const [event] = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, d.orgId), eq(outboundEvents.id, d.eventId)));
  const [patient] = event?.patientId
    ? await db.select({ id: patients.id, externalRef: patients.externalRef }).from(patients).where(and(eq(patients.orgId, d.orgId), eq(patients.id, event.patientId)))
    : [];
  return JSON.stringify({
    type: d.eventType,
    timestamp: (event?.occurredAt ?? d.createdAt).toISOString(),
    data: { eventId: d.eventId, ...(event?.payload ?? {}), ...(patient ? { patient } : {}) },
  });
}

/** Loopback, private, link-local, CGNAT and unique-local addresses: not for an organisation's webhook in production. */
export function isPrivateAddress(address: string): boolean {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  const v6 = address.toLowerCase();
  return v6 === '::1' || v6 === '::' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80');
}

/** SSRF: every address the endpoint's host resolves to must be public (checked before each attempt). */
async function publicTarget(url: string): Promise<boolean> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  return addresses.length > 0 && addresses.every((a) => !isPrivateAddress(a));
}

export async function sendWebhook(
  db: Database,
  ring: KekRing,
  d: WebhookDelivery,
  logger: Logger,
  now = new Date(),
  options: { allowPrivateNetworks?: boolean } = {},
): Promise<'delivered' | 'retry' | 'failed'> {
  const [endpoint] = await db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.orgId, d.orgId), eq(webhookEndpoints.id, d.endpointId)));
  if (!endpoint || endpoint.disabledAt) {
    await db.update(webhookDeliveries).set({ status: 'failed', lastError: 'endpoint_disabled' }).where(eq(webhookDeliveries.id, d.id));
    return 'failed';
  }
  const secret = open(ring, { orgId: d.orgId, purpose: WEBHOOK_SECRET_PURPOSE }, endpoint.secret).toString('utf8');
  const body = await bodyOf(db, d);
  const timestamp = Math.floor(now.getTime() / 1000);
  const started = Date.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    if (!options.allowPrivateNetworks && !(await publicTarget(endpoint.url))) throw Object.assign(new Error('private address'), { cause: { code: 'private_address' } });
    const res = await fetch(endpoint.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Carepost-Webhooks/1',
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secret, d.id, timestamp, body),
      },
      body,
    });
    statusCode = res.status;
    await res.body?.cancel();
  } catch (e) {
    error = (e as Error).name === 'TimeoutError' ? 'timeout' : ((e as { cause?: { code?: string } }).cause?.code ?? 'network_error');
  }
  const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const outcome = ok ? 'delivered' : d.attempts >= MAX_WEBHOOK_ATTEMPTS ? 'failed' : 'retry';
  await db.transaction(async (tx) => {
    await tx.insert(webhookAttempts).values({ deliveryId: d.id, at: now, statusCode, error, durationMs: Date.now() - started });
    await tx
      .update(webhookDeliveries)
      .set({
        status: outcome === 'retry' ? 'pending' : outcome,
        lastStatusCode: statusCode,
        lastError: ok ? null : (error ?? `http_${statusCode}`),
        deliveredAt: ok ? new Date() : null,
        ...(outcome === 'retry' ? { nextAttemptAt: new Date(Date.now() + backoff(d.attempts)) } : {}),
      })
      .where(eq(webhookDeliveries.id, d.id));
  });
  if (!ok) logger.info({ webhookDeliveryId: d.id, statusCode, error, attempts: d.attempts, outcome }, 'webhook not accepted');
  return outcome;
}

/** One dispatcher pass: fan out new events, then send what is due. Returns how much it did. */
export async function runWebhookPass(deps: {
  db: Database;
  vault: KekRing;
  logger: Logger;
  orgIds?: string[];
  leaseMs?: number;
  limit?: number;
  /** Outside production only: endpoints on loopback or private networks (a developer's machine, tests). */
  allowPrivateNetworks?: boolean;
}): Promise<number> {
  const fanned = await deps.db.transaction((tx) => fanOutEvents(tx, { orgIds: deps.orgIds }));
  const due = await claimWebhookDeliveries(deps.db, { limit: deps.limit ?? 20, leaseMs: deps.leaseMs ?? 60_000, orgIds: deps.orgIds });
  await Promise.all(due.map((d) => sendWebhook(deps.db, deps.vault, d, deps.logger, new Date(), { allowPrivateNetworks: deps.allowPrivateNetworks })));
  return fanned + due.length;
}

/** The delivery log of one endpoint, newest first (scoped to the organisation, EN3). */
export async function webhookLog(db: DbOrTx, options: { orgId: string; endpointId: string; limit: number }) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.orgId, options.orgId), eq(webhookDeliveries.endpointId, options.endpointId)))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(options.limit);
}

/** Sends a delivery again, with the same webhook-id: due now, attempts counted afresh. */
export async function replayWebhookDelivery(db: DbOrTx, options: { orgId: string; deliveryId: string }): Promise<WebhookDelivery | undefined> {
  if (!isUuid(options.deliveryId)) return undefined;
  const [row] = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: new Date() })
    .where(and(eq(webhookDeliveries.orgId, options.orgId), eq(webhookDeliveries.id, options.deliveryId)))
    .returning();
  return row;
}
