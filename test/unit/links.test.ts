import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TTL_SECONDS, LINK_PURPOSES, linkKeyring, mintLink, verifyLink, type LinkPurpose } from '../../server/links/tokens';

const keyring = linkKeyring(randomBytes(32));
const orgId = randomUUID();
const patientId = randomUUID();
const now = new Date('2026-11-23T12:00:00.000Z');
const mint = (purpose: LinkPurpose, extra: Partial<Parameters<typeof mintLink>[1]> = {}) =>
  mintLink(keyring, { purpose, orgId, patientId, now, linkId: randomUUID(), ...extra });

function flip(segment: string): string {
  const last = segment.at(-2) === 'A' ? 'B' : 'A';
  return segment.slice(0, -2) + last + segment.slice(-1);
}

describe('signed links', () => {
  it('mintLink makes exactly the token jose SignJWT makes from the same claims (ADR 018: minted with node:crypto)', async () => {
    for (const [purpose, context, ttlSeconds] of [
      ['pickup', { deliveryId: randomUUID() }, 30 * 86_400],
      ['unsubscribe', { topicId: randomUUID(), channel: 'email' }, undefined],
      ['preferences', undefined, undefined],
      ['renewal', { topicId: 'ü – "quoted" \\ <tag>' }, 600],
    ] as const) {
      const linkId = randomUUID();
      const ours = await mintLink(keyring, { purpose, orgId, patientId, context, ttlSeconds, now, linkId });
      const iat = Math.floor(now.getTime() / 1000);
      const reference = await new SignJWT({ org: orgId, ctx: context ?? {} })
        .setProtectedHeader({ alg: 'HS256', kid: keyring.current.kid, typ: 'carepost-link+jwt' })
        .setIssuer('carepost')
        .setAudience(`link:${purpose}`)
        .setSubject(patientId)
        .setJti(linkId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + (ttlSeconds ?? DEFAULT_TTL_SECONDS[purpose]))
        .sign(keyring.current.secret);
      expect(ours).toBe(reference);
    }
  });

  it('CX4: a link verifies for its own purpose, organisation and patient, with its context', async () => {
    const token = await mint('unsubscribe', { context: { topicId: 't1', channel: 'email' } });
    const check = await verifyLink(keyring, token, { purpose: 'unsubscribe', orgId, now });
    expect(check).toMatchObject({ ok: true, claims: { purpose: 'unsubscribe', orgId, patientId, context: { topicId: 't1', channel: 'email' } } });
  });

  for (const purpose of LINK_PURPOSES) {
    for (const other of LINK_PURPOSES.filter((p) => p !== purpose)) {
      it(`CX4: a ${purpose} link is refused as a ${other} link`, async () => {
        const token = await mint(purpose);
        expect(await verifyLink(keyring, token, { purpose: other, orgId, now })).toEqual({ ok: false, reason: 'wrong_purpose' });
      });
    }
  }

  it('CX4: a link for one organisation is refused by another', async () => {
    const token = await mint('preferences');
    expect(await verifyLink(keyring, token, { purpose: 'preferences', orgId: randomUUID(), now })).toEqual({ ok: false, reason: 'wrong_organisation' });
  });

  it('CX4: an expired link is refused; the expiry instant itself is too late', async () => {
    const token = await mint('pickup', { ttlSeconds: 3600 });
    expect((await verifyLink(keyring, token, { purpose: 'pickup', orgId, now: new Date(now.getTime() + 3599_000) })).ok).toBe(true);
    expect(await verifyLink(keyring, token, { purpose: 'pickup', orgId, now: new Date(now.getTime() + 3600_000) })).toEqual({ ok: false, reason: 'expired' });
  });

  it('RV2: unsubscribe links work for at least 60 days after the send', async () => {
    expect(DEFAULT_TTL_SECONDS.unsubscribe).toBeGreaterThanOrEqual(60 * 86_400);
    const token = await mint('unsubscribe');
    expect((await verifyLink(keyring, token, { purpose: 'unsubscribe', orgId, now: new Date(now.getTime() + 60 * 86_400_000) })).ok).toBe(true);
  });

  it('CX4: a tampered payload or signature is refused', async () => {
    const token = await mint('preferences');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = JSON.parse(Buffer.from(payload, 'base64url').toString());
    forged.sub = randomUUID();
    const swapped = `${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
    expect(await verifyLink(keyring, swapped, { purpose: 'preferences', orgId, now })).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyLink(keyring, `${header}.${payload}.${flip(signature)}`, { purpose: 'preferences', orgId, now })).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyLink(keyring, 'not-a-token', { purpose: 'preferences', orgId, now })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('CX4: an unsigned (alg none) token and a token from another key are refused', async () => {
    const unsigned =
      Buffer.from(JSON.stringify({ alg: 'none', typ: 'carepost-link+jwt', kid: keyring.current.kid })).toString('base64url') +
      '.' +
      Buffer.from(JSON.stringify({ iss: 'carepost', aud: 'link:preferences', sub: patientId, org: orgId, exp: 4102444800, jti: 'x' })).toString('base64url') +
      '.';
    expect((await verifyLink(keyring, unsigned, { purpose: 'preferences', orgId, now })).ok).toBe(false);
    const stranger = await mintLink(linkKeyring(randomBytes(32)), { purpose: 'preferences', orgId, patientId, now, linkId: 'y' });
    expect(await verifyLink(keyring, stranger, { purpose: 'preferences', orgId, now })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('keys rotate: links signed with the previous key still verify while it is accepted', async () => {
    const oldSecret = randomBytes(32);
    const before = linkKeyring(oldSecret);
    const token = await mintLink(before, { purpose: 'renewal', orgId, patientId, now, linkId: 'z' });
    const after = linkKeyring(randomBytes(32), [oldSecret]);
    expect(after.current.kid).not.toBe(before.current.kid);
    expect((await verifyLink(after, token, { purpose: 'renewal', orgId, now })).ok).toBe(true);
    expect((await verifyLink(linkKeyring(randomBytes(32)), token, { purpose: 'renewal', orgId, now })).ok).toBe(false);
  });
});
