// The gate (ARCHITECTURE.md, "The send engine", step 3): a pure function of the delivery, the facts read just before
// hand-off, and the time. No I/O, so it can be tested exhaustively; the worker loads the facts under the consent
// row's shared lock and stores the decision, its reason and its basis on the delivery.
import type { ConsentChannel, MessageCategory } from '../../db/schema/index';

export type GateDelivery = {
  category: MessageCategory;
  topicId: string | null;
  channel: ConsentChannel;
  sendBy: Date | null;
  /** The sender withdrew the message: nothing more of it goes out. */
  retracted?: boolean;
  /** The message's portal expiry: a notice pointing at an expired message is pointless. */
  expiresAt?: Date | null;
};

export type GateFacts = {
  /** The patient's consent-state row for the delivery's topic (marketing only). */
  authorization?: { status: 'active' | 'revoked' | 'expired'; expiresAt: Date; channels: ConsentChannel[]; grantEventId: string; textHash: string };
  /** AV2: the topic and whether the text the authorisation rests on still meets the rules for the topic as it is now. */
  topic?: { retired: boolean; textCompliant: boolean };
  topicPreference: { channels: ConsentChannel[]; frequency: 'immediate' | 'weekly' | 'monthly' | 'paused'; pausedUntil: Date | null };
  patientPreference: {
    careChannels: ConsentChannel[];
    weeklyCap: number | null;
    quietStartMinute: number | null;
    quietEndMinute: number | null;
    timeZone: string;
    marketingPausedUntil: Date | null;
    marketingStoppedAt: Date | null;
  };
  /** For email and SMS: the contact point the delivery would use. Portal needs none; push needs a subscription. */
  contact: { kind: 'email' | 'sms'; verified: boolean } | { kind: 'push'; subscribed: boolean } | { kind: 'portal' } | undefined;
  suppressed: boolean;
  /** Marketing deliveries sent to the patient in the 7 days before now, and the oldest of them. */
  marketingSentLast7Days: number;
  oldestMarketingSentInWindow: Date | null;
  /** The last marketing delivery sent to the patient for this topic. */
  lastTopicSentAt: Date | null;
};

export type BlockReason =
  | 'send_by_passed'
  | 'message_withdrawn'
  | 'message_expired'
  | 'no_contact_point'
  | 'contact_unverified'
  | 'no_push_subscription'
  | 'suppressed'
  | 'channel_opted_out'
  | 'no_topic'
  | 'marketing_stopped'
  | 'marketing_paused'
  | 'topic_paused'
  | 'no_authorization'
  | 'authorization_revoked'
  | 'authorization_expired'
  | 'channel_not_authorized'
  | 'authorization_text_defective'
  | 'topic_retired';
export type DeferReason = 'quiet_hours' | 'frequency_cap' | 'weekly_cap';

export type Decision =
  | { kind: 'allow'; reason: 'care_message' | 'authorized'; basis: { grantEventId: string; textHash: string } | null }
  | { kind: 'block'; reason: BlockReason }
  | { kind: 'defer'; reason: DeferReason; until: Date };

const DAY_MS = 86_400_000;
const FREQUENCY_GAP_MS = { weekly: 7 * DAY_MS, monthly: 30 * DAY_MS } as const;

/** Minutes after local midnight of `now` in `timeZone`. */
export function localMinute(now: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }).formatToParts(now);
  const hour = Number(parts.find((p) => p.type === 'hour')!.value);
  const minute = Number(parts.find((p) => p.type === 'minute')!.value);
  return hour * 60 + minute;
}

/** When quiet hours end, if `now` is inside them; the window may wrap midnight ([start, end), local time). */
export function quietUntil(now: Date, prefs: GateFacts['patientPreference']): Date | undefined {
  const { quietStartMinute: start, quietEndMinute: end } = prefs;
  if (start === null || end === null || start === end) return undefined;
  const m = localMinute(now, prefs.timeZone);
  const inside = start < end ? m >= start && m < end : m >= start || m < end;
  if (!inside) return undefined;
  const minutesLeft = (end - m + 1440) % 1440;
  const until = new Date(now.getTime() + minutesLeft * 60_000);
  until.setUTCSeconds(0, 0);
  return until.getTime() > now.getTime() ? until : new Date(now.getTime() + 60_000);
}

/** Channels that reach the patient's phone and so respect quiet hours. Email and the portal wait quietly anyway. */
const INTERRUPTING: ReadonlySet<ConsentChannel> = new Set(['sms', 'push']);

export function decide(delivery: GateDelivery, facts: GateFacts, now: Date): Decision {
  const t = now.getTime();
  if (delivery.retracted) return { kind: 'block', reason: 'message_withdrawn' };
  if (delivery.expiresAt && t >= delivery.expiresAt.getTime()) return { kind: 'block', reason: 'message_expired' };
  if (delivery.sendBy && t >= delivery.sendBy.getTime()) return { kind: 'block', reason: 'send_by_passed' };

  // Can this channel reach the patient at all?
  const contact = facts.contact;
  if (delivery.channel === 'email' || delivery.channel === 'sms') {
    if (!contact || contact.kind !== delivery.channel) return { kind: 'block', reason: 'no_contact_point' };
    if (!('verified' in contact) || !contact.verified) return { kind: 'block', reason: 'contact_unverified' };
  } else if (delivery.channel === 'push') {
    if (!contact || contact.kind !== 'push' || !contact.subscribed) return { kind: 'block', reason: 'no_push_subscription' };
  }
  if (facts.suppressed) return { kind: 'block', reason: 'suppressed' };

  const prefs = facts.patientPreference;
  const quiet = INTERRUPTING.has(delivery.channel) ? quietUntil(now, prefs) : undefined;

  // AV6: treatment and operations need no authorisation, but honour the channel choice, suppression and quiet hours.
  if (delivery.category !== 'marketing') {
    if (!prefs.careChannels.includes(delivery.channel)) return { kind: 'block', reason: 'channel_opted_out' };
    if (quiet) return { kind: 'defer', reason: 'quiet_hours', until: quiet };
    return { kind: 'allow', reason: 'care_message', basis: null };
  }

  // Marketing (AV1, AV2, AV4).
  if (!delivery.topicId || !facts.topic) return { kind: 'block', reason: 'no_topic' };
  if (prefs.marketingStoppedAt) return { kind: 'block', reason: 'marketing_stopped' };
  const auth = facts.authorization;
  if (!auth) return { kind: 'block', reason: 'no_authorization' };
  if (auth.status === 'revoked') return { kind: 'block', reason: 'authorization_revoked' };
  // AV4: defective once expired; the expiry instant itself is already expired.
  if (auth.status === 'expired' || t >= auth.expiresAt.getTime()) return { kind: 'block', reason: 'authorization_expired' };
  if (!auth.channels.includes(delivery.channel)) return { kind: 'block', reason: 'channel_not_authorized' };
  if (facts.topic.retired) return { kind: 'block', reason: 'topic_retired' };
  if (!facts.topic.textCompliant) return { kind: 'block', reason: 'authorization_text_defective' };
  if (!facts.topicPreference.channels.includes(delivery.channel)) return { kind: 'block', reason: 'channel_opted_out' };
  // A marketing message held through a pause would arrive stale: it is dropped, not postponed.
  if (prefs.marketingPausedUntil && t < prefs.marketingPausedUntil.getTime()) return { kind: 'block', reason: 'marketing_paused' };
  const topicPref = facts.topicPreference;
  if (topicPref.frequency === 'paused' && (!topicPref.pausedUntil || t < topicPref.pausedUntil.getTime())) return { kind: 'block', reason: 'topic_paused' };

  const deferrals: { reason: DeferReason; until: Date }[] = [];
  if ((topicPref.frequency === 'weekly' || topicPref.frequency === 'monthly') && facts.lastTopicSentAt) {
    const next = facts.lastTopicSentAt.getTime() + FREQUENCY_GAP_MS[topicPref.frequency];
    if (t < next) deferrals.push({ reason: 'frequency_cap', until: new Date(next) });
  }
  if (prefs.weeklyCap !== null && facts.marketingSentLast7Days >= prefs.weeklyCap) {
    const next = (facts.oldestMarketingSentInWindow?.getTime() ?? t) + 7 * DAY_MS;
    deferrals.push({ reason: 'weekly_cap', until: new Date(Math.max(next, t + 60_000)) });
  }
  if (quiet) deferrals.push({ reason: 'quiet_hours', until: quiet });
  if (deferrals.length > 0) {
    // Wait for the latest of them: waking earlier would only defer again.
    const latest = deferrals.reduce((a, b) => (b.until.getTime() > a.until.getTime() ? b : a));
    // An authorisation that ends before then cannot carry the delivery: recheck at the wake-up, where it blocks.
    return { kind: 'defer', reason: latest.reason, until: latest.until };
  }
  return { kind: 'allow', reason: 'authorized', basis: { grantEventId: auth.grantEventId, textHash: auth.textHash } };
}
