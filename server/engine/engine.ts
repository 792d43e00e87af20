// Claim, gate, route, hand off and record (ARCHITECTURE.md, "The send engine", steps 2-5).
// - Claim: due rows in batches, FOR UPDATE SKIP LOCKED, with a lease; an expired lease is claimed again.
// - Each claimed delivery then runs in its own transaction: facts (the consent row FOR SHARE), decide(), and for an
//   allow the hand-off to the transport, then the outcome, committed right after the transport accepts. The lock is
//   held across the hand-off, so a revocation that commits first blocks the delivery, and one that comes later waits
//   for the hand-off (RV1, DL3).
// - At-least-once: if the process dies between the transport's acceptance and the commit, the lease expires and the
//   delivery is handed off again with the same Message-ID (DL2), which receivers use to drop the copy.
import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, lte, or } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { deliveries, messages, organisations, type Delivery, type DeliveryRoute } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import type { SmsTransport } from '../delivery/sms';
import { messageIdFor } from '../delivery/compose';
import { TransportError, type MailTransport, type OutgoingMail } from '../delivery/transport';
import { LINK_PATHS } from '../links/links';
import { mintLink, type LinkKeyring } from '../links/tokens';
import type { Logger } from '../logger';
import { openJson, type KekRing, type MessageContent } from '../vault/vault';
import { MESSAGE_CONTENT } from './enqueue';
import { loadFacts } from './facts';
import { decide, type Decision } from './gate';

export const LEASE_MS = 60_000;
/** After this long from enqueue, a delivery that still fails is given up (failed, `max_age`). */
export const MAX_AGE_MS = 24 * 60 * 60 * 1000;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 60 * 60 * 1000;

export type EngineDeps = {
  db: Database;
  vault: KekRing;
  links: LinkKeyring;
  publicUrl: URL;
  mailFrom: string;
  /** The domain of our Message-IDs (DL2). */
  messageIdDomain: string;
  /** The relay for notices (and everything, until direct TLS delivery is configured). */
  mail: MailTransport;
  sms: SmsTransport | undefined;
  logger: Logger;
  workerId?: string;
};

export type Outcome = 'sent' | 'blocked' | 'deferred' | 'retry' | 'failed';

/** Claims up to `limit` due deliveries for this worker. Rows another worker holds are skipped, never waited for. */
export async function claimBatch(deps: EngineDeps, limit: number, now: Date): Promise<Delivery[]> {
  const workerId = deps.workerId ?? 'worker';
  return deps.db.transaction(async (tx) => {
    const due = await tx
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(
        and(
          lte(deliveries.dueAt, now),
          or(eq(deliveries.status, 'queued'), and(eq(deliveries.status, 'sending'), lte(deliveries.leaseUntil, now))),
        ),
      )
      .orderBy(asc(deliveries.dueAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    if (due.length === 0) return [];
    return tx
      .update(deliveries)
      .set({ status: 'sending', leasedBy: workerId, leaseUntil: new Date(now.getTime() + LEASE_MS), updatedAt: now })
      .where(inArray(deliveries.id, due.map((d) => d.id)))
      .returning();
  });
}

function backoff(attempts: number): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(base / 2 + Math.random() * (base / 2)); // "equal jitter"
}

type Handoff = { route: DeliveryRoute; messageIdHeader: string | null };

/** Gates one claimed delivery and, when allowed, hands it off; every outcome is recorded in the same transaction. */
export async function processDelivery(deps: EngineDeps, claimed: Delivery, now = new Date()): Promise<Outcome> {
  try {
    return await deps.db.transaction(async (tx) => {
      // Re-read under a row lock: the lease may have expired and another worker may have finished it meanwhile.
      const [d] = await tx.select().from(deliveries).where(eq(deliveries.id, claimed.id)).for('update');
      if (!d || d.status !== 'sending' || d.leasedBy !== claimed.leasedBy) return 'deferred' as const;
      const [message] = await tx.select().from(messages).where(and(eq(messages.orgId, d.orgId), eq(messages.id, d.messageId)));
      const { facts, contactValue } = await loadFacts(tx, d, now);
      const decision = decide({ category: d.category, topicId: d.topicId, channel: d.channel, sendBy: message!.sendBy }, facts, now);
      if (decision.kind !== 'allow') return record(tx, d, decision, now);

      const handoff = await handOff(deps, tx, d, message!.content, contactValue, now);
      await tx
        .update(deliveries)
        .set({
          status: 'sent',
          decision: 'allow',
          reason: decision.reason,
          basisEventId: decision.basis?.grantEventId ?? null,
          basisTextHash: decision.basis?.textHash ?? null,
          route: handoff.route,
          messageIdHeader: handoff.messageIdHeader,
          attempts: d.attempts + 1,
          leasedBy: null,
          leaseUntil: null,
          lastError: null,
          sentAt: now,
          updatedAt: now,
        })
        .where(eq(deliveries.id, d.id));
      await appendAudit(tx, d.orgId, {
        actorType: 'system',
        action: 'delivery.sent',
        subjectType: 'delivery',
        subjectId: d.id,
        details: { reason: decision.reason, route: handoff.route, basisEventId: decision.basis?.grantEventId ?? null, channel: d.channel },
      });
      return 'sent' as const;
    });
  } catch (error) {
    if (!(error instanceof TransportError)) throw error;
    return recordFailure(deps, claimed, error, now);
  }
}

async function record(tx: Tx, d: Delivery, decision: Exclude<Decision, { kind: 'allow' }>, now: Date): Promise<Outcome> {
  const blocked = decision.kind === 'block';
  await tx
    .update(deliveries)
    .set({
      status: blocked ? 'blocked' : 'queued',
      decision: decision.kind,
      reason: decision.reason,
      dueAt: blocked ? d.dueAt : decision.until,
      leasedBy: null,
      leaseUntil: null,
      updatedAt: now,
    })
    .where(eq(deliveries.id, d.id));
  await appendAudit(tx, d.orgId, {
    actorType: 'system',
    action: blocked ? 'delivery.blocked' : 'delivery.deferred',
    subjectType: 'delivery',
    subjectId: d.id,
    details: { reason: decision.reason, channel: d.channel, ...(blocked ? {} : { until: decision.until.toISOString() }) },
  });
  return blocked ? 'blocked' : 'deferred';
}

/** A transport error: 4xx and network errors retry with backoff until the maximum age; 5xx fails. */
async function recordFailure(deps: EngineDeps, claimed: Delivery, error: TransportError, now: Date): Promise<Outcome> {
  const attempts = claimed.attempts + 1;
  const tooOld = now.getTime() - claimed.createdAt.getTime() >= MAX_AGE_MS;
  const failed = error.permanent || tooOld;
  const errorCode = error.responseCode ? `smtp_${error.responseCode}` : error.code;
  await deps.db.transaction(async (tx) => {
    await tx
      .update(deliveries)
      .set({
        status: failed ? 'failed' : 'queued',
        attempts,
        lastError: errorCode,
        reason: failed ? (tooOld && !error.permanent ? 'max_age' : 'permanent_failure') : 'transient_failure',
        dueAt: failed ? claimed.dueAt : new Date(now.getTime() + backoff(attempts)),
        leasedBy: null,
        leaseUntil: null,
        updatedAt: now,
      })
      .where(and(eq(deliveries.id, claimed.id), eq(deliveries.status, 'sending')));
    await appendAudit(tx, claimed.orgId, {
      actorType: 'system',
      action: failed ? 'delivery.failed' : 'delivery.retry',
      subjectType: 'delivery',
      subjectId: claimed.id,
      details: { errorCode, attempts },
    });
  });
  deps.logger.warn({ deliveryId: claimed.id, errorCode, attempts, failed }, 'delivery hand-off failed');
  return failed ? 'failed' : 'retry';
}

async function orgOf(tx: Tx, orgId: string) {
  const [org] = await tx.select({ slug: organisations.slug, name: organisations.name }).from(organisations).where(eq(organisations.id, orgId));
  return org!;
}

async function pickupUrl(deps: EngineDeps, d: Delivery, slug: string, now: Date): Promise<string> {
  const token = await mintLink(deps.links, { purpose: 'pickup', orgId: d.orgId, patientId: d.patientId, context: { deliveryId: d.id }, now, linkId: randomUUID() });
  return new URL(`/o/${slug}/${LINK_PATHS.pickup}/${token}`, deps.publicUrl).toString();
}

async function unsubscribeUrl(deps: EngineDeps, d: Delivery, slug: string, now: Date): Promise<string> {
  const token = await mintLink(deps.links, { purpose: 'unsubscribe', orgId: d.orgId, patientId: d.patientId, context: { topicId: d.topicId!, channel: d.channel }, now, linkId: randomUUID() });
  return new URL(`/o/${slug}/${LINK_PATHS.unsubscribe}/${token}`, deps.publicUrl).toString();
}

/**
 * Route and hand-off. Email goes as a PHI-free notice with a signed pickup link (the portal fallback, EM4) until a
 * route that protects the content end to end or in transit is available; SMS always carries a notice; the portal
 * needs no transport (the message waits in the patient's inbox).
 */
async function handOff(deps: EngineDeps, tx: Tx, d: Delivery, sealed: Parameters<typeof openJson>[2], to: string | null, now: Date): Promise<Handoff> {
  if (d.channel === 'portal') return { route: 'portal', messageIdHeader: null };
  const org = await orgOf(tx, d.orgId);
  const pickup = await pickupUrl(deps, d, org.slug, now);
  if (d.channel === 'sms') {
    if (!deps.sms) throw new TransportError('no SMS transport configured', 'no_sms_transport', 550);
    await deps.sms.send({ to: to!, body: `${org.name}: you have a new message. Read it securely: ${pickup}`, reference: d.id }).catch((error: { code?: string }) => {
      throw new TransportError('sms hand-off failed', error.code ?? 'sms_failed', error.code === 'invalid_number' || error.code === 'rejected' ? 550 : undefined);
    });
    return { route: 'sms_notice', messageIdHeader: null };
  }
  // The content is opened only to check it is intact before a notice about it goes out; a notice never carries it.
  openJson<MessageContent>(deps.vault, { orgId: d.orgId, purpose: MESSAGE_CONTENT }, sealed);
  const messageIdHeader = messageIdFor(d.id, deps.messageIdDomain);
  const headers: Record<string, string> = {};
  const lines = [`You have a new message from ${org.name}.`, '', `Read it securely in the portal: ${pickup}`, '', 'The link works for 30 days.'];
  if (d.category === 'marketing') {
    const unsubscribe = await unsubscribeUrl(deps, d, org.slug, now);
    const mailto = `mailto:unsubscribe@${deps.messageIdDomain}?subject=unsubscribe`;
    headers['List-Unsubscribe'] = `<${unsubscribe}>, <${mailto}>`;
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    lines.push('', `Unsubscribe from these messages: ${unsubscribe}`);
  }
  const mail: OutgoingMail = {
    from: deps.mailFrom,
    to: to!,
    subject: `New message from ${org.name}`,
    text: lines.join('\n'),
    messageId: messageIdHeader,
    headers,
  };
  await deps.mail.send(mail);
  return { route: 'portal_notice', messageIdHeader };
}

/** One worker pass: claim a batch and process it with bounded concurrency. Returns how many were handled. */
export async function runPass(deps: EngineDeps, options: { batchSize: number; concurrency: number }): Promise<number> {
  const batch = await claimBatch(deps, options.batchSize, new Date());
  let next = 0;
  const lane = async () => {
    while (next < batch.length) {
      const d = batch[next++]!;
      try {
        await processDelivery(deps, d, new Date());
      } catch (error) {
        // Left 'sending': the lease expires and another pass picks it up again.
        deps.logger.error({ deliveryId: d.id, errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'delivery processing failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, batch.length) }, lane));
  return batch.length;
}

