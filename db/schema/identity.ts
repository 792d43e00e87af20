import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { organisations } from './tenants';

/**
 * One-time codes (OT1-OT4), one table for every purpose: sign-in, step-up, verifying a new contact point.
 * A row exists per (organisation, target, purpose); asking again replaces the code. The target is stored only as
 * an HMAC, and the code only as an HMAC bound to the row id. A row for an unknown target has no contact point:
 * it is made and checked exactly like a real one, so the answers cannot tell the two apart (EN1).
 */
export const verifications = pgTable(
  'verifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['sign_in', 'step_up', 'contact_verify'] }).notNull(),
    targetHash: text('target_hash').notNull(),
    channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
    /** Null when the target is not a verified contact point on record: no code was sent (EN1, OT6). */
    contactPointId: uuid('contact_point_id'),
    /** For step-up and contact verification: the signed-in patient. */
    patientId: uuid('patient_id'),
    codeHmac: text('code_hmac').notNull(),
    /** SHA-256 of the attempt cookie: the code works only in the browser that asked for it (OT3). */
    attemptHash: text('attempt_hash').notNull(),
    failedTries: integer('failed_tries').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    consumedAt: timestamp('consumed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('verifications_target_key').on(t.orgId, t.targetHash, t.purpose),
    index('verifications_attempt_idx').on(t.orgId, t.attemptHash),
    check('verifications_failed_tries', sql`${t.failedTries} >= 0`),
  ],
);

/** Per contact point: consecutive failed code entries, the increasing wait, and the lock at 100 (OT4). */
export const codeThrottles = pgTable(
  'code_throttles',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    targetHash: text('target_hash').notNull(),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    nextTryAt: timestamp('next_try_at', { withTimezone: true }),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.targetHash] })],
);

/** Fixed-window counters shared by every web process (EN2). Keys hold HMACs, never an IP or a contact point. */
export const rateLimitCounters = pgTable(
  'rate_limit_counters',
  {
    bucket: text('bucket').notNull(),
    windowStart: timestamp('window_start', { withTimezone: true }).notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.windowStart] })],
);

export type Verification = typeof verifications.$inferSelect;
