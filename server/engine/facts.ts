// What the gate needs to know about one delivery, read inside the delivery's transaction. For marketing, the
// patient's consent-state row is read FOR SHARE and that lock is held until the hand-off commits: a revocation takes
// the row exclusively, so it waits for deliveries in flight and none is handed off after it commits (RV1, DL3).
import { and, count, desc, eq, gt, isNotNull, max, min, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
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
import { hasActivePushSubscription } from '../delivery/push-subscriptions';
import { consentLockKey } from '../consent/ledger';
import { checkAuthorizationText } from '../consent/texts';
import type { GateFacts } from './gate';

const WEEK_MS = 7 * 86_400_000;

function stateQuery(tx: DbOrTx, d: Pick<Delivery, 'orgId' | 'patientId'>, topicId: string, lock: boolean) {
  const query = tx
    .select({ state: consentStates, textHash: authorizationEvents.textHash, elements: authorizationTexts.elements })
    .from(consentStates)
    .innerJoin(authorizationEvents, eq(authorizationEvents.id, consentStates.grantEventId))
    .innerJoin(authorizationTexts, and(eq(authorizationTexts.orgId, consentStates.orgId), eq(authorizationTexts.id, consentStates.textId)))
    .where(and(eq(consentStates.orgId, d.orgId), eq(consentStates.patientId, d.patientId), eq(consentStates.topicId, topicId)));
  return lock ? query.for('share', { of: consentStates }) : query;
}

export type LoadedFacts = { facts: GateFacts; contactValue: string | null };

/**
 * The facts the gate decides on. The engine reads them inside its hand-off transaction under the consent locks
 * (`lock`, the default). The API's preflight only answers a question and hands nothing off: it reads the same
 * facts with the same code, without locks or a transaction (`lock: false`), so a busy preflight never queues behind
 * or ahead of a revocation.
 */
export async function loadFacts(tx: DbOrTx, d: Pick<Delivery, 'orgId' | 'patientId' | 'category' | 'topicId' | 'channel'>, now: Date, options: { lock?: boolean } = {}): Promise<LoadedFacts> {
  const lock = options.lock ?? true;
  const marketing = d.category === 'marketing' && d.topicId !== null;
  const topicId = d.topicId ?? '00000000-0000-0000-0000-000000000000';
  const mine = (t: typeof deliveries) => and(eq(t.orgId, d.orgId), eq(t.patientId, d.patientId), eq(t.category, 'marketing'), eq(t.status, 'sent'));
  // Every query is issued at once: postgres.js pipelines them on the transaction's connection, and Postgres runs them
  // in order, so the facts read after the lock is granted, at the cost of one network write instead of eight.
  const [, stateRows, topicRows, prefRows, lastRows, windowRows, contactRows, prefs, subscribed] = await Promise.all([
    // The shared locks (RV1): held until this transaction, and so the hand-off, ends. The advisory one queues fairly
    // behind a waiting revocation (see lockState in server/consent/ledger.ts); the row lock backs it up.
    marketing && lock ? tx.execute(sql`select pg_advisory_xact_lock_shared(${consentLockKey({ orgId: d.orgId, patientId: d.patientId, topicId })})`) : undefined,
    marketing ? stateQuery(tx, d, topicId, lock) : [],
    marketing ? tx.select().from(consentTopics).where(and(eq(consentTopics.orgId, d.orgId), eq(consentTopics.id, topicId))) : [],
    marketing
      ? tx
          .select()
          .from(topicPreferences)
          .where(and(eq(topicPreferences.orgId, d.orgId), eq(topicPreferences.patientId, d.patientId), eq(topicPreferences.topicId, topicId)))
      : [],
    marketing
      ? tx
          .select({ at: max(deliveries.sentAt) })
          .from(deliveries)
          .where(and(mine(deliveries), eq(deliveries.topicId, topicId), isNotNull(deliveries.sentAt)))
      : [],
    marketing
      ? tx
          .select({ n: count(), oldest: min(deliveries.sentAt) })
          .from(deliveries)
          .where(and(mine(deliveries), gt(deliveries.sentAt, new Date(now.getTime() - WEEK_MS))))
      : [],
    d.channel === 'email' || d.channel === 'sms'
      ? // The newest verified point of that kind, and whether it is suppressed; an unverified one only tells the gate
        // why it cannot be used.
        tx
          .select({ value: contactPoints.value, verifiedAt: contactPoints.verifiedAt, suppressed: suppressions.reason })
          .from(contactPoints)
          .leftJoin(suppressions, and(eq(suppressions.orgId, contactPoints.orgId), eq(suppressions.kind, contactPoints.kind), eq(suppressions.value, contactPoints.value)))
          .where(and(eq(contactPoints.orgId, d.orgId), eq(contactPoints.patientId, d.patientId), eq(contactPoints.kind, d.channel)))
          .orderBy(sql`${contactPoints.verifiedAt} is null`, desc(contactPoints.verifiedAt))
          .limit(1)
      : [],
    patientPreferencesOf(tx, d.orgId, d.patientId),
    // Push: the patient opted in on at least one device that the push service has not since disowned.
    d.channel === 'push' ? hasActivePushSubscription(tx, d.orgId, d.patientId) : false,
  ]);

  let authorization: GateFacts['authorization'];
  let topic: GateFacts['topic'];
  const row = stateRows[0];
  const topicRow = topicRows[0];
  if (marketing && topicRow) {
    // AV2: judged against the topic as it is now (a payer added after the text was signed makes it defective).
    topic = { retired: topicRow.retiredAt !== null, textCompliant: row ? checkAuthorizationText(topicRow, row.elements).ok : false };
  }
  if (row) {
    authorization = { status: row.state.status, expiresAt: row.state.expiresAt, channels: row.state.channels, grantEventId: row.state.grantEventId, textHash: row.textHash };
  }
  const pref = prefRows[0];
  const topicPreference: GateFacts['topicPreference'] = pref
    ? { channels: pref.channels, frequency: pref.frequency, pausedUntil: pref.pausedUntil }
    : (DEFAULT_TOPIC_PREFERENCE as GateFacts['topicPreference']);

  let contact: GateFacts['contact'];
  let contactValue: string | null = null;
  let suppressed = false;
  if (d.channel === 'email' || d.channel === 'sms') {
    const point = contactRows[0];
    if (point) {
      contact = { kind: d.channel, verified: point.verifiedAt !== null };
      contactValue = point.value;
      suppressed = point.suppressed !== null;
    }
  } else if (d.channel === 'portal') {
    contact = { kind: 'portal' };
  } else {
    contact = { kind: 'push', subscribed };
  }

  const window = windowRows[0];
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
      lastTopicSentAt: lastRows[0]?.at ?? null,
    },
  };
}
