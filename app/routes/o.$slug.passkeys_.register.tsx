import type { ActionFunctionArgs } from '@remix-run/node';
import {
  finishPasskeyRegistration,
  json,
  readCookie,
  requireRecentVerification,
  serializeCookie,
  startPasskeyRegistration,
  webauthnCookieName,
} from '../services/all.server';
import { pageT } from '../services/all.server';

// Adding a passkey, called by fetch() from /passkeys/new. It needs a recent verification (SE5, PK7).
export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { cookies, webauthn } = context.identity;
  // The answers are read by the patient (passkey-client shows `error`): in the page's language.
  const { t } = pageT(request, context);
  let signedIn;
  try {
    signedIn = await requireRecentVerification({
      request,
      db: context.db,
      cookies,
      slug: params.slug,
      now,
      returnTo: `/o/${params.slug}/passkeys/new`,
    });
  } catch (error) {
    if (error instanceof Response && error.headers.get('Location')) {
      return json({ error: t('passkey.error.confirmFirst'), location: error.headers.get('Location') }, { status: 401 });
    }
    throw error;
  }
  const { org, patient } = signedIn;
  const body = (await request.json().catch(() => null)) as { intent?: string; name?: string; response?: unknown } | null;

  if (body?.intent === 'options') {
    const started = await startPasskeyRegistration({ db: context.db, orgId: org.id, patient, rp: { id: webauthn.rpId, name: org.name }, now });
    return json({ options: started.options }, { headers: { 'Set-Cookie': serializeCookie(webauthnCookieName(cookies), started.challengeId, cookies, 300) } });
  }
  if (body?.intent === 'finish') {
    const result = await finishPasskeyRegistration({
      db: context.db,
      orgId: org.id,
      patientId: patient.id,
      challengeId: readCookie(request, webauthnCookieName(cookies)) ?? '',
      response: body.response as Parameters<typeof finishPasskeyRegistration>[0]['response'],
      expectedOrigins: webauthn.origins,
      rpId: webauthn.rpId,
      name: String(body.name ?? ''),
      now,
    });
    switch (result.status) {
      case 'added':
        return json({ location: `/o/${org.slug}/passkeys` });
      case 'name_invalid':
        return json({ error: t('passkeys.nameInvalid'), field: 'name' }, { status: 400 });
      case 'already_registered':
        return json({ error: t('passkey.error.alreadyAdded') }, { status: 400 });
      case 'challenge_invalid':
        return json({ error: t('passkey.error.tooSlow') }, { status: 400 });
      default:
        return json({ error: t('passkey.error.notAdded') }, { status: 400 });
    }
  }
  return json({ error: t('passkey.error.unknown') }, { status: 400 });
}
