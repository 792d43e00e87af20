// Plain words for the send ledger on "Messages we sent you": what kind of message, and what became of it. The
// engine's reason codes are stable (server/engine/gate.ts); each one has a sentence here, and the lists below are
// checked against the gate's unions, so a new code cannot reach the page without words.
import type { BlockReason, DeferReason } from '../../server/engine/gate';
import type { PatientDelivery } from '../../server/engine/history';
import { CHANNEL_LABELS } from './consent-words';
import type { Translate, UiKey } from '../../server/i18n/translate';

export const BLOCK_REASONS = [
  'send_by_passed',
  'message_withdrawn',
  'message_expired',
  'no_contact_point',
  'contact_unverified',
  'no_push_subscription',
  'suppressed',
  'channel_opted_out',
  'no_topic',
  'marketing_stopped',
  'marketing_paused',
  'topic_paused',
  'no_authorization',
  'authorization_revoked',
  'authorization_expired',
  'channel_not_authorized',
  'authorization_text_defective',
  'topic_retired',
] as const satisfies readonly BlockReason[];

export const DEFER_REASONS = ['quiet_hours', 'frequency_cap', 'weekly_cap'] as const satisfies readonly DeferReason[];

/** Every reason code the gate can give, for the unit test that compares them with server/engine/gate.ts. */
export const REASON_CODES = [...BLOCK_REASONS, ...DEFER_REASONS] as const;

// `satisfies` above only proves each listed code exists; these prove none is missing.
type Missing<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : { missing: Exclude<All, Listed> };
const everyBlockReasonListed: Missing<BlockReason, (typeof BLOCK_REASONS)[number]> = true;
const everyDeferReasonListed: Missing<DeferReason, (typeof DEFER_REASONS)[number]> = true;
void everyBlockReasonListed;
void everyDeferReasonListed;

/** Why a delivery was not sent, completing "Not sent: ...". */
export const BLOCK_WORDS: Record<BlockReason, string> = {
  send_by_passed: 'it was no longer relevant',
  message_withdrawn: 'the sender withdrew the message',
  message_expired: 'the message had expired',
  no_contact_point: 'we have no address or number for you for this',
  contact_unverified: 'your address or number for this is not confirmed yet',
  no_push_subscription: 'phone notifications are not turned on for this portal',
  suppressed: 'this address can no longer receive our emails',
  channel_opted_out: 'you chose not to get these messages this way',
  no_topic: 'we could not tell what it was about',
  marketing_stopped: 'you asked us to stop all marketing',
  marketing_paused: 'you paused marketing messages',
  topic_paused: 'you paused messages about this',
  no_authorization: 'you had not given permission',
  authorization_revoked: 'you took your permission back',
  authorization_expired: 'your permission had run out',
  channel_not_authorized: 'your permission does not cover this way of reaching you',
  authorization_text_defective: 'the permission you signed no longer meets the rules, so we did not rely on it',
  topic_retired: 'we no longer send messages about this',
};

/** Why a delivery is waiting, completing "Waiting: ...". */
export const DEFER_WORDS: Record<DeferReason, string> = {
  quiet_hours: 'quiet hours',
  frequency_cap: 'how often you chose to hear about this',
  weekly_cap: 'your weekly limit',
};

/** How a sent delivery went, completing "Sent ..."; typed by the engine's routes, so a new route needs words. */
export const ROUTE_WORDS: Record<NonNullable<PatientDelivery['route']>, string> = {
  pgp: 'encrypted to your key (PGP)',
  tls: 'over an encrypted connection',
  portal_notice: 'as a notice to read it in this portal',
  sms_notice: 'as a text-message notice',
  push_notice: 'as a phone notification to read it in this portal',
  portal: 'in this portal',
};

const GENERIC_NOT_SENT = 'something stopped us sending it this way';
const GENERIC_WAITING = 'it is on its way';

export type DeliveryOutcomeInput = { status: string; decision: string | null; reason: string | null; route: string | null; channel: string };
export type DeliveryOutcome = { kind: 'sent' | 'waiting' | 'not_sent'; words: string };

const has = <K extends string>(record: Record<K, string>, key: string | null): key is K => key !== null && Object.hasOwn(record, key);

/** "About your care", "About your account", "Marketing: Wellness news". */
export function deliveryKindWords(category: string, topicName: string | null): string {
  if (category === 'treatment') return 'About your care';
  if (category === 'operations') return 'About your account';
  return topicName ? `Marketing: ${topicName}` : 'Marketing';
}

export function deliveryChannelWords(channel: string): string {
  return CHANNEL_LABELS[channel] ?? 'Another way';
}

/** The outcome in plain words: "Sent over an encrypted connection", "Waiting: quiet hours", "Not sent: ...", "Could not be delivered". */
export function deliveryOutcome(d: DeliveryOutcomeInput): DeliveryOutcome {
  switch (d.status) {
    case 'sent':
      return { kind: 'sent', words: has(ROUTE_WORDS, d.route) ? `Sent ${ROUTE_WORDS[d.route]}` : 'Sent' };
    case 'failed':
      // Also a hand-off the receiver later refused (a bounce): it went, but never arrived, so not "Not sent".
      return { kind: 'not_sent', words: 'Could not be delivered' };
    case 'blocked': {
      if (d.reason === 'suppressed' && d.channel === 'sms') return { kind: 'not_sent', words: 'Not sent: this number can no longer receive our text messages' };
      return { kind: 'not_sent', words: `Not sent: ${has(BLOCK_WORDS, d.reason) ? BLOCK_WORDS[d.reason] : GENERIC_NOT_SENT}` };
    }
    default: {
      // queued or sending: deferred by the gate, retrying after a transport hiccup, or simply not reached yet.
      if (d.decision === 'defer' && has(DEFER_WORDS, d.reason)) return { kind: 'waiting', words: `Waiting: ${DEFER_WORDS[d.reason]}` };
      if (d.reason === 'transient_failure') return { kind: 'waiting', words: 'Waiting: the first try did not go through, so we will try again' };
      return { kind: 'waiting', words: `Waiting: ${GENERIC_WAITING}` };
    }
  }
}

// The same words in the patient's language (issue 9). The English tables above stay for the admin console and are
// the list of codes; the catalogues carry one sentence per code (keys delivery.block.*, delivery.defer.*, delivery.route.*).
export function deliveryKindText(category: string, topicName: string | null, t: Translate): string {
  if (category === 'treatment') return t('delivery.kind.care');
  if (category === 'operations') return t('delivery.kind.account');
  return topicName ? t('delivery.kind.marketingTopic', { topic: topicName }) : t('delivery.kind.marketing');
}

export function deliveryOutcomeText(d: DeliveryOutcomeInput, t: Translate): DeliveryOutcome {
  switch (d.status) {
    case 'sent':
      return { kind: 'sent', words: has(ROUTE_WORDS, d.route) ? t('delivery.sentVia', { how: t(`delivery.route.${d.route}` as UiKey) }) : t('delivery.sent') };
    case 'failed':
      return { kind: 'not_sent', words: t('delivery.failed') };
    case 'blocked': {
      if (d.reason === 'suppressed' && d.channel === 'sms') return { kind: 'not_sent', words: t('delivery.notSent', { why: t('delivery.block.smsSuppressed') }) };
      return { kind: 'not_sent', words: t('delivery.notSent', { why: has(BLOCK_WORDS, d.reason) ? t(`delivery.block.${d.reason}` as UiKey) : t('delivery.block.generic') }) };
    }
    default: {
      if (d.decision === 'defer' && has(DEFER_WORDS, d.reason)) return { kind: 'waiting', words: t('delivery.waiting', { why: t(`delivery.defer.${d.reason}` as UiKey) }) };
      if (d.reason === 'transient_failure') return { kind: 'waiting', words: t('delivery.waiting', { why: t('delivery.defer.retry') }) };
      return { kind: 'waiting', words: t('delivery.waiting', { why: t('delivery.defer.generic') }) };
    }
  }
}
