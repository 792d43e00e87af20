import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, hashEvent } from '../../server/audit/chain';
import { canonicalJson } from '../../server/audit/canonical';

/** AU2's definition of an event's hash, as the chain has always been written: sha256(prev || "\n" || canonical(event)). */
function definition(prevHash: string, f: Parameters<typeof hashEvent>[1]): string {
  const body = canonicalJson({
    v: 1,
    orgId: f.orgId,
    seq: f.seq,
    occurredAt: f.occurredAt.toISOString(),
    actorType: f.actorType,
    actorId: f.actorId,
    action: f.action,
    subjectType: f.subjectType,
    subjectId: f.subjectId,
    details: f.details,
  });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

describe('AU2: the event hash', () => {
  const base = {
    orgId: '3f1c7d2e-5b6a-4c8d-9e0f-1a2b3c4d5e6f',
    seq: 1,
    occurredAt: new Date('2026-11-25T03:04:05.678Z'),
    actorType: 'system',
    actorId: null,
    action: 'delivery.sent',
    subjectType: 'delivery',
    subjectId: '9d3e260e-e1cd-4929-8f6e-5f865e053665',
    details: { route: 'portal_notice', reason: 'authorized', channel: 'email', basisEventId: null },
  };

  it('AU2: is byte for byte the canonical-JSON definition, so chains written before stay verifiable', () => {
    const cases = [
      base,
      { ...base, seq: 123_456_789, actorId: 'admin-7', subjectType: null, subjectId: null, details: {} },
      { ...base, action: 'consent.revoked', actorType: 'patient', actorId: 'p"q\\r\n', details: { z: [3, { b: 2, a: 1 }], a: 'é \u2028 😀', n: -0, big: 1e21, t: true, missing: undefined } },
      { ...base, details: { nested: { deeper: { list: [null, 'x', 1.5] } }, __proto__x: 1 } },
    ];
    let prev = GENESIS_HASH;
    for (const fields of cases) {
      const hash = hashEvent(prev, fields);
      expect(hash).toBe(definition(prev, fields));
      prev = hash;
    }
    // A fixed value (computed with the code before this fast path), so a change to the definition itself is caught too.
    expect(hashEvent(GENESIS_HASH, base)).toBe('49e5467e31ab83333419a3fbdca77e58ca691e0969bec59590cb702bfa0b91f5');
  });

  it('AU2: any hashed field changes the hash', () => {
    const h = hashEvent(GENESIS_HASH, base);
    expect(hashEvent('1'.repeat(64), base)).not.toBe(h);
    expect(hashEvent(GENESIS_HASH, { ...base, seq: 2 })).not.toBe(h);
    expect(hashEvent(GENESIS_HASH, { ...base, action: 'delivery.blocked' })).not.toBe(h);
    expect(hashEvent(GENESIS_HASH, { ...base, actorId: 'x' })).not.toBe(h);
    expect(hashEvent(GENESIS_HASH, { ...base, subjectId: null })).not.toBe(h);
    expect(hashEvent(GENESIS_HASH, { ...base, occurredAt: new Date(base.occurredAt.getTime() + 1) })).not.toBe(h);
    expect(hashEvent(GENESIS_HASH, { ...base, details: { ...base.details, reason: 'other' } })).not.toBe(h);
  });
});
