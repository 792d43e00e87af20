// Signed, purpose-bound links (CX4): each token names one purpose, one organisation, one patient and an expiry, and
// carries the id of the key that signed it so keys can rotate. HS256 JWTs: minted with node:crypto, verified with jose.
import { createHash, createHmac } from 'node:crypto';
import { errors, jwtVerify } from 'jose';

export const LINK_PURPOSES = ['preferences', 'unsubscribe', 'pickup', 'renewal'] as const;
export type LinkPurpose = (typeof LINK_PURPOSES)[number];

const DAY_S = 86_400;
/** RV2 wants unsubscribe links to work at least 60 days after the send; EM4's pickup default is 30 days. */
export const DEFAULT_TTL_SECONDS: Record<LinkPurpose, number> = {
  preferences: 90 * DAY_S,
  unsubscribe: 90 * DAY_S,
  pickup: 30 * DAY_S,
  renewal: 60 * DAY_S,
};

const ISSUER = 'carepost';
const TYPE = 'carepost-link+jwt';

export type LinkKey = { kid: string; secret: Uint8Array };
/** The first key signs; all of them verify, so links signed before a rotation keep working until they expire. */
export type LinkKeyring = { current: LinkKey; accepted: LinkKey[] };

/** A key's id is derived from the key, so no extra setting is needed; a new secret is a new id. */
export function linkKey(secret: Buffer): LinkKey {
  return { kid: createHash('sha256').update('carepost-link-key').update(secret).digest('base64url').slice(0, 12), secret: new Uint8Array(secret) };
}

export function linkKeyring(current: Buffer, previous: Buffer[] = []): LinkKeyring {
  const key = linkKey(current);
  return { current: key, accepted: [key, ...previous.map(linkKey)] };
}

/** Purpose-specific context, e.g. the topic and channel an unsubscribe link stops, or the delivery a pickup opens. */
export type LinkContext = Record<string, string>;

export type LinkClaims = { purpose: LinkPurpose; orgId: string; patientId: string; expiresAt: Date; context: LinkContext; linkId: string };

/** When a link minted at `now` stops working (whole seconds, as in the token). */
export function linkExpiresAt(purpose: LinkPurpose, now: Date, ttlSeconds?: number): Date {
  return new Date((Math.floor(now.getTime() / 1000) + (ttlSeconds ?? DEFAULT_TTL_SECONDS[purpose])) * 1000);
}

/**
 * Mints a link: a compact HS256 JWS, byte for byte what jose's SignJWT makes from the same claims (a unit test holds
 * them equal), signed with node:crypto's HMAC in the caller's turn. The engine mints two links for every marketing
 * mail, and jose's signing through WebCrypto (a key import and a thread-pool job per token) was an eighth of the send
 * engine's CPU (ADR 018). Verification stays with jose.
 */
export async function mintLink(
  keyring: LinkKeyring,
  options: { purpose: LinkPurpose; orgId: string; patientId: string; context?: LinkContext; ttlSeconds?: number; now: Date; linkId: string },
): Promise<string> {
  const issuedAt = Math.floor(options.now.getTime() / 1000);
  const expiresAt = linkExpiresAt(options.purpose, options.now, options.ttlSeconds).getTime() / 1000;
  // Claim order as SignJWT writes them: the payload given, then iss, aud, sub, jti, iat, exp in the order set.
  const payload = {
    org: options.orgId,
    ctx: options.context ?? {},
    iss: ISSUER,
    aud: `link:${options.purpose}`,
    sub: options.patientId,
    jti: options.linkId,
    iat: issuedAt,
    exp: expiresAt,
  };
  const header = { alg: 'HS256', kid: keyring.current.kid, typ: TYPE };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', keyring.current.secret).update(input).digest('base64url')}`;
}

export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; reason: 'expired' | 'wrong_purpose' | 'wrong_organisation' | 'invalid' };

/**
 * Accepts a token only for the purpose and organisation the caller expects. Every failure is a reason code; none
 * of them says more to the visitor than "this link does not work".
 */
export async function verifyLink(keyring: LinkKeyring, token: string, expected: { purpose: LinkPurpose; orgId: string; now: Date }): Promise<LinkCheck> {
  if (token.length > 4096 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'invalid' };
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = keyring.accepted.find((k) => k.kid === header.kid);
        if (!key || header.typ !== TYPE) throw new errors.JWSSignatureVerificationFailed();
        return key.secret;
      },
      { algorithms: ['HS256'], issuer: ISSUER, audience: `link:${expected.purpose}`, currentDate: expected.now, requiredClaims: ['sub', 'exp', 'jti'] },
    );
    if (payload.org !== expected.orgId) return { ok: false, reason: 'wrong_organisation' };
    const context = (payload.ctx && typeof payload.ctx === 'object' ? payload.ctx : {}) as LinkContext;
    return {
      ok: true,
      claims: { purpose: expected.purpose, orgId: expected.orgId, patientId: payload.sub!, expiresAt: new Date(payload.exp! * 1000), context, linkId: payload.jti! },
    };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'aud') return { ok: false, reason: 'wrong_purpose' };
    return { ok: false, reason: 'invalid' };
  }
}
