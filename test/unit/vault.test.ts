import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kekRing, open, openJson, seal, sealJson, VaultError } from '../../server/messages/vault';

const ctx = { orgId: '00000000-0000-4000-8000-000000000001', purpose: 'message-content' };

describe('vault (TR1: bodies encrypted at rest with an AEAD)', () => {
  it('TR1: seals with a fresh data key and nonce each time, and opens again', () => {
    const ring = kekRing(randomBytes(32));
    const a = seal(ring, ctx, 'Your results are ready');
    const b = seal(ring, ctx, 'Your results are ready');
    expect(a.ct).not.toBe(b.ct);
    expect(a.wk).not.toBe(b.wk);
    expect(JSON.stringify(a)).not.toContain('results');
    expect(open(ring, ctx, a).toString()).toBe('Your results are ready');
    expect(openJson(ring, ctx, sealJson(ring, ctx, { subject: 's', text: 't' }))).toEqual({ subject: 's', text: 't' });
  });

  it('TR1: a flipped bit, another organisation or another purpose does not open', () => {
    const ring = kekRing(randomBytes(32));
    const sealed = seal(ring, ctx, 'secret');
    const ct = Buffer.from(sealed.ct, 'base64');
    ct[0] = ct[0]! ^ 1;
    expect(() => open(ring, ctx, { ...sealed, ct: ct.toString('base64') })).toThrow(VaultError);
    expect(() => open(ring, { ...ctx, orgId: '00000000-0000-4000-8000-000000000002' }, sealed)).toThrow(VaultError);
    expect(() => open(ring, { ...ctx, purpose: 'other' }, sealed)).toThrow(VaultError);
  });

  it('keys rotate: the old key still opens what it sealed; an unknown key id is refused', () => {
    const old = randomBytes(32);
    const sealed = seal(kekRing(old), ctx, 'before rotation');
    const rotated = kekRing(randomBytes(32), [old]);
    expect(open(rotated, ctx, sealed).toString()).toBe('before rotation');
    expect(seal(rotated, ctx, 'x').kid).not.toBe(sealed.kid);
    expect(() => open(kekRing(randomBytes(32)), ctx, sealed)).toThrow(/unknown_key/);
  });
});
