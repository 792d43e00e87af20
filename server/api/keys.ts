// API keys (issue 7): shown once, stored as an HMAC, scoped, rotatable, with a last-used time. A key is
// `cpk_<prefix>_<secret>`: the prefix finds the row, the secret proves possession.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Database, DbOrTx, Tx } from '../../db/client';
import { executePrepared } from '../../db/prepared';
import { API_SCOPES, apiKeys, type ApiScope } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { keyedHash } from '../identity/codes';
import { rateWindow, type RateLimit } from '../identity/rate-limit';
import { isUuid } from '../ids';
import { z } from 'zod';

const KEY_FORMAT = /^cpk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
/** last_used_at is written at most this often per key, so a busy key does not write on every request. */
const LAST_USED_GRANULARITY_MS = 60_000;

export type ApiPrincipal = { orgId: string; keyId: string; scopes: ApiScope[] };

const hashSecret = (hmacSecret: Buffer, secret: string) => keyedHash(hmacSecret, 'api-key', secret);

type NewKey = { orgId: string; name: string; scopes: ApiScope[]; expiresAt?: Date; replacesId?: string; actor: { type: 'admin' | 'system'; id?: string }; now: Date };

export function createApiKey(db: Database, hmacSecret: Buffer, options: NewKey): Promise<{ id: string; key: string; prefix: string }> {
  return db.transaction((tx) => insertKey(tx, hmacSecret, options));
}

async function insertKey(
  db: Tx,
  hmacSecret: Buffer,
  options: NewKey,
): Promise<{ id: string; key: string; prefix: string }> {
  const scopes = [...new Set(options.scopes)].filter((s) => (API_SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0) throw new Error('createApiKey: at least one scope');
  const prefix = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '').padEnd(12, '0').slice(0, 12);
  const secret = randomBytes(32).toString('base64url');
  const [row] = await db
    .insert(apiKeys)
    .values({ orgId: options.orgId, name: options.name, prefix, secretHash: hashSecret(hmacSecret, secret), scopes, createdAt: options.now, expiresAt: options.expiresAt ?? null, replacesId: options.replacesId ?? null })
    .returning({ id: apiKeys.id });
  await appendAudit(db, options.orgId, {
    actorType: options.actor.type,
    actorId: options.actor.id ?? null,
    action: 'api_key.created',
    subjectType: 'api_key',
    subjectId: row!.id,
    details: { scopes, prefix, replaces: options.replacesId ?? null },
  });
  return { id: row!.id, key: `cpk_${prefix}_${secret}`, prefix };
}

export type KeyCheck = { ok: true; principal: ApiPrincipal } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' };

/**
 * Checks a presented key. Every refusal is a 401 to the caller; the reason is for the log.
 *
 * With `meter`, the same statement also counts the request in the key's rate-limit window (only for a valid key, so
 * someone who knows a prefix cannot spend its owner's budget) and refreshes last_used_at at most once a minute: an API
 * request pays one round trip for authentication and its rate limit instead of two or three (issue 7).
 */
export async function authenticateApiKey(
  db: DbOrTx,
  hmacSecret: Buffer,
  presented: string,
  now: Date,
  meter?: Pick<RateLimit, 'name' | 'windowSeconds'>,
): Promise<KeyCheck & { counted?: { count: number; resetSeconds: number } }> {
  const match = KEY_FORMAT.exec(presented);
  if (!match) return { ok: false, reason: 'malformed' };
  const actual = hashSecret(hmacSecret, match[2]!);
  const window = rateWindow(meter ?? { windowSeconds: 60 }, now);
  const nowIso = now.toISOString();
  const [row] = await executePrepared<{ id: string; org_id: string; scopes: ApiScope[]; secret_hash: string; revoked_at: string | null; expires_at: string | null; count: number | null }>(db, sql`
    with k as (select id, org_id, scopes, secret_hash, revoked_at, expires_at, last_used_at from api_keys where prefix = ${match[1]!}),
    ok as (
      select id, last_used_at from k
      where secret_hash = ${actual} and (revoked_at is null or revoked_at > ${nowIso}::timestamptz) and (expires_at is null or expires_at > ${nowIso}::timestamptz)
    ),
    c as (
      insert into rate_limit_counters (bucket, window_start, count)
      select ${`${meter?.name ?? ''}:`} || ok.id, ${window.start.toISOString()}::timestamptz, 1 from ok where ${meter !== undefined}
      on conflict (bucket, window_start) do update set count = rate_limit_counters.count + 1
      returning count
    ),
    u as (
      update api_keys set last_used_at = ${nowIso}::timestamptz from ok
      where api_keys.id = ok.id and (ok.last_used_at is null or ok.last_used_at < ${new Date(now.getTime() - LAST_USED_GRANULARITY_MS).toISOString()}::timestamptz)
      returning 1
    )
    select k.id, k.org_id, k.scopes, k.secret_hash, k.revoked_at, k.expires_at, (select count from c) as count from k`);
  // The database matched the hash already; comparing again in constant time keeps the refusal reasons honest.
  const expected = Buffer.from(row?.secret_hash ?? hashSecret(hmacSecret, 'no-such-key'));
  const given = Buffer.from(actual);
  if (!row || expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'unknown' };
  if (row.revoked_at && new Date(row.revoked_at).getTime() <= now.getTime()) return { ok: false, reason: 'revoked' };
  if (row.expires_at && new Date(row.expires_at).getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  const principal = { orgId: row.org_id, keyId: row.id, scopes: row.scopes };
  return meter ? { ok: true, principal, counted: { count: Number(row.count ?? 0), resetSeconds: window.resetSeconds } } : { ok: true, principal };
}

/** The key behind an access token, if it is still valid (OAuth tokens end with their key). */
export async function principalForKeyId(db: DbOrTx, keyId: string, now: Date): Promise<KeyCheck> {
  if (!isUuid(keyId)) return { ok: false, reason: 'unknown' };
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, keyId));
  if (!row) return { ok: false, reason: 'unknown' };
  if (row.revokedAt && row.revokedAt.getTime() <= now.getTime()) return { ok: false, reason: 'revoked' };
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, principal: { orgId: row.orgId, keyId: row.id, scopes: row.scopes } };
}

/** Ends a key now, or at `at` (a grace period after a rotation). Scoped to the organisation (EN3). */
type Revocation = { orgId: string; keyId: string; at: Date; actor: { type: 'admin' | 'system'; id?: string } };

export function revokeApiKey(db: Database, options: Revocation): Promise<boolean> {
  return db.transaction((tx) => revokeIn(tx, options));
}

async function revokeIn(db: Tx, options: Revocation): Promise<boolean> {
  if (!isUuid(options.keyId)) return false;
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: options.at })
    .where(and(eq(apiKeys.orgId, options.orgId), eq(apiKeys.id, options.keyId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  if (!row) return false;
  await appendAudit(db, options.orgId, {
    actorType: options.actor.type,
    actorId: options.actor.id ?? null,
    action: 'api_key.revoked',
    subjectType: 'api_key',
    subjectId: row.id,
    details: { effectiveAt: options.at.toISOString() },
  });
  return true;
}

/** A new key with the same name and scopes; the old one stops working after `graceMs` (zero: at once). */
export async function rotateApiKey(
  db: Database,
  hmacSecret: Buffer,
  options: { orgId: string; keyId: string; graceMs: number; actor: { type: 'admin' | 'system'; id?: string }; now: Date },
): Promise<{ id: string; key: string; prefix: string } | undefined> {
  if (!isUuid(options.keyId)) return undefined;
  return db.transaction(async (tx) => {
    const [old] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.orgId, options.orgId), eq(apiKeys.id, options.keyId), isNull(apiKeys.revokedAt)))
      .for('update');
    if (!old) return undefined;
    const created = await insertKey(tx, hmacSecret, { orgId: options.orgId, name: old.name, scopes: old.scopes, replacesId: old.id, actor: options.actor, now: options.now });
    await revokeIn(tx, { orgId: options.orgId, keyId: old.id, at: new Date(options.now.getTime() + options.graceMs), actor: options.actor });
    return created;
  });
}

/** The organisation's keys for the admin console: never the secret or its hash, only the prefix that identifies one. */
export async function listApiKeys(db: DbOrTx, orgId: string) {
  return db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      scopes: apiKeys.scopes,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(eq(apiKeys.orgId, orgId))
    .orderBy(desc(apiKeys.createdAt));
}

const newKeyForm = z.object({
  name: z.string().trim().min(1, 'Name the key, for example “EHR integration”.').max(80, 'Use 80 characters or fewer.'),
  scopes: z.array(z.enum(API_SCOPES, 'Choose from the list.')).min(1, 'Choose at least one thing this key may do.'),
  expiresInDays: z.union([
    z.literal(''),
    z
      .string()
      .regex(/^\d{1,4}$/, 'Enter a whole number of days.')
      .transform(Number)
      .refine((n) => n >= 1 && n <= 3650, 'Enter 1 to 3650 days.'),
  ]),
});

/** The admin console's "create a key" form: field errors keyed by input name, or what createApiKey needs. */
export function parseNewKeyForm(
  input: { name: string; scopes: string[]; expiresInDays: string },
  now: Date,
): { ok: true; value: { name: string; scopes: ApiScope[]; expiresAt?: Date } } | { ok: false; fieldErrors: Record<string, string> } {
  const parsed = newKeyForm.safeParse(input);
  if (!parsed.success) {
    const fieldErrors: Record<string, string> = {};
    for (const issue of parsed.error.issues) fieldErrors[String(issue.path[0])] ??= issue.message;
    return { ok: false, fieldErrors };
  }
  const { name, scopes, expiresInDays } = parsed.data;
  return { ok: true, value: { name, scopes, expiresAt: expiresInDays === '' ? undefined : new Date(now.getTime() + expiresInDays * 86_400_000) } };
}
