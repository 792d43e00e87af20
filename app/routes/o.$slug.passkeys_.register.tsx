import type { ActionFunctionArgs } from '@remix-run/node';
import {
  finishPasskeyRegistration,
  json,
  readCookie,
  requireRecentVerification,
  serializeCookie,
  startPasskeyRegistration,
  webauthnCookieName,
} from '../services/identity.server';

// Adding a passkey, called by fetch() from /passkeys/new. It needs a recent verification (SE5, PK7).
export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { cookies, webauthn } = context.identity;
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
      return json({ error: 'Please confirm it is you first.', location: error.headers.get('Location') }, { status: 401 });
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
        return json({ error: 'Give the passkey a name of 1 to 60 characters.', field: 'name' }, { status: 400 });
      case 'already_registered':
        return json({ error: 'This passkey is already added.' }, { status: 400 });
      case 'challenge_invalid':
        return json({ error: 'That took too long. Please try again.' }, { status: 400 });
      default:
        return json({ error: 'This passkey could not be added. It must check it is you (a PIN, fingerprint or face).' }, { status: 400 });
    }
  }
  return json({ error: 'Unknown request.' }, { status: 400 });
}
