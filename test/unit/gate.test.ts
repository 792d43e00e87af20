// The gate, exhaustively: examples for every reason, and properties over random deliveries and facts (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConsentChannel } from '../../db/schema/index';
import { decide, localMinute, quietUntil, type GateDelivery, type GateFacts } from '../../server/engine/gate';

const NOW = new Date('2027-03-10T15:00:00Z'); // 09:00 in Chicago (CST, UTC-6)
const DAY = 86_400_000;
const CHANNELS: ConsentChannel[] = ['email', 'sms', 'push', 'portal'];

const marketing = (over: Partial<GateDelivery> = {}): GateDelivery => ({ category: 'marketing', topicId: 't1', channel: 'email', sendBy: null, ...over });
const facts = (over: Partial<GateFacts> = {}): GateFacts => ({
  authorization: { status: 'active', expiresAt: new Date(NOW.getTime() + 30 * DAY), channels: ['email', 'sms'], grantEventId: 'g1', textHash: 'h1' },
  topic: { retired: false, textCompliant: true },
  topicPreference: { channels: [...CHANNELS], frequency: 'immediate', pausedUntil: null },
  patientPreference: {
    careChannels: [...CHANNELS],
    weeklyCap: null,
    quietStartMinute: null,
    quietEndMinute: null,
    timeZone: 'America/Chicago',
    marketingPausedUntil: null,
    marketingStoppedAt: null,
  },
  contact: { kind: 'email', verified: true },
  suppressed: false,
  marketingSentLast7Days: 0,
  oldestMarketingSentInWindow: null,
  lastTopicSentAt: null,
  ...over,
});
const prefs = (over: Partial<GateFacts['patientPreference']>) => ({ ...facts().patientPreference, ...over });

describe('gate examples', () => {
  it('AV1: marketing with an active authorisation covering topic and channel is allowed, resting on that authorisation', () => {
    expect(decide(marketing(), facts(), NOW)).toEqual({ kind: 'allow', reason: 'authorized', basis: { grantEventId: 'g1', textHash: 'h1' } });
  });

  it('AV1: no authorisation, or one not covering the channel, blocks', () => {
    expect(decide(marketing(), facts({ authorization: undefined }), NOW)).toEqual({ kind: 'block', reason: 'no_authorization' });
    expect(decide(marketing({ channel: 'portal' }), facts({ contact: { kind: 'portal' } }), NOW)).toEqual({ kind: 'block', reason: 'channel_not_authorized' });
    expect(decide(marketing({ topicId: null }), facts(), NOW)).toEqual({ kind: 'block', reason: 'no_topic' });
  });

  it('AV4: revoked blocks; expired blocks, and the expiry instant itself is exclusive', () => {
    const auth = facts().authorization!;
    expect(decide(marketing(), facts({ authorization: { ...auth, status: 'revoked' } }), NOW).kind).toBe('block');
    expect(decide(marketing(), facts({ authorization: { ...auth, status: 'revoked' } }), NOW)).toMatchObject({ reason: 'authorization_revoked' });
    expect(decide(marketing(), facts({ authorization: { ...auth, expiresAt: NOW } }), NOW)).toEqual({ kind: 'block', reason: 'authorization_expired' });
    expect(decide(marketing(), facts({ authorization: { ...auth, expiresAt: new Date(NOW.getTime() + 1) } }), NOW).kind).toBe('allow');
    expect(decide(marketing(), facts({ authorization: { ...auth, status: 'expired' } }), NOW)).toMatchObject({ reason: 'authorization_expired' });
  });

  it('AV2: a delivery resting on a text that no longer meets the rules for its (remunerated) topic is blocked', () => {
    expect(decide(marketing(), facts({ topic: { retired: false, textCompliant: false } }), NOW)).toEqual({ kind: 'block', reason: 'authorization_text_defective' });
    expect(decide(marketing(), facts({ topic: { retired: true, textCompliant: true } }), NOW)).toEqual({ kind: 'block', reason: 'topic_retired' });
  });

  it('AV6: treatment and operations need no authorisation, but honour channel choice and suppression', () => {
    for (const category of ['treatment', 'operations'] as const) {
      const d = { category, topicId: null, channel: 'email' as const, sendBy: null };
      expect(decide(d, facts({ authorization: undefined, topic: undefined }), NOW)).toEqual({ kind: 'allow', reason: 'care_message', basis: null });
      expect(decide(d, facts({ patientPreference: prefs({ careChannels: ['portal'] }) }), NOW)).toEqual({ kind: 'block', reason: 'channel_opted_out' });
      expect(decide(d, facts({ suppressed: true }), NOW)).toEqual({ kind: 'block', reason: 'suppressed' });
      expect(decide(d, facts({ patientPreference: prefs({ marketingStoppedAt: NOW }) }), NOW).kind).toBe('allow');
    }
  });

  it('contact points: missing, unverified, and push without a subscription block; the portal needs none', () => {
    expect(decide(marketing(), facts({ contact: undefined }), NOW)).toEqual({ kind: 'block', reason: 'no_contact_point' });
    expect(decide(marketing(), facts({ contact: { kind: 'email', verified: false } }), NOW)).toEqual({ kind: 'block', reason: 'contact_unverified' });
    expect(decide(marketing({ channel: 'sms' }), facts({ contact: { kind: 'email', verified: true } }), NOW)).toEqual({ kind: 'block', reason: 'no_contact_point' });
    expect(decide(marketing({ channel: 'push' }), facts({ contact: { kind: 'push', subscribed: false } }), NOW)).toEqual({ kind: 'block', reason: 'no_push_subscription' });
    const care = { category: 'treatment' as const, topicId: null, channel: 'portal' as const, sendBy: null };
    expect(decide(care, facts({ contact: { kind: 'portal' } }), NOW).kind).toBe('allow');
  });

  it('preferences: channel opted out, stop all, pause all, topic pause (until it ends)', () => {
    expect(decide(marketing(), facts({ topicPreference: { channels: ['sms'], frequency: 'immediate', pausedUntil: null } }), NOW)).toMatchObject({ reason: 'channel_opted_out' });
    expect(decide(marketing(), facts({ patientPreference: prefs({ marketingStoppedAt: new Date(0) }) }), NOW)).toMatchObject({ reason: 'marketing_stopped' });
    expect(decide(marketing(), facts({ patientPreference: prefs({ marketingPausedUntil: new Date(NOW.getTime() + DAY) }) }), NOW)).toMatchObject({ reason: 'marketing_paused' });
    expect(decide(marketing(), facts({ patientPreference: prefs({ marketingPausedUntil: NOW }) }), NOW).kind).toBe('allow');
    const paused = (until: Date) => facts({ topicPreference: { channels: [...CHANNELS], frequency: 'paused', pausedUntil: until } });
    expect(decide(marketing(), paused(new Date(NOW.getTime() + DAY)), NOW)).toMatchObject({ reason: 'topic_paused' });
    expect(decide(marketing(), paused(new Date(NOW.getTime() - 1)), NOW).kind).toBe('allow');
  });

  it('frequency per topic and the weekly cap defer until the next allowed time', () => {
    const lastSent = new Date(NOW.getTime() - 2 * DAY);
    const weekly = facts({ topicPreference: { channels: [...CHANNELS], frequency: 'weekly', pausedUntil: null }, lastTopicSentAt: lastSent });
    expect(decide(marketing(), weekly, NOW)).toEqual({ kind: 'defer', reason: 'frequency_cap', until: new Date(lastSent.getTime() + 7 * DAY) });
    const monthly = facts({ topicPreference: { channels: [...CHANNELS], frequency: 'monthly', pausedUntil: null }, lastTopicSentAt: new Date(NOW.getTime() - 29 * DAY) });
    expect(decide(marketing(), monthly, NOW)).toMatchObject({ kind: 'defer', reason: 'frequency_cap' });
    const oldest = new Date(NOW.getTime() - 6 * DAY);
    const capped = facts({ patientPreference: prefs({ weeklyCap: 2 }), marketingSentLast7Days: 2, oldestMarketingSentInWindow: oldest });
    expect(decide(marketing(), capped, NOW)).toEqual({ kind: 'defer', reason: 'weekly_cap', until: new Date(oldest.getTime() + 7 * DAY) });
    expect(decide(marketing(), facts({ patientPreference: prefs({ weeklyCap: 0 }) }), NOW)).toMatchObject({ kind: 'defer', reason: 'weekly_cap' });
    expect(decide(marketing(), facts({ patientPreference: prefs({ weeklyCap: 3 }), marketingSentLast7Days: 2 }), NOW).kind).toBe('allow');
  });

  it('quiet hours in the patient time zone defer SMS and push, not email; windows may wrap midnight', () => {
    expect(localMinute(NOW, 'America/Chicago')).toBe(9 * 60);
    const quiet = (start: number, end: number) => facts({ patientPreference: prefs({ quietStartMinute: start, quietEndMinute: end }), contact: { kind: 'sms', verified: true } });
    // 08:00-10:00 local: inside, wakes at 10:00 local = 16:00Z.
    expect(decide(marketing({ channel: 'sms' }), quiet(8 * 60, 10 * 60), NOW)).toEqual({ kind: 'defer', reason: 'quiet_hours', until: new Date('2027-03-10T16:00:00Z') });
    // 21:00-09:30 wraps midnight: 09:00 is inside.
    expect(decide(marketing({ channel: 'sms' }), quiet(21 * 60, 9 * 60 + 30), NOW)).toMatchObject({ kind: 'defer', until: new Date('2027-03-10T15:30:00Z') });
    // 21:00-09:00: 09:00 is the end, so outside.
    expect(decide(marketing({ channel: 'sms' }), quiet(21 * 60, 9 * 60), NOW).kind).toBe('allow');
    expect(decide(marketing(), facts({ patientPreference: prefs({ quietStartMinute: 8 * 60, quietEndMinute: 10 * 60 }) }), NOW).kind).toBe('allow');
    const care = { category: 'treatment' as const, topicId: null, channel: 'sms' as const, sendBy: null };
    expect(decide(care, quiet(8 * 60, 10 * 60), NOW)).toMatchObject({ kind: 'defer', reason: 'quiet_hours' });
  });

  it('a passed send-by time blocks, whatever else holds', () => {
    expect(decide(marketing({ sendBy: NOW }), facts(), NOW)).toEqual({ kind: 'block', reason: 'send_by_passed' });
    expect(decide(marketing({ sendBy: new Date(NOW.getTime() + 1) }), facts(), NOW).kind).toBe('allow');
  });

  it('a message the sender withdrew, or one past its portal expiry, is not sent on any channel', () => {
    const care = { category: 'treatment' as const, topicId: null, channel: 'portal' as const, sendBy: null };
    const portalFacts = facts({ contact: { kind: 'portal' } });
    expect(decide({ ...care, retracted: true }, portalFacts, NOW)).toEqual({ kind: 'block', reason: 'message_withdrawn' });
    expect(decide(marketing({ retracted: true }), facts(), NOW)).toEqual({ kind: 'block', reason: 'message_withdrawn' });
    expect(decide({ ...care, expiresAt: NOW }, portalFacts, NOW)).toEqual({ kind: 'block', reason: 'message_expired' });
    expect(decide({ ...care, expiresAt: new Date(NOW.getTime() + 1), retracted: false }, portalFacts, NOW).kind).toBe('allow');
  });
});

// Arbitraries over the whole space, including nonsense combinations the database would not hold.
const channel = fc.constantFrom<ConsentChannel>(...CHANNELS);
const instant = fc.integer({ min: -40 * DAY, max: 40 * DAY }).map((o) => new Date(NOW.getTime() + o));
const arbDelivery = fc.record({
  category: fc.constantFrom('treatment' as const, 'operations' as const, 'marketing' as const),
  topicId: fc.option(fc.constant('t1'), { nil: null }),
  channel,
  sendBy: fc.option(instant, { nil: null }),
});
const arbFacts: fc.Arbitrary<GateFacts> = fc.record({
  authorization: fc.option(
    fc.record({
      status: fc.constantFrom('active' as const, 'revoked' as const, 'expired' as const),
      expiresAt: instant,
      channels: fc.subarray(CHANNELS),
      grantEventId: fc.constant('g1'),
      textHash: fc.constant('h1'),
    }),
    { nil: undefined },
  ),
  topic: fc.option(fc.record({ retired: fc.boolean(), textCompliant: fc.boolean() }), { nil: undefined }),
  topicPreference: fc.record({
    channels: fc.subarray(CHANNELS),
    frequency: fc.constantFrom('immediate' as const, 'weekly' as const, 'monthly' as const, 'paused' as const),
    pausedUntil: fc.option(instant, { nil: null }),
  }),
  patientPreference: fc.record({
    careChannels: fc.subarray(CHANNELS, { minLength: 1 }),
    weeklyCap: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
    quietStartMinute: fc.option(fc.integer({ min: 0, max: 1439 }), { nil: null }),
    quietEndMinute: fc.option(fc.integer({ min: 0, max: 1439 }), { nil: null }),
    timeZone: fc.constantFrom('UTC', 'America/Chicago', 'Asia/Kolkata', 'Pacific/Auckland'),
    marketingPausedUntil: fc.option(instant, { nil: null }),
    marketingStoppedAt: fc.option(instant, { nil: null }),
  }),
  contact: fc.option(
    fc.oneof(
      fc.record({ kind: fc.constantFrom('email' as const, 'sms' as const), verified: fc.boolean() }),
      fc.record({ kind: fc.constant('push' as const), subscribed: fc.boolean() }),
      fc.constant({ kind: 'portal' as const }),
    ),
    { nil: undefined },
  ),
  suppressed: fc.boolean(),
  marketingSentLast7Days: fc.integer({ min: 0, max: 12 }),
  oldestMarketingSentInWindow: fc.option(instant, { nil: null }),
  lastTopicSentAt: fc.option(instant, { nil: null }),
});
const arbNow = fc.integer({ min: -3 * DAY, max: 3 * DAY }).map((o) => new Date(NOW.getTime() + o));

describe('gate properties (fast-check)', () => {
  it('AV1, AV4: no marketing allow without an active, unexpired authorisation covering topic and channel', () => {
    fc.assert(
      fc.property(arbDelivery, arbFacts, arbNow, (d, f, now) => {
        const result = decide(d, f, now);
        if (result.kind !== 'allow' || d.category !== 'marketing') return true;
        const a = f.authorization;
        return (
          d.topicId !== null &&
          a !== undefined &&
          a.status === 'active' &&
          now.getTime() < a.expiresAt.getTime() &&
          a.channels.includes(d.channel) &&
          result.basis?.grantEventId === a.grantEventId
        );
      }),
      { numRuns: 20_000 },
    );
  });

  it('AV2: no marketing allow on a defective text or a retired topic; no allow at all when suppressed or past send-by', () => {
    fc.assert(
      fc.property(arbDelivery, arbFacts, arbNow, (d, f, now) => {
        const result = decide(d, f, now);
        if (result.kind !== 'allow') return true;
        if (f.suppressed) return false;
        if (d.sendBy && now.getTime() >= d.sendBy.getTime()) return false;
        if (d.category === 'marketing') return !!f.topic && f.topic.textCompliant && !f.topic.retired && f.topicPreference.channels.includes(d.channel) && !f.patientPreference.marketingStoppedAt;
        return f.patientPreference.careChannels.includes(d.channel);
      }),
      { numRuns: 20_000 },
    );
  });

  it('AV6: a care message is never blocked for a consent reason', () => {
    const consentReasons = new Set(['no_authorization', 'authorization_revoked', 'authorization_expired', 'channel_not_authorized', 'authorization_text_defective', 'no_topic', 'marketing_stopped', 'marketing_paused', 'topic_paused', 'topic_retired']);
    fc.assert(
      fc.property(arbDelivery.filter((d) => d.category !== 'marketing'), arbFacts, arbNow, (d, f, now) => !consentReasons.has(decide(d, f, now).reason)),
      { numRuns: 10_000 },
    );
  });

  it('a deferral always wakes strictly later, and a quiet-hours wake-up is outside quiet hours', () => {
    fc.assert(
      fc.property(arbDelivery, arbFacts, arbNow, (d, f, now) => {
        const result = decide(d, f, now);
        if (result.kind !== 'defer') return true;
        if (result.until.getTime() <= now.getTime()) return false;
        return result.reason !== 'quiet_hours' || quietUntil(result.until, f.patientPreference) === undefined;
      }),
      { numRuns: 20_000 },
    );
  });

  it('the same inputs always give the same decision (pure)', () => {
    fc.assert(fc.property(arbDelivery, arbFacts, arbNow, (d, f, now) => JSON.stringify(decide(d, f, now)) === JSON.stringify(decide(d, f, now))), { numRuns: 2_000 });
  });
});
