// The admin console's audit evidence (issue 8, part 8): search one organisation's audit log with keyset paging, export
// it as CSV streamed in keyset batches (a million rows never sit in memory), and verify its hash chain on demand (AU2).
// Audit details hold ids and reason codes only (appendAudit refuses PHI keys), so nothing here needs redacting.
import { and, asc, desc, eq, gt, gte, like, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { auditEvents, auditHeads, deliveries, organisations, type AuditEventRow } from '../../db/schema/index';
import { isUuid } from '../ids';
import { appendAudit, verifyAuditChain, type ChainProblem } from './chain';

export const AUDIT_ACTOR_TYPES = ['patient', 'admin', 'organisation', 'system'] as const;
export type AuditActorFilter = (typeof AUDIT_ACTOR_TYPES)[number];

export type AuditFilters = {
  /** Inclusive lower bound (UTC). */
  from?: Date;
  /** Exclusive upper bound (UTC). */
  to?: Date;
  actorType?: AuditActorFilter;
  actorId?: string;
  /** Events by the patient, about the patient, or about the patient's deliveries and messages. */
  patientId?: string;
  /** An exact action (`consent.granted`) or a prefix ending in a dot (`consent.`). */
  action?: string;
};

/** The raw filter values as they appear in the query string, to put back into the form and the links. */
export type AuditFilterInput = { from: string; to: string; actorType: string; actorId: string; patientId: string; action: string };

export type AuditFilterParse = { ok: true; filters: AuditFilters; input: AuditFilterInput } | { ok: false; fieldErrors: Partial<Record<keyof AuditFilterInput, string>>; input: AuditFilterInput };

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ACTION = /^[a-z0-9_.-]{1,100}$/;
const ACTOR_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const DAY_MS = 86_400_000;

function utcDay(value: string): Date | undefined {
  if (!DATE.test(value)) return undefined;
  const date = new Date(`${value}T00:00:00.000Z`);
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value ? undefined : date;
}

/**
 * Reads the filters from a query string. Dates are whole UTC days (the "to" day is included); ids are checked before
 * they reach a query, and a bad value is a field error rather than an empty result that looks like evidence.
 */
export function parseAuditFilters(params: URLSearchParams): AuditFilterParse {
  const input: AuditFilterInput = {
    from: (params.get('from') ?? '').trim(),
    to: (params.get('to') ?? '').trim(),
    actorType: (params.get('actorType') ?? '').trim(),
    actorId: (params.get('actorId') ?? '').trim(),
    patientId: (params.get('patientId') ?? '').trim().toLowerCase(),
    action: (params.get('action') ?? '').trim().toLowerCase(),
  };
  const fieldErrors: Partial<Record<keyof AuditFilterInput, string>> = {};
  const filters: AuditFilters = {};
  if (input.from) {
    const from = utcDay(input.from);
    if (from) filters.from = from;
    else fieldErrors.from = 'Enter a date as YYYY-MM-DD.';
  }
  if (input.to) {
    const to = utcDay(input.to);
    if (to) filters.to = new Date(to.getTime() + DAY_MS);
    else fieldErrors.to = 'Enter a date as YYYY-MM-DD.';
  }
  if (filters.from && filters.to && filters.to <= filters.from) fieldErrors.to = 'The end date must be on or after the start date.';
  if (input.actorType) {
    if ((AUDIT_ACTOR_TYPES as readonly string[]).includes(input.actorType)) filters.actorType = input.actorType as AuditActorFilter;
    else fieldErrors.actorType = 'Choose an actor type from the list.';
  }
  if (input.actorId) {
    if (ACTOR_ID.test(input.actorId)) filters.actorId = input.actorId;
    else fieldErrors.actorId = 'Enter an id: letters, digits and - _ . : only.';
  }
  if (input.patientId) {
    if (isUuid(input.patientId)) filters.patientId = input.patientId;
    else fieldErrors.patientId = 'Enter a patient id (a UUID such as 3f2a…-…), not a name or address.';
  }
  if (input.action) {
    if (ACTION.test(input.action)) filters.action = input.action;
    else fieldErrors.action = 'Enter an event type such as consent.granted, or a prefix such as consent.';
  }
  return Object.keys(fieldErrors).length > 0 ? { ok: false, fieldErrors, input } : { ok: true, filters, input };
}

/** The query-string form of the filters, for paging links and the export link. */
export function filterQuery(input: AuditFilterInput): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(input)) if (value) params.set(key, value);
  return params;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Every filter as one SQL condition, always scoped to the organisation (EN3). */
function conditions(orgId: string, filters: AuditFilters): SQL {
  const parts: (SQL | undefined)[] = [eq(auditEvents.orgId, orgId)];
  if (filters.from) parts.push(gte(auditEvents.occurredAt, filters.from));
  if (filters.to) parts.push(lt(auditEvents.occurredAt, filters.to));
  if (filters.actorType) parts.push(eq(auditEvents.actorType, filters.actorType));
  if (filters.actorId) parts.push(eq(auditEvents.actorId, filters.actorId));
  if (filters.action) {
    parts.push(filters.action.endsWith('.') ? like(auditEvents.action, `${escapeLike(filters.action)}%`) : eq(auditEvents.action, filters.action));
  }
  if (filters.patientId) {
    const patientId = filters.patientId;
    // Deliveries and messages name their patient only in the deliveries table; the subqueries use its patient index.
    const ofPatient = sql`select ${deliveries.id}::text from ${deliveries} where ${deliveries.orgId} = ${orgId} and ${deliveries.patientId} = ${patientId}`;
    const messagesOfPatient = sql`select ${deliveries.messageId}::text from ${deliveries} where ${deliveries.orgId} = ${orgId} and ${deliveries.patientId} = ${patientId}`;
    parts.push(
      or(
        and(eq(auditEvents.actorType, 'patient'), eq(auditEvents.actorId, patientId)),
        and(eq(auditEvents.subjectType, 'patient'), eq(auditEvents.subjectId, patientId)),
        // Written to match the partial index audit_events_patient_detail_idx (migration 0014).
        sql`(${auditEvents.details} ? 'patientId' and ${auditEvents.details}->>'patientId' = ${patientId})`,
        and(eq(auditEvents.subjectType, 'delivery'), sql`${auditEvents.subjectId} in (${ofPatient})`),
        and(eq(auditEvents.subjectType, 'message'), sql`${auditEvents.subjectId} in (${messagesOfPatient})`),
      ),
    );
  }
  return and(...parts)!;
}

export const AUDIT_PAGE_SIZE = 50;

export type AuditPage = {
  rows: AuditEventRow[];
  /** Seq of the newest row on the page, for a "newer" link, when newer rows match. */
  newerThan: number | null;
  /** Seq of the oldest row on the page, for an "older" link, when older rows match. */
  olderThan: number | null;
};

/**
 * One page of matching events, newest first, by keyset on seq (the chain's own order): `before` pages back in time,
 * `after` pages forward. A page costs the same however deep it is, unlike OFFSET.
 */
export async function searchAudit(
  db: DbOrTx,
  orgId: string,
  filters: AuditFilters,
  cursor: { before?: number; after?: number } = {},
  pageSize = AUDIT_PAGE_SIZE,
): Promise<AuditPage> {
  const where = conditions(orgId, filters);
  if (cursor.after !== undefined) {
    const rows = await db
      .select()
      .from(auditEvents)
      .where(and(where, gt(auditEvents.seq, cursor.after)))
      .orderBy(asc(auditEvents.seq))
      .limit(pageSize + 1);
    const more = rows.length > pageSize;
    const page = rows.slice(0, pageSize).reverse();
    return { rows: page, newerThan: more ? page[0]!.seq : null, olderThan: page.length > 0 ? page[page.length - 1]!.seq : null };
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(cursor.before !== undefined ? and(where, lt(auditEvents.seq, cursor.before)) : where)
    .orderBy(desc(auditEvents.seq))
    .limit(pageSize + 1);
  const more = rows.length > pageSize;
  const page = rows.slice(0, pageSize);
  return { rows: page, newerThan: cursor.before !== undefined && page.length > 0 ? page[0]!.seq : null, olderThan: more ? page[page.length - 1]!.seq : null };
}

export async function organisationTimeZone(db: DbOrTx, orgId: string): Promise<string> {
  const [org] = await db.select({ timeZone: organisations.timeZone }).from(organisations).where(eq(organisations.id, orgId));
  return org?.timeZone ?? 'UTC';
}

// --- CSV -------------------------------------------------------------------------------------------------------------

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. A cell a spreadsheet would run as a
 * formula (starting with = + - @, or a tab or carriage return that some spreadsheets skip first) gets a leading
 * apostrophe, so opening the evidence in Excel never executes anything (OWASP "CSV injection").
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

export const AUDIT_CSV_COLUMNS = ['seq', 'occurred_at_utc', 'occurred_at_local', 'actor_type', 'actor_id', 'action', 'subject_type', 'subject_id', 'details', 'prev_hash', 'hash'];

function localTime(format: Intl.DateTimeFormat, date: Date): string {
  const p = Object.fromEntries(format.formatToParts(date).map((part) => [part.type, part.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

export const EXPORT_BATCH_ROWS = 500;

/**
 * The CSV export as a stream fed by keyset batches, oldest first. It stops at the chain's head as it was when the export
 * began, so the file is a consistent snapshot (and does not include its own "exported" event). Before each batch it
 * waits until the client has taken the previous one (`ready`), so a slow client holds the server to one batch in
 * memory, not the whole log; a client that goes away ends it (`signal`).
 */
export function auditCsvStream(
  db: Database,
  options: { orgId: string; filters: AuditFilters; timeZone: string; upToSeq: number; ready?: () => Promise<void>; signal?: AbortSignal; batchRows?: number },
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone: options.timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });
  const where = conditions(options.orgId, options.filters);
  const batchRows = options.batchRows ?? EXPORT_BATCH_ROWS;
  let lastSeq = 0;
  let headerSent = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(csvRow(AUDIT_CSV_COLUMNS)));
          return;
        }
        await options.ready?.();
        if (options.signal?.aborted) {
          controller.close();
          return;
        }
        const rows = await db
          .select()
          .from(auditEvents)
          .where(and(where, gt(auditEvents.seq, lastSeq), lte(auditEvents.seq, options.upToSeq)))
          .orderBy(asc(auditEvents.seq))
          .limit(batchRows);
        if (rows.length === 0) {
          controller.close();
          return;
        }
        let chunk = '';
        for (const r of rows) {
          chunk += csvRow([r.seq, r.occurredAt, localTime(format, r.occurredAt), r.actorType, r.actorId, r.action, r.subjectType, r.subjectId, r.details, r.prevHash, r.hash]);
        }
        lastSeq = rows[rows.length - 1]!.seq;
        controller.enqueue(encoder.encode(chunk));
        if (rows.length < batchRows) controller.close();
      },
    },
    // Pull one batch at a time: nothing is read ahead of what the client has taken.
    { highWaterMark: 0 },
  );
}

/** The seq of the organisation's newest audit event (0 for an empty log): the end of an export's snapshot. */
export async function auditHeadSeq(db: DbOrTx, orgId: string): Promise<number> {
  const [head] = await db.select({ lastSeq: auditHeads.lastSeq }).from(auditHeads).where(eq(auditHeads.orgId, orgId));
  return head?.lastSeq ?? 0;
}

/** AU1: an export is an admin action, recorded with its filters (ids and dates only). */
export async function recordAuditExport(db: Database, options: { orgId: string; adminId: string; input: AuditFilterInput; upToSeq: number }) {
  const filters = Object.fromEntries(Object.entries(options.input).filter(([, v]) => v));
  await db.transaction((tx) =>
    appendAudit(tx, options.orgId, { actorType: 'admin', actorId: options.adminId, action: 'audit.exported', details: { filters, upToSeq: options.upToSeq } }),
  );
}

// --- Verification (AU2) ----------------------------------------------------------------------------------------------

export type ChainVerification = { ok: boolean; events: number; problems: ChainProblem[]; problemCount: number; verifiedAt: Date };

/** Walks the organisation's chain and records the outcome as an audit event, which the dashboard reads as "last verified". */
export async function verifyAndRecord(db: Database, options: { orgId: string; adminId: string; now?: Date }): Promise<ChainVerification> {
  const report = await verifyAuditChain(db, options.orgId);
  const problems = report.problems.slice(0, 20);
  await db.transaction((tx) =>
    appendAudit(tx, options.orgId, {
      actorType: 'admin',
      actorId: options.adminId,
      action: 'audit.chain.verified',
      details: { ok: report.ok, events: report.events, problems: report.problems.length, firstProblems: problems.slice(0, 5) },
    }),
  );
  return { ok: report.ok, events: report.events, problems, problemCount: report.problems.length, verifiedAt: options.now ?? new Date() };
}

export type LastVerification = { at: Date; ok: boolean; events: number; problems: number } | null;

/** The newest recorded verification of this organisation's chain, from the chain itself. */
export async function lastChainVerification(db: DbOrTx, orgId: string): Promise<LastVerification> {
  const [row] = await db
    .select({ at: auditEvents.occurredAt, details: auditEvents.details })
    .from(auditEvents)
    .where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, 'audit.chain.verified')))
    .orderBy(desc(auditEvents.seq))
    .limit(1);
  if (!row) return null;
  const d = row.details as { ok?: unknown; events?: unknown; problems?: unknown };
  return { at: row.at, ok: d.ok === true, events: Number(d.events ?? 0), problems: Number(d.problems ?? 0) };
}
