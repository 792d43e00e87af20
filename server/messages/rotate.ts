// Vault key rotation (TR1; `npm run vault:rotate`): moves every sealed value's data key under the current KEK, so the
// previous KEK can be dropped from VAULT_KEY_PREVIOUS. v2 envelopes keep their nonce and ciphertext byte for byte:
// only `kid` and `wk` are written back (merged in SQL, so the body never travels back to the database). v1 envelopes
// are re-sealed as v2 by `rewrap()`.
//
// Work goes in keyset pages over each column's key. The page query sends only the key and a "stale" flag for values
// already under the current KEK, and stale values are then fetched in chunks capped by bytes (an attachment can be
// 10 MB), each chunk in its own transaction with its rows locked FOR UPDATE SKIP LOCKED: a row someone else holds is
// counted as skipped for a later run, never waited on and never overwritten with a stale copy.
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client';
import type { SealedEnvelope } from '../../db/schema/index';
import { DKIM_KEY_PURPOSE } from '../delivery/dkim-keys';
import { SIGNING_KEY_PURPOSE } from '../delivery/pgp';
import { WEBHOOK_SECRET_PURPOSE } from '../delivery/webhooks';
import { MESSAGE_CONTENT } from '../engine/enqueue';
import { ATTACHMENT_CONTENT, ATTACHMENT_NAME } from './attachments';
import { REPLY_CONTENT } from './inbox';
import { rewrap, VaultError, type KekRing } from './vault';


type SealedColumn = { name: string; table: string; column: string; key: string; purpose: string };

/** Every column that holds a vault envelope, with the key its rows are paged by and the purpose they are sealed for. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { name: 'messages.content', table: 'messages', column: 'content', key: 'id', purpose: MESSAGE_CONTENT },
  { name: 'message_attachments.name', table: 'message_attachments', column: 'name', key: 'id', purpose: ATTACHMENT_NAME },
  { name: 'message_attachments.content', table: 'message_attachments', column: 'content', key: 'id', purpose: ATTACHMENT_CONTENT },
  { name: 'message_replies.content', table: 'message_replies', column: 'content', key: 'id', purpose: REPLY_CONTENT },
  { name: 'org_signing_keys.sealed_private_key', table: 'org_signing_keys', column: 'sealed_private_key', key: 'org_id', purpose: SIGNING_KEY_PURPOSE },
  { name: 'org_dkim_keys.sealed_private_key', table: 'org_dkim_keys', column: 'sealed_private_key', key: 'org_id', purpose: DKIM_KEY_PURPOSE },
  { name: 'webhook_endpoints.secret', table: 'webhook_endpoints', column: 'secret', key: 'id', purpose: WEBHOOK_SECRET_PURPOSE },
];

/** scanned = rewrapped + alreadyCurrent + failed + skipped. */
export type RotationCounts = {
  scanned: number;
  rewrapped: number;
  alreadyCurrent: number;
  /** Did not open (unknown KEK, tampered, malformed): left as they were. */
  failed: number;
  /** Locked by another transaction or deleted while the run worked: a later run picks them up. */
  skipped: number;
};

export type RotationFailure = { column: string; key: string; orgId: string; reason: VaultError['reason'] | 'malformed' };

export type RotationReport = {
  kid: string;
  columns: Record<string, RotationCounts>;
  totals: RotationCounts;
  /** The first MAX_LISTED_FAILURES failures, so an operator can look at the rows (ids only, never content). */
  failures: RotationFailure[];
};

/** The subset of a pino logger the run uses. */
export type RotationLogger = {
  info: (details: object, message: string) => void;
  warn: (details: object, message: string) => void;
};

export type RotationOptions = {
  /** Rows per keyset page. */
  batchSize?: number;
  /** Only these organisations (tests share one database; an operator may want to rotate one tenant first). */
  orgIds?: string[];
  logger?: RotationLogger;
};

const MAX_LISTED_FAILURES = 100;
// Envelope bytes fetched per transaction: a page of 500 ten-megabyte attachments must not be held in memory at once.
const CHUNK_BYTES = 32 * 1024 * 1024;

const zero = (): RotationCounts => ({ scanned: 0, rewrapped: 0, alreadyCurrent: 0, failed: 0, skipped: 0 });

/**
 * Re-wraps every sealed value not yet under `ring.current` (another KEK id, or a v1 envelope). A value that does not
 * open is counted as failed and left untouched; the run carries on. Running it again rewraps nothing.
 */
export async function rotateVault(db: Database, ring: KekRing, options: RotationOptions = {}): Promise<RotationReport> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('rotateVault: batchSize must be a positive integer');
  const report: RotationReport = { kid: ring.current.kid, columns: {}, totals: zero(), failures: [] };
  for (const column of SEALED_COLUMNS) {
    const counts = zero();
    report.columns[column.name] = counts;
    await rotateColumn(db, ring, column, { batchSize, orgIds: options.orgIds, logger: options.logger }, counts, report.failures);
    for (const k of Object.keys(counts) as (keyof RotationCounts)[]) report.totals[k] += counts[k];
    options.logger?.info({ column: column.name, ...counts }, 'vault rotation: column done');
  }
  return report;
}

type PageRow = { key: string; org_id: string; stale: boolean; bytes: number };
type EnvelopeRow = { key: string; org_id: string; envelope: SealedEnvelope };

async function rotateColumn(
  db: Database,
  ring: KekRing,
  c: SealedColumn,
  options: { batchSize: number; orgIds?: string[]; logger?: RotationLogger },
  counts: RotationCounts,
  failures: RotationFailure[],
): Promise<void> {
  const table = sql.identifier(c.table);
  const column = sql.identifier(c.column);
  const key = sql.identifier(c.key);
  const inScope = options.orgIds ? sql`and org_id in (${orgList(options.orgIds)})` : sql``;
  let after: string | undefined;
  for (;;) {
    const page = await db.execute<PageRow>(sql`
      select ${key}::text as key, org_id::text as org_id,
             (${column}->>'v' is distinct from '2' or ${column}->>'kid' is distinct from ${ring.current.kid}) as stale,
             pg_column_size(${column}) as bytes
      from ${table}
      where ${after === undefined ? sql`true` : sql`${key} > ${after}::uuid`} ${inScope}
      order by ${key}
      limit ${options.batchSize}`);
    if (page.length === 0) return;
    after = page[page.length - 1]!.key;
    counts.scanned += page.length;
    const stale = page.filter((r) => r.stale);
    counts.alreadyCurrent += page.length - stale.length;
    for (const chunk of byteChunks(stale, CHUNK_BYTES)) {
      await db.transaction(async (tx) => {
        const keys = sql.join(chunk.map((r) => sql`${r.key}::uuid`), sql`, `);
        const rows = await tx.execute<EnvelopeRow>(sql`
          select ${key}::text as key, org_id::text as org_id, ${column} as envelope
          from ${table} where ${key} in (${keys})
          for update skip locked`);
        counts.skipped += chunk.length - rows.length;
        const patches: SQL[] = [];
        for (const row of rows) {
          let next: SealedEnvelope | undefined;
          try {
            next = rewrap(ring, { orgId: row.org_id, purpose: c.purpose }, row.envelope);
          } catch (error) {
            const reason = error instanceof VaultError ? error.reason : 'malformed';
            counts.failed += 1;
            if (failures.length < MAX_LISTED_FAILURES) failures.push({ column: c.name, key: row.key, orgId: row.org_id, reason });
            options.logger?.warn({ column: c.name, key: row.key, orgId: row.org_id, reason }, 'vault rotation: value does not open, left as it is');
            continue;
          }
          if (!next) {
            counts.alreadyCurrent += 1; // re-sealed by someone else between the page query and the lock
            continue;
          }
          // v2: only what changed, so iv and ct stay the stored bytes. v1: the whole new envelope (it names every field).
          const patch = row.envelope.v === 2 ? { v: 2, kid: next.kid, wk: next.wk } : next;
          patches.push(sql`(${row.key}::uuid, ${JSON.stringify(patch)}::jsonb)`);
        }
        if (patches.length === 0) return;
        const updated = await tx.execute(sql`
          update ${table} as t set ${column} = t.${column} || u.patch
          from (values ${sql.join(patches, sql`, `)}) as u(key, patch)
          where t.${key} = u.key`);
        counts.rewrapped += updated.count;
      });
    }
  }
}

function orgList(orgIds: string[]): SQL {
  // An empty list selects nothing rather than everything.
  return orgIds.length === 0 ? sql`null` : sql.join(orgIds.map((id) => sql`${id}::uuid`), sql`, `);
}

/** Consecutive runs of rows whose sizes add up to at most `maxBytes` (a single larger row gets a chunk of its own). */
function byteChunks<T extends { bytes: number }>(rows: T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const row of rows) {
    if (current.length > 0 && size + Number(row.bytes) > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(row);
    size += Number(row.bytes);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
