import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { organisations } from './tenants';

// The organisation API (issue 7): keys, and the answers kept for Idempotency-Key.

export const API_SCOPES = ['messages', 'consent', 'links', 'patients', 'webhooks'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    name: text('name').notNull(),
    /** The public half of the key (`cpk_<prefix>_...`): finds the row without revealing anything. */
    prefix: text('prefix').notNull(),
    /** HMAC-SHA256 of the secret half under CODE_HMAC_SECRET. The key is random, so a slow hash adds nothing. */
    secretHash: text('secret_hash').notNull(),
    scopes: text('scopes').array().$type<ApiScope[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** The key this one replaced (rotation); the old one keeps working until its own revokedAt. */
    replacesId: uuid('replaces_id'),
  },
  (t) => [uniqueIndex('api_keys_prefix_key').on(t.prefix), index('api_keys_org_idx').on(t.orgId)],
);

/** The first answer to a POST with an Idempotency-Key, for replaying it; a different body with the same key is a 422. */
export const idempotencyRecords = pgTable(
  'idempotency_records',
  {
    orgId: uuid('org_id').notNull(),
    key: text('key').notNull(),
    method: text('method').notNull(),
    path: text('path').notNull(),
    requestHash: text('request_hash').notNull(),
    /** Null while the first request is still being answered. */
    status: integer('status'),
    body: jsonb('body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.key] }),
    index('idempotency_records_created_idx').on(t.createdAt),
    check('idempotency_records_key_length', sql`length(${t.key}) between 1 and 255`),
  ],
);

export type ApiKey = typeof apiKeys.$inferSelect;
