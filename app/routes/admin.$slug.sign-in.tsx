import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { AdminPasskeySignIn } from '../components/admin-passkey';
import { Field, FormError } from '../components/field';
import { adminAttemptCookieName, optionalAdmin, SIGN_IN_ATTEMPT_TTL_MS, signInWithPassword } from '../services/all.server';
import { redirectTo, requireOrganisation, serializeCookie } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Admin sign-in · Carepost' }];

const NOTICES: Record<string, string> = {
  'signed-out': 'You are signed out.',
  timeout: 'You were signed out because nothing happened for 15 minutes.',
  expired: 'That took too long. Please enter your email address and password again.',
  paused: 'Sign-in is paused after too many failures. Please try again later, or use a passkey.',
  reset: 'Your password is changed. Sign in with it and your authenticator app or passkey.',
};

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  if (await optionalAdmin({ request, db: context.db, cookies: context.identity.cookies, org, now: new Date() })) throw redirectTo(`/admin/${org.slug}`);
  const notice = new URL(request.url).searchParams.get('notice') ?? '';
  return { slug: org.slug, orgName: org.name, notice: NOTICES[notice] ?? null };
}

type Errors = { email?: string; password?: string; form?: string };

// One answer for an unknown email, a wrong password, a disabled admin and a locked one (no account enumeration).
const REFUSED =
  'That email address and password do not match an admin account here, or sign-in is paused after repeated failures. Check them and try again, or reset your password.';

export async function action({ request, params, context }: ActionFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const form = await request.formData();
  const email = String(form.get('email') ?? '').trim();
  const password = String(form.get('password') ?? '');
  const errors: Errors = {};
  if (!email) errors.email = 'Enter your email address.';
  else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) errors.email = 'Enter an email address like name@example.com.';
  if (!password) errors.password = 'Enter your password.';
  if (errors.email || errors.password) return data({ errors, email }, { status: 400 });

  const result = await signInWithPassword({ db: context.db, codeSecret: context.identity.codeSecret, orgId: org.id, email, password, ipAddress: context.clientIp, now: new Date() });
  if (result.status === 'rate_limited') {
    const minutes = Math.ceil(result.retryAfterSeconds / 60);
    return data(
      { errors: { form: `Too many sign-in attempts from your network. Please try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` } as Errors, email },
      { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
    );
  }
  if (result.status === 'refused') return data({ errors: { form: REFUSED } as Errors, email }, { status: 400 });
  const cookies = context.identity.cookies;
  throw redirectTo(`/admin/${org.slug}/sign-in/verify`, {
    'Set-Cookie': serializeCookie(adminAttemptCookieName(cookies), result.attemptToken, cookies, SIGN_IN_ATTEMPT_TTL_MS / 1000),
  });
}

export default function AdminSignIn() {
  const { slug, orgName, notice } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: Errors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Sign in to the admin console</h1>
      <p>{`For the staff of ${orgName}. You will also need your authenticator app or a passkey.`}</p>
      {notice ? <p className="notice">{notice}</p> : null}
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <Field id="email" label="Email address" error={errors.email} type="email" autoComplete="username" autoCapitalize="none" spellCheck={false} defaultValue={actionData?.email} required />
        <Field id="password" label="Password" error={errors.password} type="password" autoComplete="current-password" required />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            Continue
          </button>
          <Link to={`/admin/${slug}/reset`}>Forgot your password?</Link>
        </div>
      </Form>
      <AdminPasskeySignIn slug={slug} second={false} label="Sign in with a passkey" />
    </main>
  );
}
