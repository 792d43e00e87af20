// AU2: an append-only, hash-chained audit log per organisation.
// hash(n) = SHA-256(hash(n-1) || canonical(event n)), with the org id and seq inside the hashed event,
// so an edited, deleted, inserted or reordered row breaks the chain; audit_heads anchors the end of it.
import { createHash } from 'node:crypto';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { executePrepared } from '../../db/prepared';
import { auditEvents, auditHeads, organisations, type AuditEventRow } from '../../db/schema/index';
import { canonicalJson } from './canonical';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditActorType = AuditEventRow['actorType'];

export type AuditEvent = {
  actorType: AuditActorType;
  actorId?: string | null;
  /** A stable dotted name, e.g. `identity.sign_in.succeeded`, `consent.granted`. */
  action: string;
  subjectType?: string | null;
  subjectId?: string | null;
  /** Ids and reason codes only. Never a code, a secret, a contact point or message content. */
  details?: Record<string, unknown>;
};

type HashedFields = {
  orgId: string;
  seq: number;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  action: string;
  subjectType: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
};

export function hashEvent(prevHash: string, fields: HashedFields): string {
  return hashEventWith(prevHash, fields, canonicalJson(fields.details));
}

/**
 * hashEvent with the details already in canonical JSON (the append path has them so). The hashed body is
 * canonicalJson({ v: 1, orgId, seq, occurredAt, actorType, actorId, action, subjectType, subjectId, details }), written
 * out here in its sorted key order instead of sorted on every event: the same bytes (a unit test holds them equal), at
 * a fraction of the cost for the engine, which appends one event per delivery.
 */
function hashEventWith(prevHash: string, fields: Omit<HashedFields, 'details'>, detailsJson: string): string {
  // JSON.stringify writes null as null, as canonicalJson does.
  const body =
    `{"action":${JSON.stringify(fields.action)},"actorId":${JSON.stringify(fields.actorId)},"actorType":${JSON.stringify(fields.actorType)}` +
    `,"details":${detailsJson},"occurredAt":${JSON.stringify(fields.occurredAt.toISOString())},"orgId":${JSON.stringify(fields.orgId)}` +
    `,"seq":${canonicalJson(fields.seq)},"subjectId":${JSON.stringify(fields.subjectId)},"subjectType":${JSON.stringify(fields.subjectType)},"v":1}`;
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

const FORBIDDEN_DETAIL_KEY = /^(code|otp|password|secret|token|body|subject|email|phone|dateOfBirth|dob)$/i;

/**
 * A cheap tripwire for records that leave the system or last for years (audit details, webhook payloads): they carry
 * ids and reason codes, so a key like these is a bug in the caller.
 */
export function refusePhiKeys(where: string, record: Record<string, unknown>): void {
  for (const key of Object.keys(record)) {
    if (FORBIDDEN_DETAIL_KEY.test(key)) throw new Error(`${where}: key "${key}" looks like PHI or a secret; record an id or a reason code`);
  }
}

/**
 * Appends one event to the organisation's chain inside the caller's transaction, so the event commits or
 * rolls back with the change it records. Appends for one organisation are serialised by the head row's lock.
 */
export async function appendAudit(tx: Tx, orgId: string, event: AuditEvent): Promise<{ seq: number; hash: string }> {
  const [last] = await appendAuditEvents(tx, orgId, [event]);
  return last!;
}

/** Where an organisation's chain ends: its last seq and hash. */
export type AuditHead = { seq: number; hash: string };

/**
 * Appends several events to the organisation's chain, in order, each with its own seq and hash (AU2 unchanged), in
 * two round trips whatever their number: the head is locked once, then the events and the new head are written together.
 */
export async function appendAuditEvents(tx: Tx, orgId: string, events: AuditEvent[]): Promise<{ seq: number; hash: string }[]> {
  if (events.length === 0) return [];
  return writeAuditEvents(tx, orgId, await lockAuditHead(tx, orgId), events);
}

/**
 * The first half of an append: creates the organisation's head on first use, or locks it, in one statement: ON
 * CONFLICT DO UPDATE takes the row lock (waiting for a concurrent append to commit) and returns the head as that
 * append left it. The lock orders concurrent appends for this organisation until the transaction ends, so the fewer
 * round trips inside it, the more appends a second. The engine's group commit (ADR 018, ADR 027) locks its heads
 * together with its ledger update, then writes every organisation's events at once.
 */
export async function lockAuditHead(tx: Tx, orgId: string): Promise<AuditHead> {
  // Prepared (as the statements below): drizzle's own statements go unprepared, and postgres.js then asks Postgres for
  // their parameter types first, a round trip more, each time, with the head locked.
  const [head] = await executePrepared<{ last_seq: string; last_hash: string }>(
    tx,
    sql`insert into audit_heads (org_id, last_seq, last_hash) values (${orgId}::uuid, 0, ${GENESIS_HASH})
      on conflict (org_id) do update set last_seq = audit_heads.last_seq
      returning last_seq, last_hash`,
  );
  if (!head) throw new Error(`appendAudit: no audit head for organisation ${orgId}`);
  return { seq: Number(head.last_seq), hash: head.last_hash };
}

/** The second half: the events after `head`, which the caller holds locked (lockAuditHead, same transaction). */
export async function writeAuditEvents(tx: Tx, orgId: string, head: AuditHead, events: AuditEvent[]): Promise<{ seq: number; hash: string }[]> {
  if (events.length === 0) return [];
  for (const event of events) refusePhiKeys('appendAudit', event.details ?? {});
  // Millisecond precision, UTC: what is hashed is exactly what is stored.
  const occurredAt = new Date();
  let prevHash = head.hash;
  let seq = head.seq;
  const written: { seq: number; hash: string }[] = [];
  // Each event as a row of the JSON parameter, written out here: its details go in as the canonical JSON that was
  // hashed, so what Postgres stores is what the hash covers, with no parse and re-serialisation in between.
  const json: string[] = [];
  for (const event of events) {
    seq += 1;
    const detailsJson = canonicalJson(event.details ?? {});
    const fields = {
      orgId,
      seq,
      occurredAt,
      actorType: event.actorType,
      actorId: event.actorId ?? null,
      action: event.action,
      subjectType: event.subjectType ?? null,
      subjectId: event.subjectId ?? null,
    };
    const hash = hashEventWith(prevHash, fields, detailsJson);
    json.push(
      `{"org_id":${JSON.stringify(orgId)},"seq":${seq},"occurred_at":${JSON.stringify(occurredAt.toISOString())},"actor_type":${JSON.stringify(fields.actorType)}` +
        `,"actor_id":${JSON.stringify(fields.actorId)},"action":${JSON.stringify(fields.action)},"subject_type":${JSON.stringify(fields.subjectType)}` +
        `,"subject_id":${JSON.stringify(fields.subjectId)},"details":${detailsJson},"prev_hash":${JSON.stringify(prevHash)},"hash":${JSON.stringify(hash)}}`,
    );
    written.push({ seq, hash });
    prevHash = hash;
  }
  // Both in one network write (postgres.js pipelines them on the transaction's connection). The events go in as one
  // JSON parameter to a prepared statement: its text does not change with the number of events.
  await Promise.all([
    executePrepared(
      tx,
      sql`insert into audit_events (org_id, seq, occurred_at, actor_type, actor_id, action, subject_type, subject_id, details, prev_hash, hash)
        select r.org_id, r.seq, r.occurred_at, r.actor_type, r.actor_id, r.action, r.subject_type, r.subject_id, r.details, r.prev_hash, r.hash
        from jsonb_to_recordset(${`[${json.join(',')}]`}::jsonb) as r(org_id uuid, seq bigint, occurred_at timestamptz, actor_type text, actor_id text, action text, subject_type text,
          subject_id text, details jsonb, prev_hash text, hash text)`,
    ),
    executePrepared(tx, sql`update audit_heads set last_seq = ${seq}::bigint, last_hash = ${prevHash} where org_id = ${orgId}::uuid`),
  ]);
  return written;
}

export type ChainProblem = { seq: number; problem: 'gap' | 'prev_hash' | 'hash' | 'head_mismatch' | 'missing_tail' };
export type ChainReport = { orgId: string; ok: boolean; events: number; problems: ChainProblem[] };

/** Walks one organisation's chain in seq order, in pages, and names every break it finds. */
export async function verifyAuditChain(db: Database, orgId: string, pageSize = 1000): Promise<ChainReport> {
  const problems: ChainProblem[] = [];
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let events = 0;
  let lastSeq = 0;
  for (;;) {
    const rows = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, orgId), gt(auditEvents.seq, lastSeq)))
      .orderBy(asc(auditEvents.seq))
      .limit(pageSize);
    for (const row of rows) {
      events += 1;
      if (row.seq !== expectedSeq) problems.push({ seq: row.seq, problem: 'gap' });
      if (row.prevHash !== prevHash) problems.push({ seq: row.seq, problem: 'prev_hash' });
      if (hashEvent(row.prevHash, row) !== row.hash) problems.push({ seq: row.seq, problem: 'hash' });
      prevHash = row.hash;
      expectedSeq = row.seq + 1;
      lastSeq = row.seq;
    }
    if (rows.length < pageSize) break;
  }
  const [head] = await db.select().from(auditHeads).where(eq(auditHeads.orgId, orgId));
  if (head) {
    if (head.lastSeq > lastSeq) problems.push({ seq: head.lastSeq, problem: 'missing_tail' });
    else if (head.lastSeq !== lastSeq || head.lastHash !== prevHash) problems.push({ seq: lastSeq, problem: 'head_mismatch' });
  } else if (events > 0) {
    problems.push({ seq: lastSeq, problem: 'head_mismatch' });
  }
  return { orgId, ok: problems.length === 0, events, problems };
}

export async function verifyAllAuditChains(db: Database): Promise<ChainReport[]> {
  const orgs = await db.select({ id: organisations.id }).from(organisations).orderBy(asc(organisations.slug));
  const reports: ChainReport[] = [];
  for (const org of orgs) reports.push(await verifyAuditChain(db, org.id));
  return reports;
}

