import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { organisations, patients } from './tenants';

// The consent model (ARCHITECTURE.md, "Consent model"; HIPAA 45 CFR 164.508).

/** An organisation's marketing purpose, e.g. "Wellness newsletter". */
export const consentTopics = pgTable(
  'consent_topics',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    key: text('key').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull(),
    /** AV2: a third party pays for this marketing; its texts must say so. */
    remunerated: boolean('remunerated').notNull().default(false),
    thirdPartyName: text('third_party_name'),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('consent_topics_org_key').on(t.orgId, t.key),
    unique('consent_topics_org_id_id_key').on(t.orgId, t.id),
    check('consent_topics_key_format', sql`${t.key} ~ '^[a-z0-9][a-z0-9_-]{0,62}$'`),
    check('consent_topics_payer', sql`not ${t.remunerated} or ${t.thirdPartyName} is not null`),
  ],
);

/** The required elements of an authorisation (AV3), kept apart so each can be checked and shown. */
export type AuthorizationElements = {
  information: string;
  disclosedBy: string;
  recipients: string;
  purpose: string;
  expiry: string;
  revocation: string;
  noConditioning: string;
  redisclosure: string;
  /** AV2: required when the topic is remunerated. */
  remuneration?: string;
};

/**
 * An authorisation text version. A draft may change; once published it is immutable (a trigger refuses changes to
 * its content) and its SHA-256 is what every signature refers to.
 */
export const authorizationTexts = pgTable(
  'authorization_texts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    topicId: uuid('topic_id').notNull(),
    version: integer('version').notNull(),
    language: text('language').notNull().default('en'),
    elements: jsonb('elements').$type<AuthorizationElements>().notNull(),
    /** The exact text a patient reads, rendered from the elements when the version is published. */
    body: text('body'),
    /** How long an authorisation granted on this text lasts. */
    validForMonths: integer('valid_for_months').notNull(),
    status: text('status', { enum: ['draft', 'published', 'retired'] }).notNull().default('draft'),
    contentHash: text('content_hash'),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('authorization_texts_version_key').on(t.orgId, t.topicId, t.version, t.language),
    unique('authorization_texts_org_id_id_key').on(t.orgId, t.id),
    foreignKey({ name: 'authorization_texts_topic_fk', columns: [t.orgId, t.topicId], foreignColumns: [consentTopics.orgId, consentTopics.id] }),
    check('authorization_texts_status', sql`${t.status} in ('draft', 'published', 'retired')`),
    check('authorization_texts_valid_for', sql`${t.validForMonths} between 1 and 120`),
    check(
      'authorization_texts_published_complete',
      sql`${t.status} = 'draft' or (${t.body} is not null and ${t.contentHash} is not null and ${t.publishedAt} is not null)`,
    ),
  ],
);

export type ConsentTopic = typeof consentTopics.$inferSelect;
export type AuthorizationText = typeof authorizationTexts.$inferSelect;

/** The append-only ledger of authorisations (a trigger refuses UPDATE and DELETE). */
export const authorizationEvents = pgTable(
  'authorization_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    topicId: uuid('topic_id').notNull(),
    kind: text('kind', { enum: ['granted', 'revoked', 'renewed', 'expired'] }).notNull(),
    /** The text version the authorisation rests on, and its hash at signing. */
    textId: uuid('text_id').notNull(),
    textHash: text('text_hash').notNull(),
    channels: jsonb('channels').$type<ConsentChannel[]>().notNull(),
    /** AV7: a renewal names the record it renews; nothing is ever edited in place. */
    renewsEventId: uuid('renews_event_id'),
    /** For granted and renewed: the instant the authorisation stops (exclusive, AV4). */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    evidence: jsonb('evidence').$type<ConsentEvidence>().notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    foreignKey({ name: 'authorization_events_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }),
    foreignKey({ name: 'authorization_events_topic_fk', columns: [t.orgId, t.topicId], foreignColumns: [consentTopics.orgId, consentTopics.id] }),
    foreignKey({ name: 'authorization_events_text_fk', columns: [t.orgId, t.textId], foreignColumns: [authorizationTexts.orgId, authorizationTexts.id] }),
    check('authorization_events_kind', sql`${t.kind} in ('granted', 'revoked', 'renewed', 'expired')`),
    check('authorization_events_expiry', sql`${t.kind} not in ('granted', 'renewed') or ${t.expiresAt} is not null`),
    check('authorization_events_renews', sql`${t.kind} <> 'renewed' or ${t.renewsEventId} is not null`),
  ],
);

/** One current row per patient and topic: what the gate reads and what a revocation locks (RV1). */
export const consentStates = pgTable(
  'consent_states',
  {
    orgId: uuid('org_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    topicId: uuid('topic_id').notNull(),
    status: text('status', { enum: ['active', 'revoked', 'expired'] }).notNull(),
    /** The event that made the current authorisation (granted or renewed). */
    grantEventId: uuid('grant_event_id').notNull(),
    textId: uuid('text_id').notNull(),
    channels: jsonb('channels').$type<ConsentChannel[]>().notNull(),
    grantedAt: timestamp('granted_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.patientId, t.topicId] }),
    foreignKey({ name: 'consent_states_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }),
    foreignKey({ name: 'consent_states_topic_fk', columns: [t.orgId, t.topicId], foreignColumns: [consentTopics.orgId, consentTopics.id] }),
    check('consent_states_status', sql`${t.status} in ('active', 'revoked', 'expired')`),
  ],
);

export type ConsentChannel = 'email' | 'sms' | 'push' | 'portal';
export type ConsentEvidence = {
  method: string;
  verifiedAt: string;
  ipAddress: string;
  userAgent: string | null;
  signatureName?: string;
  via: 'portal' | 'link' | 'system';
  /** Issue 9 (HIPAA 164.508: the patient signs what they read): the page language, and the translation read, if any. */
  language?: string;
  translationId?: string;
  translationHash?: string;
};
export type AuthorizationEvent = typeof authorizationEvents.$inferSelect;
export type ConsentState = typeof consentStates.$inferSelect;
