import { sql } from 'drizzle-orm';
import { check, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { consentTopics, type ConsentChannel } from './consent';
import { organisations, patients } from './tenants';

// Preferences (ARCHITECTURE.md, "Consent model"). They only ever narrow what an authorisation allows: the gate
// delivers marketing on a channel only when the authorisation covers it AND the topic preference keeps it.

export type Frequency = 'immediate' | 'weekly' | 'monthly' | 'paused';

/** One row per patient: the settings that cut across topics. No row means the defaults. */
export const patientPreferences = pgTable(
  'patient_preferences',
  {
    orgId: uuid('org_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    /** Channels for treatment and operations messages: never empty, since those messages cannot be switched off. */
    careChannels: jsonb('care_channels').$type<ConsentChannel[]>().notNull(),
    /** At most this many marketing messages per week, across all topics; null means no cap of the patient's own. */
    weeklyCap: integer('weekly_cap'),
    /** Quiet hours as minutes after local midnight in `time_zone`; both set or both null. May wrap midnight. */
    quietStartMinute: integer('quiet_start_minute'),
    quietEndMinute: integer('quiet_end_minute'),
    timeZone: text('time_zone').notNull(),
    marketingPausedUntil: timestamp('marketing_paused_until', { withTimezone: true }),
    marketingStoppedAt: timestamp('marketing_stopped_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.patientId] }),
    foreignKey({ name: 'patient_preferences_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    check('patient_preferences_weekly_cap', sql`${t.weeklyCap} is null or ${t.weeklyCap} between 0 and 100`),
    check(
      'patient_preferences_quiet_hours',
      sql`(${t.quietStartMinute} is null) = (${t.quietEndMinute} is null) and coalesce(${t.quietStartMinute}, 0) between 0 and 1439 and coalesce(${t.quietEndMinute}, 0) between 0 and 1439`,
    ),
    check('patient_preferences_care_channels', sql`jsonb_typeof(${t.careChannels}) = 'array' and jsonb_array_length(${t.careChannels}) > 0`),
  ],
);

/** One row per patient and marketing topic, once the patient has chosen anything for it. No row: every channel, as it happens. */
export const topicPreferences = pgTable(
  'topic_preferences',
  {
    orgId: uuid('org_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    topicId: uuid('topic_id').notNull(),
    channels: jsonb('channels').$type<ConsentChannel[]>().notNull(),
    frequency: text('frequency', { enum: ['immediate', 'weekly', 'monthly', 'paused'] }).notNull(),
    pausedUntil: timestamp('paused_until', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.patientId, t.topicId] }),
    foreignKey({ name: 'topic_preferences_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    foreignKey({ name: 'topic_preferences_topic_fk', columns: [t.orgId, t.topicId], foreignColumns: [consentTopics.orgId, consentTopics.id] }),
    check('topic_preferences_frequency', sql`${t.frequency} in ('immediate', 'weekly', 'monthly', 'paused')`),
    check('topic_preferences_paused', sql`(${t.frequency} = 'paused') = (${t.pausedUntil} is not null)`),
  ],
);

/**
 * Events for the organisation's webhooks (API issue), written in the same transaction as the change they report,
 * so none is lost. The payload holds identifiers and choices only: never names, contact points or message content.
 */
export const outboundEvents = pgTable(
  'outbound_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    type: text('type').notNull(),
    patientId: uuid('patient_id'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set when the webhook fan-out has copied it to every subscribed endpoint (once, whatever the commit order). */
    dispatchedAt: timestamp('dispatched_at', { withTimezone: true }),
  },
  (t) => [
    index('outbound_events_org_created_idx').on(t.orgId, t.createdAt),
    index('outbound_events_undispatched_idx').on(t.createdAt).where(sql`${t.dispatchedAt} is null`),
  ],
);

export type PatientPreferences = typeof patientPreferences.$inferSelect;
export type TopicPreference = typeof topicPreferences.$inferSelect;
export type OutboundEvent = typeof outboundEvents.$inferSelect;
