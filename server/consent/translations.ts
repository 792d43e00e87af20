// Organisation texts in the patient's language (issue 9, item 3): topic names and descriptions, and translations of
// published authorisation text versions. A translation is rendered, hashed and stored once, and the database keeps
// it unchanged (migration 0021), like the version it translates. Without one, the patient reads the original and the
// page says so. Admins add them on the translations page of a topic (admin.$slug.topics.$topicId_.translations.tsx).
import { createHash } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { authorizationTexts, authorizationTextTranslations, consentTopics, consentTopicTranslations, type AuthorizationElements } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { canonicalJson } from '../audit/canonical';
import { AUTHORIZATION_WORDS } from '../i18n/authorization';
import { toLocale, type Locale } from '../i18n/locale';
import { checkAuthorizationText, ELEMENTS, type ElementKey } from './texts';

export type TopicWords = { name: string; description: string; translated: boolean };

/** Each topic's name and description in `locale`, where the organisation gave them. */
export async function topicTranslationsOf(db: DbOrTx, orgId: string, locale: Locale, topicIds?: string[]): Promise<Map<string, { name: string; description: string }>> {
  if (locale === 'en' || topicIds?.length === 0) return new Map();
  const rows = await db
    .select({ topicId: consentTopicTranslations.topicId, name: consentTopicTranslations.name, description: consentTopicTranslations.description })
    .from(consentTopicTranslations)
    .where(
      and(
        eq(consentTopicTranslations.orgId, orgId),
        eq(consentTopicTranslations.locale, locale),
        topicIds ? inArray(consentTopicTranslations.topicId, topicIds) : undefined,
      ),
    );
  return new Map(rows.map((r) => [r.topicId, { name: r.name, description: r.description }]));
}

export async function setTopicTranslation(db: DbOrTx, options: { orgId: string; topicId: string; locale: string; name: string; description: string; now: Date }) {
  const locale = toLocale(options.locale);
  if (!locale || locale === 'en') throw new Error('setTopicTranslation: a language other than English is needed');
  const values = { name: options.name.trim(), description: options.description.trim(), updatedAt: options.now };
  await db
    .insert(consentTopicTranslations)
    .values({ orgId: options.orgId, topicId: options.topicId, locale, ...values })
    .onConflictDoUpdate({ target: [consentTopicTranslations.orgId, consentTopicTranslations.topicId, consentTopicTranslations.locale], set: values });
}

/** The exact translated text: the same shape as renderAuthorizationText, with the headings in that language. */
export function renderTranslatedText(locale: Locale, topicName: string, elements: AuthorizationElements, validForMonths: number): string {
  const words = AUTHORIZATION_WORDS[locale];
  const blocks = [words.title(topicName)];
  for (const { key } of ELEMENTS) {
    const value = elements[key]?.trim();
    if (value) blocks.push(`${words.headings[key]}\n${value}`);
  }
  blocks.push(`${words.durationHeading}\n${words.duration(validForMonths)}`);
  return blocks.join('\n\n');
}

export type AddTranslationResult =
  | { status: 'added'; id: string; contentHash: string }
  | { status: 'invalid'; fieldErrors: Partial<Record<ElementKey | 'form', string>> }
  | { status: 'not_found' }
  | { status: 'exists' };

/**
 * Adds the translation of a published version. The same required elements as the original (AV2, AV3); the body is
 * rendered and hashed now, and from then on the database refuses any change.
 */
export async function addTextTranslation(
  db: Database,
  options: { orgId: string; textId: string; locale: string; topicName: string; elements: AuthorizationElements; actor: { type: 'admin' | 'system'; id?: string }; now: Date },
): Promise<AddTranslationResult> {
  const locale = toLocale(options.locale);
  if (!locale || locale === 'en') return { status: 'invalid', fieldErrors: { form: 'Choose a language other than English.' } };
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ text: authorizationTexts, topic: consentTopics })
      .from(authorizationTexts)
      .innerJoin(consentTopics, and(eq(consentTopics.orgId, authorizationTexts.orgId), eq(consentTopics.id, authorizationTexts.topicId)))
      .where(and(eq(authorizationTexts.orgId, options.orgId), eq(authorizationTexts.id, options.textId)));
    if (!row || row.text.status !== 'published') return { status: 'not_found' } as const;
    // Every element the original has must be translated, and nothing else added.
    const fieldErrors: Partial<Record<ElementKey | 'form', string>> = {};
    for (const { key } of ELEMENTS) {
      if (Boolean(row.text.elements[key]?.trim()) !== Boolean(options.elements[key]?.trim())) fieldErrors[key] = 'Translate exactly the parts the original has.';
    }
    const check = checkAuthorizationText(row.topic, options.elements);
    if (!check.ok) Object.assign(fieldErrors, check.fieldErrors);
    if (Object.keys(fieldErrors).length > 0) return { status: 'invalid', fieldErrors } as const;
    const body = renderTranslatedText(locale, options.topicName.trim(), options.elements, row.text.validForMonths);
    const contentHash = createHash('sha256')
      .update(canonicalJson({ v: 1, orgId: options.orgId, textId: row.text.id, originalHash: row.text.contentHash, locale, body, validForMonths: row.text.validForMonths }))
      .digest('hex');
    const [added] = await tx
      .insert(authorizationTextTranslations)
      .values({ orgId: options.orgId, textId: row.text.id, locale, elements: options.elements, body, contentHash, createdAt: options.now })
      .onConflictDoNothing()
      .returning({ id: authorizationTextTranslations.id });
    if (!added) return { status: 'exists' } as const;
    await appendAudit(tx, options.orgId, {
      actorType: options.actor.type,
      actorId: options.actor.id ?? null,
      action: 'consent.text.translated',
      subjectType: 'authorization_text',
      subjectId: row.text.id,
      details: { topicId: row.text.topicId, version: row.text.version, locale, translationId: added.id, contentHash },
    });
    return { status: 'added', id: added.id, contentHash } as const;
  });
}

export async function textTranslationFor(db: DbOrTx, orgId: string, textId: string, locale: Locale) {
  if (locale === 'en') return undefined;
  const [row] = await db
    .select()
    .from(authorizationTextTranslations)
    .where(and(eq(authorizationTextTranslations.orgId, orgId), eq(authorizationTextTranslations.textId, textId), eq(authorizationTextTranslations.locale, locale)));
  return row;
}

export async function textTranslationById(db: DbOrTx, orgId: string, textId: string, translationId: string) {
  const [row] = await db
    .select()
    .from(authorizationTextTranslations)
    .where(and(eq(authorizationTextTranslations.orgId, orgId), eq(authorizationTextTranslations.textId, textId), eq(authorizationTextTranslations.id, translationId)));
  return row;
}

// ---- the admin console's translations page (app/routes/admin.$slug.topics.$topicId_.translations.tsx) -------------

export type TopicTranslationField = 'name' | 'description' | 'form';

/**
 * An admin sets the topic's name and description in one language. Unlike a text translation these may change, as the
 * English ones may: a signed text keeps the name it was rendered with. Audited with the language only.
 */
export async function saveTopicTranslation(
  db: Database,
  options: { orgId: string; topicId: string; locale: string; name: string; description: string; actor: { adminId: string }; now: Date },
): Promise<{ status: 'saved' } | { status: 'invalid'; fieldErrors: Partial<Record<TopicTranslationField, string>> } | { status: 'not_found' }> {
  const locale = toLocale(options.locale);
  if (!locale || locale === 'en') return { status: 'invalid', fieldErrors: { form: 'Choose a language other than English.' } };
  const name = options.name.trim();
  const description = options.description.trim();
  const fieldErrors: Partial<Record<TopicTranslationField, string>> = {};
  if (!name) fieldErrors.name = 'Enter the name patients see in this language.';
  else if (name.length > 120) fieldErrors.name = 'Use at most 120 characters.';
  if (description.length > 500) fieldErrors.description = 'Use at most 500 characters.';
  if (Object.keys(fieldErrors).length > 0) return { status: 'invalid', fieldErrors };
  return db.transaction(async (tx) => {
    const [topic] = await tx
      .select({ id: consentTopics.id })
      .from(consentTopics)
      .where(and(eq(consentTopics.orgId, options.orgId), eq(consentTopics.id, options.topicId)));
    if (!topic) return { status: 'not_found' } as const;
    await setTopicTranslation(tx, { orgId: options.orgId, topicId: topic.id, locale, name, description, now: options.now });
    await appendAudit(tx, options.orgId, {
      actorType: 'admin',
      actorId: options.actor.adminId,
      action: 'consent.topic.translated',
      subjectType: 'consent_topic',
      subjectId: topic.id,
      details: { locale },
    });
    return { status: 'saved' } as const;
  });
}

/** The topic's words in `locale`, and each published version of its text with its translation, if there is one. */
export async function translationsOfTopic(db: DbOrTx, orgId: string, topicId: string, locale: Locale) {
  const topicWords = (await topicTranslationsOf(db, orgId, locale, [topicId])).get(topicId);
  const published = await db
    .select()
    .from(authorizationTexts)
    .where(and(eq(authorizationTexts.orgId, orgId), eq(authorizationTexts.topicId, topicId), eq(authorizationTexts.status, 'published')));
  const translations =
    published.length === 0
      ? []
      : await db
          .select()
          .from(authorizationTextTranslations)
          .where(
            and(
              eq(authorizationTextTranslations.orgId, orgId),
              eq(authorizationTextTranslations.locale, locale),
              inArray(
                authorizationTextTranslations.textId,
                published.map((t) => t.id),
              ),
            ),
          );
  const byText = new Map(translations.map((t) => [t.textId, t]));
  return {
    topic: topicWords ?? null,
    texts: published
      .sort((a, b) => b.version - a.version)
      .map((text) => ({ text, translation: byText.get(text.id) ?? null })),
  };
}
