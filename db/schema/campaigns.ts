import { sql } from 'drizzle-orm';
import { check, foreignKey, index, integer, pgTable, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { consentTopics, type ConsentChannel } from './consent';
import { deliveries, messages } from './engine';
import { admins, organisations, patients } from './tenants';

// Consent-renewal campaigns (issue 8, part 5) and expiry reminders (part 6). A campaign moves
// draft -> scheduled -> running -> completed, or to paused / cancelled, only by conditional UPDATEs (DL4); its
// recipients are one row per (campaign, patient, topic), so no patient is asked twice by one campaign.

export type CampaignKind = 'renewal' | 'expiry_reminder';
export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'cancelled' | 'completed';
/** The channels a campaign may use: push is not available yet, so it is not offered. */
export type CampaignChannel = Extract<ConsentChannel, 'email' | 'sms' | 'portal'>;

export const campaigns = pgTable(
  'campaigns',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['renewal', 'expiry_reminder'] }).$type<CampaignKind>().notNull(),
    topicIds: uuid('topic_ids').array().notNull(),
    /** Targeting: authorisations expiring within this many days, and/or granted before this instant (either matches). */
    expiringWithinDays: integer('expiring_within_days'),
    grantedBefore: timestamp('granted_before', { withTimezone: true }),
    /** In order of preference: each recipient gets the first one that can reach them. */
    channels: text('channels').array().$type<CampaignChannel[]>().notNull(),
    throttlePerMinute: integer('throttle_per_minute').notNull(),
    /** When to start; null means as soon as it is launched. */
    scheduledAt: timestamp('scheduled_at', { withTimezone: true }),
    status: text('status', { enum: ['draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed'] }).$type<CampaignStatus>().notNull().default('draft'),
    /** Where a pause came from, so resume goes back to it (scheduled campaigns have no recipients yet). */
    pausedFrom: text('paused_from', { enum: ['scheduled', 'running'] }),
    createdBy: uuid('created_by').notNull(),
    launchedBy: uuid('launched_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
    launchedAt: timestamp('launched_at', { withTimezone: true }),
    /** When the targeting query ran and how many recipients it found (the top of the funnel). */
    targetedAt: timestamp('targeted_at', { withTimezone: true }),
    targetedCount: integer('targeted_count'),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
  },
  (t) => [
    unique('campaigns_org_id_id_key').on(t.orgId, t.id),
    index('campaigns_org_created_idx').on(t.orgId, t.createdAt),
    // The worker's lookups: scheduled campaigns that are due, and running ones.
    index('campaigns_active_idx').on(t.status, t.scheduledAt).where(sql`${t.status} in ('scheduled', 'running')`),
    foreignKey({ name: 'campaigns_created_by_fk', columns: [t.orgId, t.createdBy], foreignColumns: [admins.orgId, admins.id] }),
    foreignKey({ name: 'campaigns_launched_by_fk', columns: [t.orgId, t.launchedBy], foreignColumns: [admins.orgId, admins.id] }),
    check('campaigns_kind', sql`${t.kind} in ('renewal', 'expiry_reminder')`),
    check('campaigns_status', sql`${t.status} in ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed')`),
    check('campaigns_targeting', sql`${t.expiringWithinDays} is not null or ${t.grantedBefore} is not null`),
    check('campaigns_expiring_within', sql`${t.expiringWithinDays} is null or ${t.expiringWithinDays} between 1 and 365`),
    check('campaigns_throttle', sql`${t.throttlePerMinute} between 1 and 100000`),
    check('campaigns_topics', sql`cardinality(${t.topicIds}) between 1 and 50`),
    check('campaigns_channels', sql`cardinality(${t.channels}) between 1 and 3 and ${t.channels} <@ array['email', 'sms', 'portal']::text[]`),
    check('campaigns_paused_from', sql`(${t.status} = 'paused') = (${t.pausedFrom} is not null)`),
  ],
);

export type RecipientState = 'pending' | 'enqueued' | 'cancelled';

/**
 * One row per (campaign, patient, topic): the unique key makes a second request to the same patient for the same
 * topic in one campaign impossible, however often or concurrently the campaign is launched or targeted (DL4).
 */
export const campaignRecipients = pgTable(
  'campaign_recipients',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    campaignId: uuid('campaign_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    topicId: uuid('topic_id').notNull(),
    /** The first of the campaign's channels that could reach the patient when targeted. */
    channel: text('channel', { enum: ['email', 'sms', 'portal'] }).$type<CampaignChannel>().notNull(),
    /** The authorisation being renewed (the grant or renewal event of the state row when targeted). */
    grantEventId: uuid('grant_event_id').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    state: text('state', { enum: ['pending', 'enqueued', 'cancelled'] }).$type<RecipientState>().notNull().default('pending'),
    messageId: uuid('message_id'),
    deliveryId: uuid('delivery_id'),
    /** When the request became a delivery: a renewal after this instant is the campaign's. */
    enqueuedAt: timestamp('enqueued_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('campaign_recipients_one_per_topic').on(t.orgId, t.campaignId, t.patientId, t.topicId),
    // The engine finds a delivery's campaign (to write the renewal notice) by the delivery id.
    uniqueIndex('campaign_recipients_delivery_key').on(t.orgId, t.deliveryId).where(sql`${t.deliveryId} is not null`),
    // The enqueue lane: pending rows of a campaign; the throttle: rows enqueued in the last minute.
    index('campaign_recipients_pending_idx').on(t.campaignId, t.id).where(sql`${t.state} = 'pending'`),
    index('campaign_recipients_enqueued_idx').on(t.campaignId, t.enqueuedAt).where(sql`${t.enqueuedAt} is not null`),
    foreignKey({ name: 'campaign_recipients_campaign_fk', columns: [t.orgId, t.campaignId], foreignColumns: [campaigns.orgId, campaigns.id] }),
    foreignKey({ name: 'campaign_recipients_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }),
    foreignKey({ name: 'campaign_recipients_topic_fk', columns: [t.orgId, t.topicId], foreignColumns: [consentTopics.orgId, consentTopics.id] }),
    foreignKey({ name: 'campaign_recipients_message_fk', columns: [t.orgId, t.messageId], foreignColumns: [messages.orgId, messages.id] }),
    foreignKey({ name: 'campaign_recipients_delivery_fk', columns: [t.deliveryId], foreignColumns: [deliveries.id] }),
    check('campaign_recipients_state', sql`${t.state} in ('pending', 'enqueued', 'cancelled')`),
    check('campaign_recipients_enqueued', sql`(${t.state} = 'enqueued') = (${t.deliveryId} is not null and ${t.enqueuedAt} is not null)`),
  ],
);

export type Campaign = typeof campaigns.$inferSelect;
export type NewCampaign = typeof campaigns.$inferInsert;
export type CampaignRecipient = typeof campaignRecipients.$inferSelect;
