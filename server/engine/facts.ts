// What the gate needs to know about one delivery, read inside the delivery's transaction. For marketing, the
// patient's consent-state row is read FOR SHARE and that lock is held until the hand-off commits: a revocation takes
// the row exclusively, so it waits for deliveries in flight and none is handed off after it commits (RV1, DL3).
import { and, count, desc, eq, gt, isNotNull, max, min, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import {
  authorizationEvents,
  authorizationTexts,
  consentStates,
  consentTopics,
  contactPoints,
  deliveries,
  suppressions,
  topicPreferences,
  type Delivery,
} from '../../db/schema/index';
import { patientPreferencesOf, DEFAULT_TOPIC_PREFERENCE } from '../consent/preferences';
import { consentLockKey } from '../consent/ledger';
import { checkAuthorizationText } from '../consent/texts';
import type { GateFacts } from './gate';

const WEEK_MS = 7 * 86_400_000;

export type LoadedFacts = { facts: GateFacts; contactValue: string | null };

export async function loadFacts(tx: Tx, d: Delivery, now: Date): Promise<LoadedFacts> {
  let authorization: GateFacts['authorization'];
  let topic: GateFacts['topic'];
  let topicPreference = DEFAULT_TOPIC_PREFERENCE as GateFacts['topicPreference'];
  let lastTopicSentAt: Date | null = null;

  if (d.category === 'marketing' && d.topicId) {
    // The shared locks (RV1): held until this transaction, and so the hand-off, ends. The advisory one queues fairly
    // behind a waiting revocation (see lockState in server/consent/ledger.ts); the row lock backs it up.
    await tx.execute(sql`select pg_advisory_xact_lock_shared(${consentLockKey({ orgId: d.orgId, patientId: d.patientId, topicId: d.topicId })})`);
    const [row] = await tx
      .select({ state: consentStates, textHash: authorizationEvents.textHash, elements: authorizationTexts.elements, topic: consentTopics })
      .from(consentStates)
      .innerJoin(authorizationEvents, eq(authorizationEvents.id, consentStates.grantEventId))
      .innerJoin(authorizationTexts, and(eq(authorizationTexts.orgId, consentStates.orgId), eq(authorizationTexts.id, consentStates.textId)))
      .innerJoin(consentTopics, and(eq(consentTopics.orgId, consentStates.orgId), eq(consentTopics.id, consentStates.topicId)))
      .where(and(eq(consentStates.orgId, d.orgId), eq(consentStates.patientId, d.patientId), eq(consentStates.topicId, d.topicId)))
      .for('share', { of: consentStates });
    if (row) {
      authorization = { status: row.state.status, expiresAt: row.state.expiresAt, channels: row.state.channels, grantEventId: row.state.grantEventId, textHash: row.textHash };
      // AV2: judged against the topic as it is now (a payer added after the text was signed makes it defective).
      topic = { retired: row.topic.retiredAt !== null, textCompliant: checkAuthorizationText(row.topic, row.elements).ok };
    } else {
      const [t] = await tx.select().from(consentTopics).where(and(eq(consentTopics.orgId, d.orgId), eq(consentTopics.id, d.topicId)));
      topic = t ? { retired: t.retiredAt !== null, textCompliant: false } : undefined;
    }
    const [pref] = await tx
      .select()
      .from(topicPreferences)
      .where(and(eq(topicPreferences.orgId, d.orgId), eq(topicPreferences.patientId, d.patientId), eq(topicPreferences.topicId, d.topicId)));
    if (pref) topicPreference = { channels: pref.channels, frequency: pref.frequency, pausedUntil: pref.pausedUntil };
    const [last] = await tx
      .select({ at: max(deliveries.sentAt) })
      .from(deliveries)
      .where(
        and(
          eq(deliveries.orgId, d.orgId),
          eq(deliveries.patientId, d.patientId),
          eq(deliveries.category, 'marketing'),
          eq(deliveries.status, 'sent'),
          eq(deliveries.topicId, d.topicId),
          isNotNull(deliveries.sentAt),
        ),
      );
    lastTopicSentAt = last?.at ?? null;
  }

  const [window] =
    d.category === 'marketing'
      ? await tx
          .select({ n: count(), oldest: min(deliveries.sentAt) })
          .from(deliveries)
          .where(
            and(
              eq(deliveries.orgId, d.orgId),
              eq(deliveries.patientId, d.patientId),
              eq(deliveries.category, 'marketing'),
              eq(deliveries.status, 'sent'),
              gt(deliveries.sentAt, new Date(now.getTime() - WEEK_MS)),
            ),
          )
      : [{ n: 0, oldest: null }];

  let contact: GateFacts['contact'];
  let contactValue: string | null = null;
  let suppressed = false;
  if (d.channel === 'email' || d.channel === 'sms') {
    // The newest verified point of that kind; an unverified one only tells the gate why it cannot be used.
    const [point] = await tx
      .select({ value: contactPoints.value, verifiedAt: contactPoints.verifiedAt })
      .from(contactPoints)
      .where(and(eq(contactPoints.orgId, d.orgId), eq(contactPoints.patientId, d.patientId), eq(contactPoints.kind, d.channel)))
      .orderBy(sql`${contactPoints.verifiedAt} is null`, desc(contactPoints.verifiedAt))
      .limit(1);
    if (point) {
      contact = { kind: d.channel, verified: point.verifiedAt !== null };
      contactValue = point.value;
      const [s] = await tx
        .select({ reason: suppressions.reason })
        .from(suppressions)
        .where(and(eq(suppressions.orgId, d.orgId), eq(suppressions.kind, d.channel), eq(suppressions.value, point.value)));
      suppressed = s !== undefined;
    }
  } else if (d.channel === 'portal') {
    contact = { kind: 'portal' };
  } else {
    contact = { kind: 'push', subscribed: false }; // web push arrives with issue 9
  }

  const prefs = await patientPreferencesOf(tx, d.orgId, d.patientId);
  return {
    contactValue,
    facts: {
      authorization,
      topic,
      topicPreference,
      patientPreference: prefs,
      contact,
      suppressed,
      marketingSentLast7Days: Number(window?.n ?? 0),
      oldestMarketingSentInWindow: window?.oldest ?? null,
      lastTopicSentAt,
    },
  };
}
