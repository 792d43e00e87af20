import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kekFrom, kekRing, open, openJson, rewrap, seal, sealJson, VaultError } from '../../server/messages/vault';
import { sealV1 } from '../support/vault';

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


describe('rewrap (TR1: key rotation without touching ciphertexts)', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const rotating = kekRing(newKey, [oldKey]);
  const newOnly = kekRing(newKey);

  it('TR1: a v2 envelope moves under the new KEK with its nonce and ciphertext unchanged, and opens with the new key alone', () => {
    const sealed = seal(kekRing(oldKey), ctx, 'Biopsy result: benign');
    const moved = rewrap(rotating, ctx, sealed)!;
    expect(moved).toMatchObject({ v: 2, kid: newOnly.current.kid, iv: sealed.iv, ct: sealed.ct });
    expect(moved.wk).not.toBe(sealed.wk);
    expect(open(newOnly, ctx, moved).toString()).toBe('Biopsy result: benign');
    // The wrapped key stays bound to its organisation and purpose.
    expect(() => open(newOnly, { ...ctx, purpose: 'reply-content' }, moved)).toThrow(VaultError);
  });

  it('TR1: an envelope already under the current KEK is left alone', () => {
    expect(rewrap(rotating, ctx, seal(rotating, ctx, 'x'))).toBeUndefined();
  });

  it('TR1: a v1 envelope is re-sealed as v2 under the new KEK', () => {
    const v1 = sealV1(oldKey, ctx, 'from the first vault');
    expect(open(rotating, ctx, v1).toString()).toBe('from the first vault');
    const moved = rewrap(rotating, ctx, v1)!;
    expect(moved).toMatchObject({ v: 2, kid: newOnly.current.kid });
    expect(open(newOnly, ctx, moved).toString()).toBe('from the first vault');
    // Even under the current KEK a v1 envelope is upgraded: its body AAD names the KEK.
    expect(rewrap(kekRing(oldKey), ctx, v1)).toMatchObject({ v: 2, kid: kekFrom(oldKey).kid });
  });

  it('TR1: a tampered body, a tampered wrapped key or an unknown KEK throws VaultError instead of re-wrapping', () => {
    const sealed = seal(kekRing(oldKey), ctx, 'secret');
    const ct = Buffer.from(sealed.ct, 'base64');
    ct[0] = ct[0]! ^ 1;
    expect(() => rewrap(rotating, ctx, { ...sealed, ct: ct.toString('base64') })).toThrow(expect.objectContaining({ reason: 'tampered' }));
    const wk = Buffer.from(sealed.wk, 'base64');
    wk[20] = wk[20]! ^ 1;
    expect(() => rewrap(rotating, ctx, { ...sealed, wk: wk.toString('base64') })).toThrow(expect.objectContaining({ reason: 'tampered' }));
    expect(() => rewrap(rotating, { ...ctx, orgId: '00000000-0000-4000-8000-000000000002' }, sealed)).toThrow(VaultError);
    expect(() => rewrap(newOnly, ctx, sealed)).toThrow(expect.objectContaining({ reason: 'unknown_key' }));
  });
});
