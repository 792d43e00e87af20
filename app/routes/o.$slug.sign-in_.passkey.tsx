import type { ActionFunctionArgs } from '@remix-run/node';
import {
  finishPasskeyAuthentication,
  json,
  normaliseContact,
  passkeySignInOptions,
  readCookie,
  redirectAsJson,
  requireOrganisation,
  serializeCookie,
  signedInRedirect,
  webauthnCookieName,
} from '../services/all.server';
import { pageT } from '../services/all.server';

// Sign-in with a passkey, called by fetch() from the sign-in page: {intent: 'options', contact?} then
// {intent: 'finish', response}. The challenge stays on the server; the browser holds its id in a 5-minute cookie.
export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const org = await requireOrganisation(context.db, params.slug);
  const { cookies, webauthn, codeSecret } = context.identity;
  // The answers are read by the patient (passkey-client shows `error`): in the page's language.
  const { t } = pageT(request, context);
  const body = (await request.json().catch(() => null)) as { intent?: string; contact?: string; response?: unknown } | null;

  if (body?.intent === 'options') {
    const contact = body.contact ? normaliseContact(body.contact) : undefined;
    const started = await passkeySignInOptions({ db: context.db, codeSecret, orgId: org.id, contact, ipAddress: context.clientIp, rpId: webauthn.rpId, now });
    if (started.status === 'rate_limited') {
      return json({ error: t('passkey.error.tooMany') }, { status: 429, headers: { 'Retry-After': String(started.retryAfterSeconds) } });
    }
    return json(
      { options: started.options },
      { headers: { 'Set-Cookie': serializeCookie(webauthnCookieName(cookies), started.challengeId, cookies, 300) } },
    );
  }

  if (body?.intent === 'finish') {
    const result = await finishPasskeyAuthentication({
      db: context.db,
      orgId: org.id,
      challengeId: readCookie(request, webauthnCookieName(cookies)) ?? '',
      response: body.response as Parameters<typeof finishPasskeyAuthentication>[0]['response'],
      expectedOrigins: webauthn.origins,
      rpId: webauthn.rpId,
      now,
    });
    if (result.status !== 'verified') {
      const message = t(result.status === 'challenge_invalid' ? 'passkey.error.tooSlow' : 'passkey.error.notUsable');
      return json({ error: message, reason: result.status }, { status: 400 });
    }
    return redirectAsJson(
      await signedInRedirect({ db: context.db, request, cookies, orgId: org.id, patientId: result.patientId, method: 'passkey', location: `/o/${org.slug}/account`,
        followReturnCookie: { slug: org.slug }, now }),
    );
  }
  return json({ error: t('passkey.error.unknown') }, { status: 400 });
}
