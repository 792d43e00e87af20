import { sql } from 'drizzle-orm';
import { check, foreignKey, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { SealedEnvelope } from './engine';
import { patients } from './tenants';

// Web push subscriptions (issue 9, ADR 015): one row per browser (its push service endpoint) and organisation. The
// endpoint is a capability URL made by the browser's push service; the auth secret is sealed with the vault, since
// with the public key it is what lets anyone encrypt a notification the device will show.

export type PushDisabledReason = 'gone' | 'not_found';

export const pushSubscriptions = pgTable(
  'push_subscriptions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    endpoint: text('endpoint').notNull(),
    /** The browser's P-256 public key (RFC 8291 `p256dh`), base64url. Public by design. */
    p256dh: text('p256dh').notNull(),
    /** The 16-byte auth secret (RFC 8291 `auth`), sealed (purpose `push-auth`). */
    auth: jsonb('auth').$type<SealedEnvelope>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
    lastSuccessAt: timestamp('last_success_at', { withTimezone: true }),
    /** Set when the push service answered 404 or 410: the engine no longer uses it; subscribing again clears it. */
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    disabledReason: text('disabled_reason', { enum: ['gone', 'not_found'] }).$type<PushDisabledReason>(),
  },
  (t) => [
    // Unique per tenant (ARCHITECTURE.md, "Scale"): one browser has one endpoint per origin, shared by every
    // organisation it is used with, so each organisation keeps its own row for it.
    uniqueIndex('push_subscriptions_org_endpoint_key').on(t.orgId, t.endpoint),
    foreignKey({ name: 'push_subscriptions_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    // The gate's question and the hand-off's list: a patient's active subscriptions.
    index('push_subscriptions_patient_idx').on(t.orgId, t.patientId).where(sql`${t.disabledAt} is null`),
    check('push_subscriptions_disabled', sql`(${t.disabledAt} is null) = (${t.disabledReason} is null)`),
    check('push_subscriptions_endpoint_length', sql`length(${t.endpoint}) <= 2048`),
  ],
);

export type PushSubscriptionRow = typeof pushSubscriptions.$inferSelect;
