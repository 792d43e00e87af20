import { sql } from 'drizzle-orm';
import { check, foreignKey, jsonb, pgTable, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { authorizationTexts, consentTopics, type AuthorizationElements } from './consent';

// Organisation texts in other languages (issue 9, item 3). The original (English) rows stay the source of truth:
// campaigns, the gate and the admin console keep working on them; a patient reads a translation when one exists for
// their language, and the signed record names the translation they read (HIPAA 164.508: they sign what they read).

/** A topic's name and description in one language. Display words, not evidence, so an admin may correct them. */
export const consentTopicTranslations = pgTable(
  'consent_topic_translations',
  {
    orgId: uuid('org_id').notNull(),
    topicId: uuid('topic_id').notNull(),
    locale: text('locale').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.topicId, t.locale] }),
    foreignKey({ name: 'consent_topic_translations_topic_fk', columns: [t.orgId, t.topicId], foreignColumns: [consentTopics.orgId, consentTopics.id] }),
    check('consent_topic_translations_locale', sql`${t.locale} ~ '^[a-z]{2}$'`),
  ],
);

/**
 * One published authorisation text version in another language. Evidence like the version itself: written once, for
 * a published version, and never changed or deleted (a trigger, migration 0019). Its own hash covers its exact body.
 */
export const authorizationTextTranslations = pgTable(
  'authorization_text_translations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    /** The original version this translates. */
    textId: uuid('text_id').notNull(),
    locale: text('locale').notNull(),
    elements: jsonb('elements').$type<AuthorizationElements>().notNull(),
    /** The exact text a patient reads in this language, rendered when the translation is added. */
    body: text('body').notNull(),
    contentHash: text('content_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('authorization_text_translations_text_locale_key').on(t.orgId, t.textId, t.locale),
    unique('authorization_text_translations_org_id_id_key').on(t.orgId, t.id),
    foreignKey({ name: 'authorization_text_translations_text_fk', columns: [t.orgId, t.textId], foreignColumns: [authorizationTexts.orgId, authorizationTexts.id] }),
    check('authorization_text_translations_locale', sql`${t.locale} ~ '^[a-z]{2}$'`),
  ],
);

export type ConsentTopicTranslation = typeof consentTopicTranslations.$inferSelect;
export type AuthorizationTextTranslation = typeof authorizationTextTranslations.$inferSelect;
