import type { ActionFunctionArgs } from '@remix-run/node';
import { adminWebauthnCookieName, finishAdminPasskeyRegistration, requireAdmin, signedInRecently, startAdminPasskeyRegistration } from '../services/all.server';
import { json, readCookie, serializeCookie } from '../services/all.server';

// Adding a passkey to the signed-in admin, called by fetch() from the account page. A passkey is a new way in, so it
// needs a sign-in within the last 15 minutes.
export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { cookies, webauthn } = context.identity;
  const { org, admin, session } = await requireAdmin({ request, db: context.db, cookies, slug: params.slug, capability: 'overview', now });
  if (!signedInRecently(session.verifiedAt, now)) {
    return json({ error: 'For your security, sign out and sign in again before adding a passkey.' }, { status: 401 });
  }
  const body = (await request.json().catch(() => null)) as { intent?: string; name?: string; response?: unknown } | null;
  if (body?.intent === 'options') {
    const started = await startAdminPasskeyRegistration({ db: context.db, orgId: org.id, admin, rp: { id: webauthn.rpId, name: `${org.name} admin` }, now });
    return json({ options: started.options }, { headers: { 'Set-Cookie': serializeCookie(adminWebauthnCookieName(cookies), started.challengeId, cookies, 300) } });
  }
  if (body?.intent === 'finish') {
    const result = await finishAdminPasskeyRegistration({
      db: context.db,
      orgId: org.id,
      adminId: admin.id,
      challengeId: readCookie(request, adminWebauthnCookieName(cookies)) ?? '',
      response: body.response as Parameters<typeof finishAdminPasskeyRegistration>[0]['response'],
      expectedOrigins: webauthn.origins,
      rpId: webauthn.rpId,
      name: String(body.name ?? ''),
      now,
    });
    switch (result.status) {
      case 'added':
        return json({ location: `/admin/${org.slug}/account` });
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
