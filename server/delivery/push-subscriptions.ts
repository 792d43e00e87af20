// Web push subscriptions (issue 9, ADR 015): what a patient's browser hands us after pushManager.subscribe(), checked,
// stored per organisation with the auth secret sealed, and removed again by the patient or disabled when the push
// service says it is gone. Every query is scoped to the organisation, and the patient's own rows (EN3).
import { createHash, ECDH } from 'node:crypto';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, DbOrTx } from '../../db/client';
import { pushSubscriptions, type PushDisabledReason } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { openJson, sealJson, type KekRing } from '../messages/vault';
import type { PushTarget } from './push';

export const PUSH_AUTH_PURPOSE = 'push-auth';
const MAX_ENDPOINT = 2048;

export type SubscriptionInput = { endpoint: string; p256dh: string; auth: string };
export type ParseResult = { ok: true; value: SubscriptionInput } | { ok: false; fieldErrors: Record<string, string> };

const base64url = /^[A-Za-z0-9_-]+={0,2}$/;
const decode = (value: string) => Buffer.from(value.replace(/=+$/, ''), 'base64url');

/** RFC 8291: p256dh is an uncompressed P-256 point (65 bytes); convertKey refuses one that is not on the curve. */
function isP256Point(value: string): boolean {
  const bytes = decode(value);
  if (bytes.length !== 65 || bytes[0] !== 4) return false;
  try {
    ECDH.convertKey(bytes, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

function endpointProblem(raw: string, allowLoopbackHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'The endpoint must be a URL.';
  }
  if (raw.length > MAX_ENDPOINT) return `The endpoint must be at most ${MAX_ENDPOINT} characters.`;
  if (url.username || url.password) return 'The endpoint must not carry credentials.';
  if (url.protocol === 'https:') return undefined;
  // Outside production only: the tests' and a developer's local push service speak plain http on loopback.
  if (allowLoopbackHttp && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return 'The endpoint must be an https URL.';
}

const subscriptionSchema = z.object({
  endpoint: z.string({ error: 'The endpoint is missing.' }).min(1, 'The endpoint is missing.'),
  expirationTime: z.number().nullable().optional(),
  keys: z.object(
    {
      p256dh: z.string({ error: 'The p256dh key is missing.' }).regex(base64url, 'The p256dh key must be base64url.').refine(isP256Point, 'The p256dh key must be a P-256 public key.'),
      auth: z
        .string({ error: 'The auth secret is missing.' })
        .regex(base64url, 'The auth secret must be base64url.')
        .refine((v) => decode(v).length === 16, 'The auth secret must be 16 bytes.'),
    },
    { error: 'The subscription keys are missing.' },
  ),
});

/** A PushSubscription's JSON (`subscription.toJSON()`), checked field by field (400 with field errors on failure). */
export function parseSubscription(input: unknown, options: { allowLoopbackHttp: boolean }): ParseResult {
  const parsed = subscriptionSchema.safeParse(input);
  const fieldErrors: Record<string, string> = {};
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.length ? issue.path.join('.') : 'subscription';
      fieldErrors[key] ??= issue.path.length ? issue.message : 'Send the subscription as a JSON object.';
    }
  }
  const endpoint = (input as { endpoint?: unknown } | null)?.endpoint;
  if (typeof endpoint === 'string' && endpoint !== '' && !fieldErrors.endpoint) {
    const problem = endpointProblem(endpoint, options.allowLoopbackHttp);
    if (problem) fieldErrors.endpoint = problem;
  }
  if (!parsed.success || Object.keys(fieldErrors).length > 0) return { ok: false, fieldErrors };
  const { keys } = parsed.data;
  return { ok: true, value: { endpoint: parsed.data.endpoint, p256dh: decode(keys.p256dh).toString('base64url'), auth: decode(keys.auth).toString('base64url') } };
}

/** A short fingerprint of an endpoint: lets the page tell whether this browser's subscription is one we hold, without the URL. */
export function endpointFingerprint(endpoint: string): string {
  return createHash('sha256').update(endpoint).digest('base64url').slice(0, 22);
}

/**
 * Stores the subscription for this patient. The same endpoint (the same browser) in this organisation moves to the
 * patient who subscribed last: on a shared device, notices follow the person who turned them on there (ADR 015).
 */
export async function subscribePush(
  db: Database,
  ring: KekRing,
  options: { orgId: string; patientId: string; subscription: SubscriptionInput; now: Date },
): Promise<{ subscriptionId: string; movedFromAnotherPatient: boolean }> {
  const { orgId, patientId, subscription, now } = options;
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select({ id: pushSubscriptions.id, patientId: pushSubscriptions.patientId })
      .from(pushSubscriptions)
      .where(and(eq(pushSubscriptions.orgId, orgId), eq(pushSubscriptions.endpoint, subscription.endpoint)))
      .for('update');
    const auth = sealJson(ring, { orgId, purpose: PUSH_AUTH_PURPOSE }, subscription.auth);
    const [row] = await tx
      .insert(pushSubscriptions)
      .values({ orgId, patientId, endpoint: subscription.endpoint, p256dh: subscription.p256dh, auth, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({
        target: [pushSubscriptions.orgId, pushSubscriptions.endpoint],
        set: { patientId, p256dh: subscription.p256dh, auth, updatedAt: now, disabledAt: null, disabledReason: null },
      })
      .returning({ id: pushSubscriptions.id });
    const moved = existing !== undefined && existing.patientId !== patientId;
    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: patientId,
      action: 'push.subscribed',
      subjectType: 'push_subscription',
      subjectId: row!.id,
      details: { renewed: existing !== undefined && !moved, movedFromAnotherPatient: moved },
    });
    return { subscriptionId: row!.id, movedFromAnotherPatient: moved };
  });
}

/** Removes this patient's subscription for that endpoint; another patient's (or organisation's) row is never touched. */
export async function unsubscribePush(db: Database, options: { orgId: string; patientId: string; endpoint: string }): Promise<boolean> {
  return db.transaction(async (tx) => {
    const removed = await tx
      .delete(pushSubscriptions)
      .where(and(eq(pushSubscriptions.orgId, options.orgId), eq(pushSubscriptions.patientId, options.patientId), eq(pushSubscriptions.endpoint, options.endpoint)))
      .returning({ id: pushSubscriptions.id });
    if (removed.length === 0) return false;
    await appendAudit(tx, options.orgId, {
      actorType: 'patient',
      actorId: options.patientId,
      action: 'push.unsubscribed',
      subjectType: 'push_subscription',
      subjectId: removed[0]!.id,
      details: {},
    });
    return true;
  });
}

/** What the preferences page needs: fingerprints of the patient's active subscriptions. */
export async function pushSubscriptionsOf(db: DbOrTx, orgId: string, patientId: string): Promise<{ fingerprints: string[] }> {
  const rows = await db
    .select({ endpoint: pushSubscriptions.endpoint })
    .from(pushSubscriptions)
    .where(and(eq(pushSubscriptions.orgId, orgId), eq(pushSubscriptions.patientId, patientId), isNull(pushSubscriptions.disabledAt)));
  return { fingerprints: rows.map((r) => endpointFingerprint(r.endpoint)) };
}

/** The hand-off's list: the patient's active subscriptions, auth secrets opened. */
export async function activePushTargets(db: DbOrTx, ring: KekRing, orgId: string, patientId: string): Promise<(PushTarget & { id: string })[]> {
  const rows = await db
    .select()
    .from(pushSubscriptions)
    .where(and(eq(pushSubscriptions.orgId, orgId), eq(pushSubscriptions.patientId, patientId), isNull(pushSubscriptions.disabledAt)))
    .orderBy(pushSubscriptions.createdAt);
  return rows.map((r) => ({ id: r.id, endpoint: r.endpoint, p256dh: r.p256dh, auth: openJson<string>(ring, { orgId, purpose: PUSH_AUTH_PURPOSE }, r.auth) }));
}

/**
 * The push service answered 404 or 410: the browser dropped the subscription. Committed on its own, whatever becomes of
 * the delivery that found out, with an audit event naming only ids and the reason.
 */
export async function disablePushSubscription(db: Database, options: { orgId: string; subscriptionId: string; reason: PushDisabledReason; deliveryId?: string; now: Date }): Promise<void> {
  await db.transaction(async (tx) => {
    const disabled = await tx
      .update(pushSubscriptions)
      .set({ disabledAt: options.now, disabledReason: options.reason, updatedAt: options.now })
      .where(and(eq(pushSubscriptions.orgId, options.orgId), eq(pushSubscriptions.id, options.subscriptionId), isNull(pushSubscriptions.disabledAt)))
      .returning({ id: pushSubscriptions.id });
    if (disabled.length === 0) return;
    await appendAudit(tx, options.orgId, {
      actorType: 'system',
      action: 'push.subscription_disabled',
      subjectType: 'push_subscription',
      subjectId: options.subscriptionId,
      details: { reason: options.reason, deliveryId: options.deliveryId ?? null },
    });
  });
}

export async function markPushSuccess(db: DbOrTx, orgId: string, subscriptionIds: string[], now: Date): Promise<void> {
  if (subscriptionIds.length === 0) return;
  await db
    .update(pushSubscriptions)
    .set({ lastSuccessAt: now })
    .where(and(eq(pushSubscriptions.orgId, orgId), inArray(pushSubscriptions.id, subscriptionIds)));
}
