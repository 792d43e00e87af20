// What the patient's pages read: each topic with its authorisation status in plain words, the text they can sign
// now, and the record of what they signed (AV5). Every query is scoped to the organisation and the patient (EN3).
import { and, asc, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { authorizationEvents, authorizationTexts, consentStates, consentTopics, patients, type AuthorizationText, type ConsentChannel } from '../../db/schema/index';
import { isActive } from './ledger';
import { topicPreferencesOf, type EffectiveTopicPreference } from './preferences';
import { isUuid } from '../ids';
import { textTranslationById } from './translations';

export type TopicStatus =
  | { kind: 'active'; expiresAt: Date; grantedAt: Date; channels: ConsentChannel[]; grantEventId: string }
  | { kind: 'revoked'; revokedAt: Date; grantEventId: string }
  | { kind: 'expired'; expiredAt: Date; grantEventId: string }
  | { kind: 'never' };

export type TopicChoice = {
  topic: { id: string; key: string; name: string; description: string; remunerated: boolean; thirdPartyName: string | null };
  status: TopicStatus;
  preference: EffectiveTopicPreference;
  /** Whether a text can be signed now (a published version exists). */
  signable: boolean;
};

/** Every topic that is not retired, plus any retired topic the patient still has an authorisation record for. */
export async function choicesOf(db: DbOrTx, orgId: string, patientId: string, now: Date): Promise<TopicChoice[]> {
  const rows = await db
    .select({ topic: consentTopics, state: consentStates })
    .from(consentTopics)
    .leftJoin(
      consentStates,
      and(eq(consentStates.orgId, consentTopics.orgId), eq(consentStates.topicId, consentTopics.id), eq(consentStates.patientId, patientId)),
    )
    .where(eq(consentTopics.orgId, orgId))
    .orderBy(asc(consentTopics.name));
  const published = await db
    .selectDistinct({ topicId: authorizationTexts.topicId })
    .from(authorizationTexts)
    .where(and(eq(authorizationTexts.orgId, orgId), eq(authorizationTexts.status, 'published')));
  const signable = new Set(published.map((p) => p.topicId));
  const prefs = await topicPreferencesOf(db, orgId, patientId);
  return rows
    .filter((r) => !r.topic.retiredAt || r.state)
    .map(({ topic, state }) => {
      let status: TopicStatus = { kind: 'never' };
      if (state && isActive(state, now)) {
        status = { kind: 'active', expiresAt: state.expiresAt, grantedAt: state.grantedAt, channels: state.channels, grantEventId: state.grantEventId };
      } else if (state?.status === 'revoked') {
        status = { kind: 'revoked', revokedAt: state.revokedAt!, grantEventId: state.grantEventId };
      } else if (state) {
        // Past its expiry instant even if the worker has not written the `expired` event yet (AV4).
        status = { kind: 'expired', expiredAt: state.expiresAt, grantEventId: state.grantEventId };
      }
      return {
        topic: { id: topic.id, key: topic.key, name: topic.name, description: topic.description, remunerated: topic.remunerated, thirdPartyName: topic.thirdPartyName },
        status,
        preference: prefs.get(topic.id) ?? { channels: [], frequency: 'immediate', pausedUntil: null },
        signable: !topic.retiredAt && signable.has(topic.id),
      };
    });
}

/** The text a patient would sign now for a topic: the newest published version in their language, else English. */
export async function signableText(db: DbOrTx, orgId: string, patientId: string, topicKey: string) {
  const [patient] = await db.select({ locale: patients.locale }).from(patients).where(and(eq(patients.orgId, orgId), eq(patients.id, patientId)));
  const language = patient?.locale ?? 'en';
  const [topic] = await db
    .select()
    .from(consentTopics)
    .where(and(eq(consentTopics.orgId, orgId), eq(consentTopics.key, topicKey), isNull(consentTopics.retiredAt)));
  if (!topic || !patient) return undefined;
  const texts = await db
    .select()
    .from(authorizationTexts)
    .where(
      and(
        eq(authorizationTexts.orgId, orgId),
        eq(authorizationTexts.topicId, topic.id),
        eq(authorizationTexts.status, 'published'),
        inArray(authorizationTexts.language, [...new Set([language, 'en'])]),
      ),
    )
    .orderBy(desc(authorizationTexts.version));
  const text: AuthorizationText | undefined = texts.find((t) => t.language === language) ?? texts[0];
  return text ? { topic, text } : undefined;
}

/**
 * AV5: the record of one signed authorisation (a grant or a renewal) and the exact text the patient saw, for the
 * printable and downloadable copy. Undefined for another patient's or organisation's event (EN3).
 */
export async function signedRecord(db: DbOrTx, orgId: string, patientId: string, eventId: string) {
  if (!isUuid(eventId)) return undefined;
  const [row] = await db
    .select({ event: authorizationEvents, text: authorizationTexts, topic: consentTopics, patientName: patients.displayName })
    .from(authorizationEvents)
    .innerJoin(authorizationTexts, and(eq(authorizationTexts.orgId, authorizationEvents.orgId), eq(authorizationTexts.id, authorizationEvents.textId)))
    .innerJoin(consentTopics, and(eq(consentTopics.orgId, authorizationEvents.orgId), eq(consentTopics.id, authorizationEvents.topicId)))
    .innerJoin(patients, and(eq(patients.orgId, authorizationEvents.orgId), eq(patients.id, authorizationEvents.patientId)))
    .where(
      and(
        eq(authorizationEvents.orgId, orgId),
        eq(authorizationEvents.patientId, patientId),
        eq(authorizationEvents.id, eventId),
        inArray(authorizationEvents.kind, ['granted', 'renewed']),
      ),
    );
  if (!row) return undefined;
  // Issue 9: the translation the patient read and signed, if they signed one.
  const translationId = row.event.evidence.translationId;
  const translation = translationId ? await textTranslationById(db, orgId, row.text.id, translationId) : undefined;
  return { ...row, translation };
}

/** Splits a rendered authorisation body (see renderAuthorizationText) into its title and headed sections. */
export function textSections(body: string): { title: string; sections: { heading: string; paragraphs: string[] }[] } {
  const [title = '', ...blocks] = body.split('\n\n');
  return {
    title,
    sections: blocks.map((block) => {
      const [heading = '', ...lines] = block.split('\n');
      return { heading, paragraphs: lines };
    }),
  };
}
