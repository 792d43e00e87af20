// Claim, gate, route, hand off and record (ARCHITECTURE.md, "The send engine", steps 2-5; ADR 007, ADR 018).
// - Claim: due rows in batches, FOR UPDATE SKIP LOCKED, with a lease; an expired lease is claimed again.
// - Each claimed batch then runs in one transaction that holds its consent locks (shared) from the gate to the last
//   hand-off: facts for the whole batch (consent rows FOR SHARE), decide(), and for an allow the hand-off to the
//   transport. A revocation that commits first blocks the delivery; one that comes later waits for the batch (RV1, DL3).
// - Each outcome commits on its own, right after it is known, through the recorder's group commit, not at the end of
//   the batch. At-least-once: if the process dies between the transport's acceptance and that commit, the lease
//   expires and the delivery is handed off again with the same Message-ID (DL2), which receivers use to drop the copy.
import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNotNull, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { executePrepared, pipelinedTransaction } from '../../db/prepared';
import {
  contactPoints,
  deliveries,
  orgDkimKeys,
  type CampaignKind,
  type Delivery,
  type DeliveryRoute,
} from '../../db/schema/index';
import { lockAuditHead, writeAuditEvents, type AuditEvent } from '../audit/chain';
import { recordOutboundEvents, type OutboundEventInput } from '../events/outbound';
import type { SmsTransport } from '../delivery/sms';
import { PushError, pushNoticeText, type PushTransport } from '../delivery/push';
import { activePushTargets, disablePushSubscription, markPushSuccess } from '../delivery/push-subscriptions';
import { composeMail } from '../delivery/compose';
import { unsubscribeMailto } from '../delivery/mail-unsubscribe';
import { buildPgpMime, ensureOrgSigningKey, loadOrgSigningKey, validatePatientKey } from '../delivery/pgp';
import { mailDomainOf, tlsDecision, type ProbeResult, type TlsDecision } from '../delivery/tls';
import type { PrivateKey } from 'openpgp';
import { openDkimKey } from '../delivery/dkim-keys';
import { TransportError, type DkimOptions, type MailTransport } from '../delivery/transport';
import { LINK_PATHS } from '../links/links';
import { DEFAULT_TTL_SECONDS, mintLink, type LinkKeyring } from '../links/tokens';
import { campaignNotice } from '../campaigns/notice';
import { noticeTexts } from '../i18n/notices';
import type { Logger } from '../logger';
import { openJson, type KekRing, type MessageContent } from '../messages/vault';
import { MESSAGE_CONTENT } from './enqueue';
import { loadFactsForBatch, lockConsentForBatch, rowFromJson } from './facts';
import { decide, type Decision, type GateFacts } from './gate';

export const LEASE_MS = 60_000;
/** After this long from enqueue, a delivery that still fails is given up (failed, `max_age`). */
export const MAX_AGE_MS = 24 * 60 * 60 * 1000;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 60 * 60 * 1000;
/** How long a push service may hold a notice for a device that is off (RFC 8030 TTL): as long as we retry (ADR 015). */
export const PUSH_TTL_SECONDS = MAX_AGE_MS / 1000;
/**
 * How a worker lane works (ADR 027): each pass claims up to 40 due deliveries and hands off up to 3 of them at once.
 * Against 20 one at a time (ADR 018), the claim, the lock statement, the facts statement and the commit are shared by
 * twice as many deliveries, and the relay's connections keep working while a lane waits for Postgres; a batch lasts
 * about 14 relay round trips instead of 20, which is how long a revocation of one of its patients may wait for it (RV1).
 */
export const LANE_PASS = { batchSize: 40, concurrency: 3 } as const;

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
  /** Web push (issue 9); undefined when no VAPID keys are configured: push deliveries then fail (`push_not_configured`). */
  push?: PushTransport;
  logger: Logger;
  workerId?: string;
  /** PGP/MIME for patients with a valid key (on unless false). */
  pgp?: boolean;
  /** Direct delivery over required TLS to domains that take it (TR1); unset: no TLS route, notices only. */
  tls?: { probe: (domain: string) => Promise<ProbeResult>; transport: MailTransport };
  /** Claim only these organisations' deliveries (a worker dedicated to some tenants; tests sharing a database). */
  orgIds?: string[];
  /** How long a claim lasts (LEASE_MS) and the first retry delay (doubling, with jitter); tests shorten them. */
  leaseMs?: number;
  retryBaseMs?: number;
  /** Decrypted organisation signing keys, per organisation, for the life of the process. */
  signingKeys?: Map<string, Promise<PrivateKey>>;
  /** Opened organisation DKIM keys, by org id and key creation time (a new key replaces the cached one). */
  dkimKeys?: Map<string, DkimOptions>;
};

export type Outcome = 'sent' | 'blocked' | 'deferred' | 'retry' | 'failed';

/**
 * Claims up to `limit` due deliveries for this worker, oldest due first, in one statement. Rows another worker holds
 * (a claim in progress, or a batch still in its hand-off transaction, which holds them FOR KEY SHARE) are skipped,
 * never waited for.
 */
export async function claimBatch(deps: EngineDeps, limit: number, now: Date): Promise<Delivery[]> {
  const workerId = deps.workerId ?? 'worker';
  const leaseUntil = new Date(now.getTime() + (deps.leaseMs ?? LEASE_MS));
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`claimBatch: limit must be a positive whole number, not ${limit}`);
  // The CTE runs once: an IN (subquery ... LIMIT ... SKIP LOCKED) may be re-run by the planner and claim more than asked.
  // The limit is written into the text (a lane always asks for the same number) and the organisation filter is there
  // only when there is one: with neither as a parameter, Postgres can keep one generic plan for the claim instead of
  // planning it again on every call, as it did while the filter's "is null or" could only be folded in a custom plan.
  const orgFilter = deps.orgIds ? sql`and org_id in (select x::uuid from jsonb_array_elements_text(${JSON.stringify(deps.orgIds)}::jsonb) x)` : sql``;
  const rows = await executePrepared<{ row: Record<string, unknown> }>(
    deps.db,
    sql`with due as (
        select id from deliveries
        where due_at <= ${now.toISOString()}::timestamptz
          and (status = 'queued' or (status = 'sending' and lease_until <= ${now.toISOString()}::timestamptz))
          ${orgFilter}
        order by due_at
        limit ${sql.raw(String(limit))}
        for update skip locked
      )
      update deliveries d
      set status = 'sending', leased_by = ${workerId}, lease_until = ${leaseUntil.toISOString()}::timestamptz, updated_at = ${now.toISOString()}::timestamptz
      from due where d.id = due.id
      returning to_jsonb(d) as row`,
  );
  return rows.map((r) => rowFromJson(deliveries, r.row)!).sort((x, y) => x.dueAt.getTime() - y.dueAt.getTime());
}

function backoff(attempts: number, baseMs = BACKOFF_BASE_MS): number {
  const base = Math.min(BACKOFF_CAP_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base / 2 + Math.random() * (base / 2)); // "equal jitter"
}

type Handoff = { route: DeliveryRoute; messageIdHeader: string | null };

/** What one delivery of a batch needs for its hand-off, read once for the batch. */
type HandoffContext = {
  org: { slug: string; name: string; pickupLinkDays: number; dkim?: DkimOptions };
  locale: string | null;
  campaign: { kind: CampaignKind; topicId: string } | undefined;
  pgpKey: { armoredKey: string; expiresAt: Date | null } | undefined;
};

/** Gates one claimed delivery and, when allowed, hands it off; the outcome is committed before this returns. */
export async function processDelivery(deps: EngineDeps, claimed: Delivery, now = new Date()): Promise<Outcome> {
  const [outcome] = await processBatch(deps, [claimed], now, 1);
  return outcome!;
}

/** One worker pass: claim a batch and process it. Returns how many were claimed. */
export async function runPass(deps: EngineDeps, options: { batchSize: number; concurrency: number }): Promise<number> {
  const batch = await claimBatch(deps, options.batchSize, new Date());
  if (batch.length === 0) return 0;
  try {
    await processBatch(deps, batch, new Date(), options.concurrency);
  } catch (error) {
    // Left 'sending' (those not yet recorded): their leases expire and another pass picks them up again.
    deps.logger.error({ deliveries: batch.length, errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'batch processing failed');
  }
  return batch.length;
}

/**
 * A claimed batch (ADR 018). One transaction, on one connection, holds the batch's consent locks from the gate to the
 * last hand-off: the shared advisory locks of all its (patient, topic) pairs in one statement, then in one statement
 * the facts of every delivery (consent-state rows FOR SHARE), the deliveries re-read FOR KEY SHARE (another worker's
 * claim, FOR UPDATE SKIP LOCKED, skips them until this transaction ends, even after the lease ran out) and what the
 * hand-offs need (message, organisation, campaign, PGP key). A revocation waits for the whole batch, and every batch
 * that starts after it sees it (RV1, DL3).
 *
 * Every outcome is committed on its own, right after its hand-off, by the recorder (a group commit on other
 * connections, see Recorder): a crash can re-send only mail whose 250 had arrived and whose record had not committed
 * yet, the same window as a transaction per delivery (ADR 007), never a whole batch. The batch transaction ends only
 * once every outcome of the batch is committed.
 *
 * Deliveries to one patient run in order within the batch (a chain) and each sees the marketing mail sent before it in
 * the chain, so a frequency or weekly cap holds inside a batch as it does across batches; chains run in parallel, up to
 * `concurrency` hand-offs at a time.
 */
async function processBatch(deps: EngineDeps, claimed: Delivery[], now: Date, concurrency: number): Promise<Outcome[]> {
  // The TLS route may need a probe (seconds): decided before any lock is taken.
  // A failed lookup is that delivery's failure (recorded like a transport error), not the batch's.
  const tlsRoutes = await Promise.all(claimed.map((d) => tlsRouteFor(deps, d, now).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))));
  const outcomes = new Map<string, Outcome>();
  const recorder = recorderFor(deps.db);
  const release = await batchSlot(deps.db);
  try {
    await pipelinedTransaction(deps.db, (tx) => batchTransaction(tx));
  } finally {
    release();
  }
  return claimed.map((d) => outcomes.get(d.id) ?? 'deferred');

  async function batchTransaction(tx: Tx): Promise<void> {
    await lockConsentForBatch(tx, claimed);
    // Awaited before the batch's statement, so that statement's snapshot is taken after any revocation queued ahead of
    // one of its locks has committed (RV1, DL3).
    const rows = await loadFactsForBatch(tx, claimed, now, { pgp: deps.pgp !== false });
    // Chains: the deliveries of one patient, in claim order.
    const chains = new Map<string, number[]>();
    claimed.forEach((d, i) => {
      const key = `${d.orgId}:${d.patientId}`;
      chains.set(key, [...(chains.get(key) ?? []), i]);
    });
    const records: Promise<unknown>[] = [];
    const runChain = async (chain: number[]) => {
      const sentInChain: { topicId: string | null }[] = [];
      for (const i of chain) {
        const loaded = rows.get(claimed[i]!.id)!;
        const d = claimed[i]!;
        // The lease may have expired and another worker may have finished or claimed it meanwhile.
        if (!loaded.current) {
          outcomes.set(claimed[i]!.id, 'deferred');
          continue;
        }
        const message = loaded.message!;
        // What this chain sent already is committed or about to be: the gate counts it (frequency, weekly cap).
        const facts = d.category === 'marketing' && sentInChain.length > 0 ? withEarlierSends(loaded.facts, d, sentInChain, now) : loaded.facts;
        const decision = decide(
          { category: d.category, topicId: d.topicId, channel: d.channel, sendBy: message.sendBy, retracted: message.retractedAt !== null, expiresAt: message.expiresAt },
          facts,
          now,
        );
        if (decision.kind !== 'allow') {
          const outcome: Outcome = decision.kind === 'block' ? 'blocked' : 'deferred';
          records.push(recorder.record({ kind: 'decided', d, decision, now }).then((mine) => outcomes.set(d.id, mine ? outcome : 'deferred')));
          continue;
        }
        const context: HandoffContext = {
          org: { ...loaded.org, dkim: loaded.org.dkim ? dkimOf(deps, d.orgId, loaded.org.dkim) : undefined },
          locale: loaded.locale,
          campaign: loaded.campaign,
          pgpKey: loaded.pgpKey,
        };
        let handoff: Handoff;
        try {
          const tls = tlsRoutes[i];
          if (tls instanceof Error) throw tls;
          handoff = await handOff(deps, d, message.content, loaded.contactValue, tls, context, now);
        } catch (error) {
          if (!(error instanceof TransportError)) {
            // Left 'sending': the lease expires and another pass picks it up again.
            deps.logger.error({ deliveryId: d.id, errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'delivery processing failed');
            continue;
          }
          records.push(recordFailure(deps, recorder, d, error, now).then((outcome) => outcomes.set(d.id, outcome)));
          continue;
        }
        if (d.category === 'marketing') sentInChain.push({ topicId: d.topicId });
        records.push(recorder.record({ kind: 'sent', d, decision, handoff, now }).then((mine) => outcomes.set(d.id, mine ? 'sent' : 'deferred')));
      }
    };
    const queue = [...chains.values()];
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, async () => {
        for (let chain = queue.shift(); chain; chain = queue.shift()) await runChain(chain);
      }),
    );
    // The consent locks and the FOR KEY SHARE row locks are held until every outcome of the batch is committed.
    const settled = await Promise.allSettled(records);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/**
 * A batch holds a pool connection while it waits for the recorder, which needs another: so at most the pool's size
 * less two batches are open at once per pool (one connection left for the recorder, one for claims), whatever the
 * number of lanes. Without this, as many lanes as connections would wait for each other for ever.
 */
const batchSlots = new WeakMap<Database, { free: number; waiting: (() => void)[] }>();
async function batchSlot(db: Database): Promise<() => void> {
  let slots = batchSlots.get(db);
  if (!slots) {
    const max = (db as unknown as { $client?: { options?: { max?: number } } }).$client?.options?.max ?? 10;
    slots = { free: Math.max(1, max - 2), waiting: [] };
    batchSlots.set(db, slots);
  }
  const s = slots;
  if (s.free > 0) s.free -= 1;
  else await new Promise<void>((resolve) => s.waiting.push(resolve));
  return () => {
    const next = s.waiting.shift();
    if (next) next();
    else s.free += 1;
  };
}

/** The gate's view after earlier deliveries of the same chain were sent at `now` (they count like committed ones). */
function withEarlierSends(facts: GateFacts, d: Delivery, sent: { topicId: string | null }[], now: Date): GateFacts {
  return {
    ...facts,
    marketingSentLast7Days: facts.marketingSentLast7Days + sent.length,
    oldestMarketingSentInWindow: facts.oldestMarketingSentInWindow ?? now,
    lastTopicSentAt: sent.some((s) => s.topicId === d.topicId) ? now : facts.lastTopicSentAt,
  };
}

/** A transport error: 4xx and network errors retry with backoff until the maximum age; 5xx fails. */
async function recordFailure(deps: EngineDeps, recorder: Recorder, d: Delivery, error: TransportError, now: Date): Promise<Outcome> {
  const attempts = d.attempts + 1;
  const tooOld = now.getTime() - d.createdAt.getTime() >= MAX_AGE_MS;
  const failed = error.permanent || tooOld;
  const errorCode = error.responseCode ? `smtp_${error.responseCode}` : error.code;
  // A push service's Retry-After (429) is honoured when it asks for longer than our backoff.
  const retryAfterMs = error instanceof PushError && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : 0;
  const mine = await recorder.record({
    kind: 'failure',
    d,
    now,
    failed,
    attempts,
    errorCode: errorCode ?? null,
    reason: failed ? (tooOld && !error.permanent ? 'max_age' : error instanceof PushError && error.gone ? 'push_subscription_gone' : 'permanent_failure') : 'transient_failure',
    dueAt: failed ? d.dueAt : new Date(now.getTime() + Math.max(retryAfterMs, backoff(attempts, deps.retryBaseMs))),
  });
  deps.logger.warn({ deliveryId: d.id, errorCode, attempts, failed }, 'delivery hand-off failed');
  if (!mine) return 'deferred';
  return failed ? 'failed' : 'retry';
}

type OutcomeRecord =
  | { kind: 'sent'; d: Delivery; decision: Extract<Decision, { kind: 'allow' }>; handoff: Handoff; now: Date }
  | { kind: 'decided'; d: Delivery; decision: Exclude<Decision, { kind: 'allow' }>; now: Date }
  | { kind: 'failure'; d: Delivery; now: Date; failed: boolean; attempts: number; errorCode: string | null; reason: string; dueAt: Date };

/**
 * Group commit of delivery outcomes (ADR 018). Every outcome is queued here as soon as it is known (for a sent
 * delivery: right after the transport accepted it) and committed by the next flush, which takes everything queued so
 * far: one UPDATE of the ledger rows (only those still leased to the worker that decided them), one INSERT of the
 * outbound events and one audit append per organisation (one event per outcome, AU1; one head lock), in one short
 * transaction. One flush runs at a time per process; outcomes that arrive meanwhile wait for the next one. A record
 * never waits for anything but that queue, so an accepted mail is recorded within about two commits, whatever the
 * rest of its batch is doing.
 */
class Recorder {
  private pending: { record: OutcomeRecord; resolve: (mine: boolean) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  constructor(private readonly db: Database) {}

  /** Resolves once the outcome is committed: true, or false when the row was no longer this worker's. */
  record(record: OutcomeRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ record, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // The next turn of the event loop: outcomes decided together (a batch's blocks) go in one flush.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending.splice(0, 500);
      try {
        const mine = await flushOutcomes(this.db, group.map((g) => g.record));
        for (const g of group) g.resolve(mine.has(g.record.d.id));
      } catch (error) {
        for (const g of group) g.reject(error);
      }
    }
    this.scheduled = false;
  }
}

const recorders = new WeakMap<Database, Recorder>();
function recorderFor(db: Database): Recorder {
  let recorder = recorders.get(db);
  if (!recorder) {
    recorder = new Recorder(db);
    recorders.set(db, recorder);
  }
  return recorder;
}

/** One group of outcomes in one transaction; returns the ids whose rows were still leased to their worker. */
async function flushOutcomes(db: Database, records: OutcomeRecord[]): Promise<Set<string>> {
  // One object shape for every kind (a key a kind does not set is null, and the update's CASEs keep the row's own
  // value there): one hidden class for V8 to build and serialise, hundreds of times a second.
  const rows = records.map((r) => {
    const at = r.now.toISOString();
    const row = {
      id: r.d.id,
      leased_by: r.d.leasedBy,
      k: r.kind,
      updated_at: at,
      status: '',
      decision: null as string | null,
      reason: '',
      basis_event_id: null as string | null,
      basis_text_hash: null as string | null,
      route: null as string | null,
      message_id_header: null as string | null,
      attempts: null as number | null,
      last_error: null as string | null,
      sent_at: null as string | null,
      due_at: null as string | null,
    };
    if (r.kind === 'sent') {
      row.status = 'sent';
      row.decision = 'allow';
      row.reason = r.decision.reason;
      row.basis_event_id = r.decision.basis?.grantEventId ?? null;
      row.basis_text_hash = r.decision.basis?.textHash ?? null;
      row.route = r.handoff.route;
      row.message_id_header = r.handoff.messageIdHeader;
      row.attempts = r.d.attempts + 1;
      row.sent_at = at;
    } else if (r.kind === 'decided') {
      row.status = r.decision.kind === 'block' ? 'blocked' : 'queued';
      row.decision = r.decision.kind;
      row.reason = r.decision.reason;
      row.due_at = r.decision.kind === 'defer' ? r.decision.until.toISOString() : null;
    } else {
      row.status = r.failed ? 'failed' : 'queued';
      row.reason = r.reason;
      row.attempts = r.attempts;
      row.last_error = r.errorCode;
      row.due_at = r.dueAt.toISOString();
    }
    return row;
  });
  return pipelinedTransaction(db, async (tx) => {
    // The organisations' audit heads are locked in the same network write as the ledger update, in organisation order
    // (two flushes, of two worker processes, never wait for each other's heads in a cycle); each is written once the
    // update has said which outcomes are still this worker's (ADR 027).
    const orgIds = [...new Set(records.map((r) => r.d.orgId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const heads = Promise.all(orgIds.map((orgId) => lockAuditHead(tx, orgId)));
    heads.catch(() => {}); // awaited below; a failure there fails the update's await too (one aborted transaction)
    // Each kind sets only its own columns, as the per-delivery statements did before (a block keeps the route of an
    // earlier attempt, a failure keeps the last decision).
    // The rows are found by id through the primary key ("= any (array(...))"): as a plain join, a plan made while the
    // statistics said nothing was 'sending' scanned every delivery once per flush.
    const updated = await executePrepared<{ id: string }>(
      tx,
      sql`with r as (
          select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(
            id uuid, leased_by text, k text, updated_at timestamptz, status text, decision text, reason text, basis_event_id uuid,
            basis_text_hash text, route text, message_id_header text, attempts int, last_error text, sent_at timestamptz, due_at timestamptz)
        )
        update deliveries d set
          status = r.status,
          decision = case when r.k = 'failure' then d.decision else r.decision end,
          reason = r.reason,
          basis_event_id = case when r.k = 'sent' then r.basis_event_id else d.basis_event_id end,
          basis_text_hash = case when r.k = 'sent' then r.basis_text_hash else d.basis_text_hash end,
          route = case when r.k = 'sent' then r.route else d.route end,
          message_id_header = case when r.k = 'sent' then r.message_id_header else d.message_id_header end,
          attempts = case when r.k = 'decided' then d.attempts else r.attempts end,
          last_error = case when r.k = 'decided' then d.last_error else r.last_error end,
          sent_at = case when r.k = 'sent' then r.sent_at else d.sent_at end,
          due_at = coalesce(r.due_at, d.due_at),
          leased_by = null,
          lease_until = null,
          updated_at = r.updated_at
        from r
        where d.id = any (array(select id from r)) and d.id = r.id and d.status = 'sending' and d.leased_by is not distinct from r.leased_by
        returning d.id`,
    );
    const mine = new Set(updated.map((u) => u.id));
    const events: OutboundEventInput[] = [];
    const audits = new Map<string, AuditEvent[]>();
    const audit = (orgId: string, event: AuditEvent) => {
      const list = audits.get(orgId);
      if (list) list.push(event);
      else audits.set(orgId, [event]);
    };
    for (const r of records) {
      if (!mine.has(r.d.id)) continue;
      const d = r.d;
      const subject = { actorType: 'system' as const, subjectType: 'delivery', subjectId: d.id };
      if (r.kind === 'sent') {
        const { decision, handoff } = r;
        events.push({ orgId: d.orgId, type: 'delivery.sent', patientId: d.patientId, payload: { deliveryId: d.id, messageId: d.messageId, channel: d.channel, route: handoff.route, reason: decision.reason }, occurredAt: r.now });
        audit(d.orgId, { ...subject, action: 'delivery.sent', details: { reason: decision.reason, route: handoff.route, basisEventId: decision.basis?.grantEventId ?? null, channel: d.channel } });
      } else if (r.kind === 'decided') {
        const blocked = r.decision.kind === 'block';
        const until = r.decision.kind === 'defer' ? { until: r.decision.until.toISOString() } : {};
        // A deferral is announced once per reason, not on every wake-up that finds it still deferred.
        if (blocked || d.reason !== r.decision.reason) {
          events.push({
            orgId: d.orgId,
            type: blocked ? 'delivery.blocked' : 'delivery.deferred',
            patientId: d.patientId,
            payload: { deliveryId: d.id, messageId: d.messageId, channel: d.channel, reason: r.decision.reason, ...until },
            occurredAt: r.now,
          });
        }
        audit(d.orgId, { ...subject, action: blocked ? 'delivery.blocked' : 'delivery.deferred', details: { reason: r.decision.reason, channel: d.channel, ...until } });
      } else {
        audit(d.orgId, { ...subject, action: r.failed ? 'delivery.failed' : 'delivery.retry', details: { errorCode: r.errorCode, attempts: r.attempts } });
        if (r.failed) {
          events.push({
            orgId: d.orgId,
            type: 'delivery.failed',
            patientId: d.patientId,
            payload: { deliveryId: d.id, messageId: d.messageId, channel: d.channel, reason: r.errorCode ?? 'failed' },
            occurredAt: r.now,
          });
        }
      }
    }
    // The outbound events and every organisation's audit events in one network write.
    const locked = await heads;
    await Promise.all([recordOutboundEvents(tx, events), ...orgIds.map((orgId, i) => writeAuditEvents(tx, orgId, locked[i]!, audits.get(orgId) ?? []))]);
    return mine;
  });
}

/** The patient's key when it is valid now (as pgpKeyFor, from the row the batch read). */
async function pgpKeyFrom(row: HandoffContext['pgpKey'], now: Date): Promise<string | undefined> {
  if (!row) return undefined;
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return undefined;
  const checked = await validatePatientKey(row.armoredKey, now, { clockSkewMs: 0 });
  return checked.ok ? checked.armored : undefined;
}

/** EM3: the organisation's own DKIM key, opened once per process and key. */
function dkimOf(deps: EngineDeps, orgId: string, row: typeof orgDkimKeys.$inferSelect): DkimOptions {
  deps.dkimKeys ??= new Map();
  const cacheKey = `${orgId}:${row.createdAt.getTime()}`;
  let key = deps.dkimKeys.get(cacheKey);
  if (!key) {
    key = openDkimKey(deps.vault, orgId, row);
    deps.dkimKeys.set(cacheKey, key);
  }
  return key;
}

/** EM4: the signed pickup link, valid for the organisation's period (30 days unless it set another). */
async function pickupUrl(deps: Pick<EngineDeps, 'links' | 'publicUrl'>, d: Pick<Delivery, 'id' | 'orgId' | 'patientId'>, org: { slug: string; pickupLinkDays: number }, now: Date): Promise<string> {
  const token = await mintLink(deps.links, {
    purpose: 'pickup',
    orgId: d.orgId,
    patientId: d.patientId,
    context: { deliveryId: d.id },
    ttlSeconds: org.pickupLinkDays * 86_400,
    now,
    linkId: randomUUID(),
  });
  return new URL(`/o/${org.slug}/${LINK_PATHS.pickup}/${token}`, deps.publicUrl).toString();
}

async function unsubscribeLinks(
  deps: Pick<EngineDeps, 'links' | 'publicUrl' | 'messageIdDomain'>,
  d: Pick<Delivery, 'orgId' | 'patientId' | 'topicId' | 'channel'>,
  slug: string,
  now: Date,
): Promise<{ https: string; mailto: string }> {
  const token = await mintLink(deps.links, { purpose: 'unsubscribe', orgId: d.orgId, patientId: d.patientId, context: { topicId: d.topicId!, channel: d.channel }, now, linkId: randomUUID() });
  return { https: new URL(`/o/${slug}/${LINK_PATHS.unsubscribe}/${token}`, deps.publicUrl).toString(), mailto: unsubscribeMailto(deps.messageIdDomain, token) };
}

/**
 * Route and hand-off (ARCHITECTURE.md, step 4). Email: PGP/MIME when the patient has a valid key; else the content
 * over required TLS when the domain takes it; else a PHI-free notice with a signed pickup link (EM4). SMS always
 * carries a notice; the portal needs no transport (the message waits in the patient's inbox).
 */
async function handOff(
  deps: EngineDeps,
  d: Delivery,
  sealed: Parameters<typeof openJson>[2],
  to: string | null,
  tls: TlsDecision | undefined,
  context: HandoffContext,
  now: Date,
): Promise<Handoff> {
  if (d.channel === 'portal') return { route: 'portal', messageIdHeader: null };
  const org = context.org;
  // Push carries only the PHI-free notice (EM4). Campaigns do not offer push (db/schema/campaigns.ts).
  if (d.channel === 'push') return pushHandOff(deps, d, org, context.locale, now);
  // A renewal campaign's request (issue 8): the PHI-free notice with the patient's renewal link, on every route.
  // A support resend repeats the request of the delivery it resends (ADR 016).
  const campaign = context.campaign;
  // Notices are written in the patient's stored language (issue 9, item 3).
  const locale = context.locale ?? 'en';
  const words = noticeTexts(locale);
  if (campaign) return campaignHandOff(deps, d, org, campaign, to!, now, locale);
  if (d.channel === 'sms') {
    const pickup = await pickupUrl(deps, d, org, now);
    await sendSms(deps, d, to!, words.smsNotice({ org: org.name, url: pickup }));
    return { route: 'sms_notice', messageIdHeader: null };
  }
  const unsubscribe = d.category === 'marketing' ? await unsubscribeLinks(deps, d, org.slug, now) : undefined;
  // The content as mail (Message-ID, List-Unsubscribe and the visible link for marketing); opened only for a route
  // that protects it.
  const contentMail = () => {
    const content = openJson<MessageContent>(deps.vault, { orgId: d.orgId, purpose: MESSAGE_CONTENT }, sealed);
    const mail = composeMail({ from: deps.mailFrom, to: to!, subject: content.subject, text: content.text, html: content.html, deliveryId: d.id, domain: deps.messageIdDomain, unsubscribe, locale });
    return { ...mail, dkim: org.dkim };
  };

  // A support resend (ADR 016) is the PHI-free pickup notice again, whatever route the first delivery took: support
  // asks for "the notice", and only a notice may go out on a request that no sender made.
  if (d.resendOf) return portalNotice(deps, d, org, to!, unsubscribe, now, locale);

  // 1. PGP/MIME when the patient has a valid key: the content is protected end to end, whatever the relay does.
  const recipientKey = deps.pgp === false ? undefined : await pgpKeyFrom(context.pgpKey, now);
  if (recipientKey) {
    const mail = contentMail();
    const raw = await buildPgpMime({
      from: mail.from,
      to: mail.to,
      subject: words.pgpSubject({ org: org.name }),
      innerSubject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId!,
      headers: mail.headers,
      recipientKey,
      signingKey: await signingKeyOf(deps, d.orgId, org.name, now),
      date: now,
    });
    await deps.mail.send({ from: deps.mailFrom, to: to!, subject: '', text: '', raw, dkim: org.dkim });
    return { route: 'pgp', messageIdHeader: mail.messageId! };
  }

  // 2. The content over TLS, straight to the recipient's mail server, when it takes TLS with a valid certificate.
  if (tls?.route === 'tls' && deps.tls) {
    const mail = contentMail();
    try {
      await deps.tls.transport.send(mail);
      return { route: 'tls', messageIdHeader: mail.messageId! };
    } catch (error) {
      // TLS missing or the certificate wrong at send time: nothing was sent (the transport stops before MAIL FROM).
      // Fall back to a notice, unless the organisation requires TLS for this domain (TR2): then wait and retry.
      const tlsFailure = error instanceof TransportError && (error.code === 'tls_unavailable' || error.code === 'certificate_invalid');
      if (!tlsFailure || tls.enforced) throw error;
    }
  } else if (tls?.enforced) {
    throw new TransportError('TLS required for this domain and not available', 'tls_required_unavailable');
  }

  // 3. The portal fallback (EM4): a PHI-free notice with a signed pickup link.
  return portalNotice(deps, d, org, to!, unsubscribe, now, locale);
}

type NoticeOrg = { slug: string; name: string; pickupLinkDays: number; dkim?: DkimOptions };
/** What building a notice mail needs of the engine: link keys and URLs, the sender and the Message-ID domain. */
type MailDeps = Pick<EngineDeps, 'links' | 'publicUrl' | 'mailFrom' | 'messageIdDomain'>;

/** EM4: the PHI-free notice with a signed pickup link for this delivery; its Message-ID comes from the delivery id (DL2). */
async function portalNotice(
  deps: EngineDeps,
  d: Delivery,
  org: NoticeOrg,
  to: string,
  unsubscribe: { https: string; mailto: string } | undefined,
  now: Date,
  locale: string,
): Promise<Handoff> {
  const mail = await portalNoticeMail(deps, d, org, to, unsubscribe, now, locale);
  await deps.mail.send(mail);
  return { route: 'portal_notice', messageIdHeader: mail.messageId! };
}

async function portalNoticeMail(
  deps: MailDeps,
  d: Pick<Delivery, 'id' | 'orgId' | 'patientId'>,
  org: NoticeOrg,
  to: string,
  unsubscribe: { https: string; mailto: string } | undefined,
  now: Date,
  locale: string,
) {
  const pickup = await pickupUrl(deps, d, org, now);
  const notice = noticeTexts(locale).portalNotice({ org: org.name, url: pickup, days: org.pickupLinkDays });
  const mail = composeMail({ from: deps.mailFrom, to, subject: notice.subject, text: notice.text, deliveryId: d.id, domain: deps.messageIdDomain, unsubscribe, locale });
  return { ...mail, dkim: org.dkim };
}

/**
 * The mail the engine hands off for a marketing email delivery that falls back to the portal (EM4 notice, EM1
 * unsubscribe headers and footer, DL2 Message-ID), built without a database or a transport: `bench:send`'s raw
 * reference sends exactly these, so the two sides of its ratio send the same messages.
 */
export async function marketingNoticeMail(
  deps: MailDeps,
  d: Pick<Delivery, 'id' | 'orgId' | 'patientId' | 'topicId' | 'channel'>,
  org: NoticeOrg,
  to: string,
  now: Date,
  locale = 'en',
) {
  return portalNoticeMail(deps, d, org, to, await unsubscribeLinks(deps, d, org.slug, now), now, locale);
}

async function sendSms(deps: EngineDeps, d: Delivery, to: string, body: string): Promise<void> {
  if (!deps.sms) throw new TransportError('no SMS transport configured', 'no_sms_transport', 550);
  await deps.sms.send({ to, body, reference: d.id }).catch((error: { code?: string }) => {
    throw new TransportError('sms hand-off failed', error.code ?? 'sms_failed', error.code === 'invalid_number' || error.code === 'rejected' ? 550 : undefined);
  });
}

/**
 * Web push (issue 9): the notice, encrypted to each of the patient's active subscriptions (RFC 8291), in the patient's
 * language. Sent when at least one device accepted it. A subscription the push service disowns (404/410) is disabled
 * at once, on its own connection, so that sticks whatever becomes of this delivery. With no device reached: a
 * 429/5xx/network failure retries with backoff; otherwise the delivery fails (`push_subscription_gone` when every
 * subscription was gone).
 */
async function pushHandOff(deps: EngineDeps, d: Delivery, org: { slug: string; name: string; pickupLinkDays: number }, locale: string | null, now: Date): Promise<Handoff> {
  if (!deps.push) throw new PushError('web push is not configured (no VAPID keys)', 'push_not_configured');
  const targets = await activePushTargets(deps.db, deps.vault, d.orgId, d.patientId);
  if (targets.length === 0) throw new PushError('no active push subscription', 'push_gone');
  const url = await pickupUrl(deps, d, org, now);
  const payload = JSON.stringify({ ...pushNoticeText(org.name, locale), url, tag: `carepost-${org.slug}` });
  // Topic from the delivery id (32 hex digits): a repeated hand-off replaces a copy the device has not fetched yet (DL2).
  const options = { ttlSeconds: PUSH_TTL_SECONDS, urgency: 'normal' as const, topic: d.id.replace(/-/g, '') };
  const push = deps.push;
  const results = await Promise.allSettled(targets.map((target) => push.send(target, payload, options)));
  const delivered: string[] = [];
  const errors: PushError[] = [];
  for (const [i, result] of results.entries()) {
    const target = targets[i]!;
    if (result.status === 'fulfilled') {
      delivered.push(target.id);
      continue;
    }
    const error = result.reason instanceof PushError ? result.reason : new PushError('push hand-off failed', 'push_network');
    errors.push(error);
    if (error.gone) await disablePushSubscription(deps.db, { orgId: d.orgId, subscriptionId: target.id, reason: error.status === 404 ? 'not_found' : 'gone', deliveryId: d.id, now });
  }
  if (delivered.length > 0) {
    // Bookkeeping about the devices, not about the delivery: on its own short statement.
    await markPushSuccess(deps.db, d.orgId, delivered, now);
    if (errors.length > 0) deps.logger.info({ deliveryId: d.id, devices: targets.length, failed: errors.map((e) => e.pushCode) }, 'push reached some devices');
    return { route: 'push_notice', messageIdHeader: null };
  }
  throw errors.find((e) => !e.permanent) ?? errors.find((e) => !e.gone) ?? errors[0]!;
}

/**
 * A campaign request by email or SMS: a notice without PHI (EM4) carrying a renewal link minted now for this patient
 * and topic, so it is fresh even after a deferral. The link exists only in the mail or text; it is not recorded.
 */
async function campaignHandOff(
  deps: EngineDeps,
  d: Delivery,
  org: { slug: string; name: string; dkim?: DkimOptions },
  campaign: { kind: CampaignKind; topicId: string },
  to: string,
  now: Date,
  locale: string,
): Promise<Handoff> {
  const token = await mintLink(deps.links, { purpose: 'renewal', orgId: d.orgId, patientId: d.patientId, context: { topicId: campaign.topicId }, now, linkId: randomUUID() });
  const renewalUrl = new URL(`/o/${org.slug}/${LINK_PATHS.renewal}/${token}`, deps.publicUrl).toString();
  const notice = campaignNotice(campaign.kind, org, renewalUrl, DEFAULT_TTL_SECONDS.renewal / 86_400, locale);
  if (d.channel === 'sms') {
    await sendSms(deps, d, to, notice.sms);
    return { route: 'sms_notice', messageIdHeader: null };
  }
  const unsubscribe = await unsubscribeLinks(deps, d, org.slug, now);
  const mail = composeMail({ from: deps.mailFrom, to, subject: notice.subject, text: notice.text, deliveryId: d.id, domain: deps.messageIdDomain, unsubscribe, locale });
  await deps.mail.send({ ...mail, dkim: org.dkim });
  return { route: 'portal_notice', messageIdHeader: mail.messageId! };
}

async function signingKeyOf(deps: EngineDeps, orgId: string, orgName: string, now: Date): Promise<PrivateKey> {
  deps.signingKeys ??= new Map();
  let key = deps.signingKeys.get(orgId);
  if (!key) {
    key = ensureOrgSigningKey(deps.db, deps.vault, { id: orgId, name: orgName }, now).then(() => loadOrgSigningKey(deps.db, deps.vault, orgId));
    key.catch(() => deps.signingKeys?.delete(orgId));
    deps.signingKeys.set(orgId, key);
  }
  return key;
}

/** For email with a TLS route configured: the decision for the patient's verified address's domain, probed if needed. */
async function tlsRouteFor(deps: EngineDeps, d: Delivery, now: Date): Promise<TlsDecision | undefined> {
  if (d.channel !== 'email' || !deps.tls || d.resendOf) return undefined; // a resend is a notice: no TLS route to probe
  const [point] = await deps.db
    .select({ value: contactPoints.value })
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, d.orgId), eq(contactPoints.patientId, d.patientId), eq(contactPoints.kind, 'email'), isNotNull(contactPoints.verifiedAt)))
    .orderBy(desc(contactPoints.verifiedAt))
    .limit(1);
  const domain = point ? mailDomainOf(point.value) : null;
  return domain ? tlsDecision(deps.db, d.orgId, domain, { probe: deps.tls.probe, now }) : undefined;
}
