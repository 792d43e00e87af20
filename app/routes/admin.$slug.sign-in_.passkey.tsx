import type { ActionFunctionArgs } from '@remix-run/node';
import {
  adminAttemptCookieName,
  adminSessionCookieName,
  adminWebauthnCookieName,
  finishAdminPasskeyAuthentication,
  passkeyOptionsWait,
  secondFactorChoices,
  signInWithVerifiedPasskey,
  startAdminPasskeyAuthentication,
} from '../services/all.server';
import { clearCookie, json, readCookie, requireOrganisation, serializeCookie } from '../services/all.server';

// Admin sign-in with a passkey, called by fetch(): {intent: 'options', step} then {intent: 'finish', step, response}.
// step 'only': the passkey alone (usernameless); step 'second': after the password, only that admin's passkeys.
export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const org = await requireOrganisation(context.db, params.slug);
  const { cookies, webauthn } = context.identity;
  const body = (await request.json().catch(() => null)) as { intent?: string; step?: string; response?: unknown } | null;
  const second = body?.step === 'second';
  const attemptToken = second ? readCookie(request, adminAttemptCookieName(cookies)) : undefined;

  if (body?.intent === 'options') {
    const limited = await passkeyOptionsWait(context.db, context.identity.codeSecret, context.clientIp, now);
    if (limited) return json({ error: 'Too many attempts. Please try again later.' }, { status: 429, headers: { 'Retry-After': String(limited) } });
    let adminId: string | undefined;
    if (second) {
      const choices = await secondFactorChoices(context.db, { orgId: org.id, attemptToken, now });
      if (!choices) return json({ error: 'That took too long. Please start again.', location: `/admin/${org.slug}/sign-in?notice=expired` }, { status: 400 });
      adminId = choices.adminId;
    }
    const started = await startAdminPasskeyAuthentication({ db: context.db, orgId: org.id, adminId, rpId: webauthn.rpId, now });
    return json({ options: started.options }, { headers: { 'Set-Cookie': serializeCookie(adminWebauthnCookieName(cookies), started.challengeId, cookies, 300) } });
  }

  if (body?.intent === 'finish') {
    const verified = await finishAdminPasskeyAuthentication({
      db: context.db,
      orgId: org.id,
      challengeId: readCookie(request, adminWebauthnCookieName(cookies)) ?? '',
      response: body.response as Parameters<typeof finishAdminPasskeyAuthentication>[0]['response'],
      expectedOrigins: webauthn.origins,
      rpId: webauthn.rpId,
      now,
    });
    const refused = (message: string) => json({ error: message }, { status: 400, headers: { 'Set-Cookie': clearCookie(adminWebauthnCookieName(cookies), cookies) } });
    if (verified.status === 'challenge_invalid') return refused('That took too long. Please try again.');
    if (verified.status !== 'verified') return refused('That passkey could not be used to sign in here. Try again, or sign in with your password.');
    const signedIn = await signInWithVerifiedPasskey({
      db: context.db,
      orgId: org.id,
      adminId: verified.adminId,
      credentialId: verified.credentialId,
      attemptToken,
      session: { previousToken: readCookie(request, adminSessionCookieName(cookies)), userAgent: request.headers.get('user-agent') },
      now,
    });
    if (signedIn.status !== 'signed_in') return refused('That passkey could not be used to sign in here. Try again, or sign in with your password.');
    const headers = new Headers();
    headers.append('Set-Cookie', serializeCookie(adminSessionCookieName(cookies), signedIn.token, cookies));
    headers.append('Set-Cookie', clearCookie(adminWebauthnCookieName(cookies), cookies));
    headers.append('Set-Cookie', clearCookie(adminAttemptCookieName(cookies), cookies));
    return json({ location: `/admin/${org.slug}` }, { headers });
  }
  return json({ error: 'Unknown request.' }, { status: 400 });
}
