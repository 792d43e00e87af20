// OAuth 2.0 client credentials (RFC 6749 section 4.4) for the API: an API key's two halves are the client id and
// secret; the token endpoint answers with a 15-minute signed access token carrying the organisation, the key and the
// scopes (all of the key's, or fewer when asked). Every request with a token still looks the key up, so revoking a
// key ends its tokens at once.
import { createHmac, randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { API_SCOPES, type ApiScope } from '../../db/schema/index';
import type { DbOrTx } from '../../db/client';
import { authenticateApiKey, principalForKeyId, type ApiPrincipal } from './keys';

export const ACCESS_TOKEN_TTL_S = 15 * 60;
const AUDIENCE = 'carepost-api';
const ISSUER = 'carepost';

const tokenKey = (hmacSecret: Buffer) => createHmac('sha256', hmacSecret).update('carepost-oauth-access-token').digest();

export const tokenResponseSchema = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string(),
});

export const oauthErrorSchema = z.object({
  error: z.enum(['invalid_request', 'invalid_client', 'unsupported_grant_type', 'invalid_scope']),
  error_description: z.string(),
});

type TokenAnswer = { status: number; body: z.infer<typeof tokenResponseSchema> | z.infer<typeof oauthErrorSchema>; headers?: Record<string, string> };

/** The token endpoint's logic: form fields (and an optional HTTP Basic header) in, a token or an RFC 6749 error out. */
export async function issueToken(db: DbOrTx, hmacSecret: Buffer, form: Record<string, string | undefined>, basic: string | undefined, now: Date): Promise<TokenAnswer> {
  const fail = (status: number, error: z.infer<typeof oauthErrorSchema>['error'], description: string): TokenAnswer => ({
    status,
    body: { error, error_description: description },
    headers: status === 401 ? { 'WWW-Authenticate': 'Basic realm="carepost"' } : undefined,
  });
  if (form.grant_type !== 'client_credentials') return fail(400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported.');
  let clientId = form.client_id;
  let clientSecret = form.client_secret;
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      clientId = decodeURIComponent(decoded.slice(0, colon));
      clientSecret = decodeURIComponent(decoded.slice(colon + 1));
    }
  }
  if (!clientId || !clientSecret) return fail(400, 'invalid_request', 'Send client_id and client_secret, in the body or as HTTP Basic.');
  const check = await authenticateApiKey(db, hmacSecret, `${clientId}_${clientSecret}`, now);
  if (!check.ok) return fail(401, 'invalid_client', 'The client credentials are not valid.');
  const asked = (form.scope ?? '').split(' ').filter(Boolean);
  if (asked.some((s) => !(API_SCOPES as readonly string[]).includes(s) || !check.principal.scopes.includes(s as ApiScope))) {
    return fail(400, 'invalid_scope', `Scopes must be among this client's: ${check.principal.scopes.join(' ')}.`);
  }
  const scopes = asked.length ? (asked as ApiScope[]) : check.principal.scopes;
  const iat = Math.floor(now.getTime() / 1000);
  const token = await new SignJWT({ org: check.principal.orgId, scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(check.principal.keyId)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_S)
    .sign(tokenKey(hmacSecret));
  return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_S, scope: scopes.join(' ') }, headers: { 'Cache-Control': 'no-store' } };
}

export type TokenCheck = { ok: true; principal: ApiPrincipal } | { ok: false; reason: string };

/** An access token: signature, audience, expiry, and the key behind it still valid; scopes are the token's. */
export async function authenticateAccessToken(db: DbOrTx, hmacSecret: Buffer, token: string, now: Date): Promise<TokenCheck> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, tokenKey(hmacSecret), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], typ: 'at+jwt', currentDate: now }));
  } catch (error) {
    return { ok: false, reason: error instanceof errors.JWTExpired ? 'token_expired' : 'token_invalid' };
  }
  const key = await principalForKeyId(db, String(payload.sub ?? ''), now);
  if (!key.ok || key.principal.orgId !== payload.org) return { ok: false, reason: key.ok ? 'token_invalid' : key.reason };
  const scopes = String(payload.scope ?? '')
    .split(' ')
    .filter((s): s is ApiScope => key.principal.scopes.includes(s as ApiScope));
  return { ok: true, principal: { ...key.principal, scopes } };
}
