import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_REASONS,
  BLOCK_WORDS,
  DEFER_REASONS,
  DEFER_WORDS,
  deliveryChannelWords,
  deliveryKindWords,
  deliveryOutcome,
  REASON_CODES,
  ROUTE_WORDS,
} from '../../app/utils/delivery-words';

/** The string literals of `export type <name> = ...;` in server/engine/gate.ts, read from the source itself. */
function unionMembers(name: string): string[] {
  const source = fs.readFileSync(new URL('../../server/engine/gate.ts', import.meta.url), 'utf8');
  const match = new RegExp(`export type ${name} =([^;]+);`).exec(source);
  if (!match) throw new Error(`${name} not found in gate.ts`);
  return [...match[1]!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
}

const ROUTES = ['pgp', 'tls', 'portal_notice', 'sms_notice', 'push_notice', 'portal'] as const;

describe('delivery words', () => {
  it("every BlockReason and DeferReason in the gate has a listed code and a plain sentence (the lists are also checked by type with `satisfies`)", () => {
    const block = unionMembers('BlockReason');
    const defer = unionMembers('DeferReason');
    expect(block.length).toBeGreaterThan(10);
    expect([...BLOCK_REASONS].sort()).toEqual([...block].sort());
    expect([...DEFER_REASONS].sort()).toEqual([...defer].sort());
    expect(new Set(REASON_CODES).size).toBe(block.length + defer.length);
    for (const code of block) {
      const words = deliveryOutcome({ status: 'blocked', decision: 'block', reason: code, route: null, channel: 'email' }).words;
      expect(BLOCK_WORDS[code as keyof typeof BLOCK_WORDS], code).toMatch(/^[a-z].{8,}[^.]$/);
      expect(words, code).toBe(`Not sent: ${BLOCK_WORDS[code as keyof typeof BLOCK_WORDS]}`);
      expect(words, code).not.toContain('_');
    }
    for (const code of defer) {
      const words = deliveryOutcome({ status: 'queued', decision: 'defer', reason: code, route: null, channel: 'sms' }).words;
      expect(words, code).toBe(`Waiting: ${DEFER_WORDS[code as keyof typeof DEFER_WORDS]}`);
      expect(words, code).not.toContain('_');
    }
  });

  it('says the required sentences for the codes named in the issue', () => {
    const blocked = (reason: string, channel = 'email') => deliveryOutcome({ status: 'blocked', decision: 'block', reason, route: null, channel }).words;
    expect(blocked('authorization_revoked')).toBe('Not sent: you took your permission back');
    expect(blocked('suppressed')).toBe('Not sent: this address can no longer receive our emails');
    expect(blocked('suppressed', 'sms')).toBe('Not sent: this number can no longer receive our text messages');
    expect(blocked('send_by_passed')).toBe('Not sent: it was no longer relevant');
    expect(deliveryOutcome({ status: 'queued', decision: 'defer', reason: 'quiet_hours', route: null, channel: 'sms' }).words).toBe('Waiting: quiet hours');
    expect(deliveryOutcome({ status: 'queued', decision: 'defer', reason: 'weekly_cap', route: null, channel: 'email' }).words).toBe('Waiting: your weekly limit');
  });

  it('every route of the engine says how it was sent', () => {
    expect(Object.keys(ROUTE_WORDS).sort()).toEqual([...ROUTES].sort());
    const expected: Record<string, string> = {
      pgp: 'Sent encrypted to your key (PGP)',
      tls: 'Sent over an encrypted connection',
      portal_notice: 'Sent as a notice to read it in this portal',
      sms_notice: 'Sent as a text-message notice',
      portal: 'Sent in this portal',
    };
    for (const route of ROUTES) {
      expect(ROUTE_WORDS[route], route).toBeTruthy();
      const out = deliveryOutcome({ status: 'sent', decision: 'allow', reason: 'care_message', route, channel: 'email' });
      expect(out.kind).toBe('sent');
      if (expected[route]) expect(out.words).toBe(expected[route]);
      else expect(out.words).toBe(`Sent ${ROUTE_WORDS[route]}`);
    }
  });

  it('unknown codes, failures, retries and fresh rows get generic plain words, never the code', () => {
    expect(deliveryOutcome({ status: 'blocked', decision: 'block', reason: 'some_new_code', route: null, channel: 'email' })).toEqual({
      kind: 'not_sent',
      words: 'Not sent: something stopped us sending it this way',
    });
    expect(deliveryOutcome({ status: 'blocked', decision: 'block', reason: null, route: null, channel: 'email' }).words).not.toContain('null');
    expect(deliveryOutcome({ status: 'blocked', decision: 'block', reason: 'toString', route: null, channel: 'email' }).words).toBe(
      'Not sent: something stopped us sending it this way',
    );
    expect(deliveryOutcome({ status: 'queued', decision: 'defer', reason: 'some_new_wait', route: null, channel: 'email' }).words).toBe('Waiting: it is on its way');
    expect(deliveryOutcome({ status: 'sent', decision: 'allow', reason: 'authorized', route: 'carrier_pigeon', channel: 'email' }).words).toBe('Sent');
    for (const reason of ['permanent_failure', 'max_age', null]) {
      expect(deliveryOutcome({ status: 'failed', decision: 'allow', reason, route: null, channel: 'email' })).toEqual({ kind: 'not_sent', words: 'Could not be delivered' });
    }
    expect(deliveryOutcome({ status: 'queued', decision: 'allow', reason: 'transient_failure', route: null, channel: 'email' }).words).toBe(
      'Waiting: the first try did not go through, so we will try again',
    );
    expect(deliveryOutcome({ status: 'queued', decision: null, reason: null, route: null, channel: 'portal' })).toEqual({ kind: 'waiting', words: 'Waiting: it is on its way' });
    expect(deliveryOutcome({ status: 'sending', decision: null, reason: null, route: null, channel: 'portal' }).kind).toBe('waiting');
  });

  it('names the kind and the channel in words', () => {
    expect(deliveryKindWords('treatment', null)).toBe('About your care');
    expect(deliveryKindWords('operations', null)).toBe('About your account');
    expect(deliveryKindWords('marketing', 'Wellness news')).toBe('Marketing: Wellness news');
    expect(deliveryChannelWords('sms')).toBe('Text message');
    expect(deliveryChannelWords('portal')).toBe('Message in this portal');
  });
});
