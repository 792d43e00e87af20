import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { AdminPasskeySignIn } from '../components/admin-passkey';
import { Field, FormError } from '../components/field';
import { adminAttemptCookieName, adminSessionCookieName, secondFactorChoices, signInWithTotp } from '../services/all.server';
import { clearCookie, readCookie, redirectTo, requireOrganisation, serializeCookie } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Authentication code · Admin sign-in · Carepost' }];

// The second step after a right password: a code from the authenticator app, or one of the admin's passkeys.
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const cookies = context.identity.cookies;
  const choices = await secondFactorChoices(context.db, { orgId: org.id, attemptToken: readCookie(request, adminAttemptCookieName(cookies)), now: new Date() });
  if (!choices) throw redirectTo(`/admin/${org.slug}/sign-in?notice=expired`);
  return { slug: org.slug, totp: choices.totp, passkey: choices.passkey };
}

type Errors = { code?: string; form?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const org = await requireOrganisation(context.db, params.slug);
  const cookies = context.identity.cookies;
  const code = String((await request.formData()).get('code') ?? '').replace(/\s+/g, '');
  if (!/^\d{6}$/.test(code)) return data({ errors: { code: 'Enter the 6-digit code your authenticator app shows now.' } as Errors }, { status: 400 });
  const result = await signInWithTotp({
    db: context.db,
    ring: context.vault,
    orgId: org.id,
    attemptToken: readCookie(request, adminAttemptCookieName(cookies)),
    code,
    session: { previousToken: readCookie(request, adminSessionCookieName(cookies)), userAgent: request.headers.get('user-agent') },
    now,
  });
  switch (result.status) {
    case 'no_attempt':
      throw redirectTo(`/admin/${org.slug}/sign-in?notice=expired`, { 'Set-Cookie': clearCookie(adminAttemptCookieName(cookies), cookies) });
    case 'locked':
      throw redirectTo(`/admin/${org.slug}/sign-in?notice=paused`, { 'Set-Cookie': clearCookie(adminAttemptCookieName(cookies), cookies) });
    case 'wrong':
      // The attempt is over after the last try: start again (the page itself would send the browser there anyway).
      if (result.triesLeft === 0) throw redirectTo(`/admin/${org.slug}/sign-in?notice=expired`, { 'Set-Cookie': clearCookie(adminAttemptCookieName(cookies), cookies) });
      return data(
        {
          errors: {
            code:
              `That code is not right, or it was already used. Enter the newest code from your app. ${result.triesLeft} ${result.triesLeft === 1 ? 'try' : 'tries'} left.`,
          } as Errors,
        },
        { status: 400 },
      );
    case 'signed_in': {
      const headers = new Headers();
      headers.append('Set-Cookie', serializeCookie(adminSessionCookieName(cookies), result.token, cookies));
      headers.append('Set-Cookie', clearCookie(adminAttemptCookieName(cookies), cookies));
      // A full page load, so the admin frame shows the navigation for this admin's role.
      headers.set('X-Remix-Reload-Document', 'true');
      throw redirectTo(`/admin/${org.slug}`, headers);
    }
  }
}

export default function AdminSecondFactor() {
  const { slug, totp, passkey } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: Errors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{totp ? 'Enter your authentication code' : 'Use your passkey'}</h1>
      <FormError message={errors.form} />
      {totp ? (
        <Form method="post" noValidate>
          <Field
            id="code"
            label="Authentication code"
            hint="The 6-digit code your authenticator app shows for this account. It changes every 30 seconds."
            error={errors.code}
            type="text"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9 ]*"
            maxLength={7}
            required
          />
          <button className="button" type="submit" disabled={busy}>
            Sign in
          </button>
        </Form>
      ) : null}
      {passkey ? <AdminPasskeySignIn slug={slug} second label="Use a passkey" /> : null}
      <p>
        <Link to={`/admin/${slug}/sign-in`}>Start again</Link>
      </p>
    </main>
  );
}
