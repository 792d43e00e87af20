import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { SealedEnvelope } from './engine';
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

/** Where an organisation wants its events (issue 7, webhooks). The signing secret is sealed in the vault. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    url: text('url').notNull(),
    eventTypes: text('event_types').array().notNull(),
    secret: jsonb('secret').$type<SealedEnvelope>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
  },
  (t) => [index('webhook_endpoints_org_idx').on(t.orgId)],
);

/**
 * One event for one endpoint: the queue and the delivery log. Its id is the `webhook-id` header, the same on every
 * attempt and on a replay, so receivers can drop duplicates (delivery is at least once).
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    endpointId: uuid('endpoint_id').notNull(),
    eventId: uuid('event_id').notNull(),
    eventType: text('event_type').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** When it may be tried next; a claim moves it one lease ahead, so a crashed dispatcher's claim runs out. */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull(),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_event_key').on(t.endpointId, t.eventId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_endpoint_idx').on(t.orgId, t.endpointId, t.createdAt),
  ],
);

/** Every attempt, for the delivery log the organisation reads. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deliveryId: uuid('delivery_id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.at)],
);

export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
