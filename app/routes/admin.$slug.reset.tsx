import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import { adminResetCookieName, deliverResetCode, requestPasswordReset } from '../services/all.server';
import { CODE_TTL_MS, redirectTo, requireOrganisation, serializeCookie } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Reset your password · Admin · Carepost' }];

export async function loader({ params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  return { slug: org.slug };
}

type Errors = { email?: string; form?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const email = String((await request.formData()).get('email') ?? '');
  const result = await requestPasswordReset({ db: context.db, codeSecret: context.identity.codeSecret, orgId: org.id, email, ipAddress: context.clientIp, now: new Date() });
  if (result.status === 'invalid_email') return data({ errors: { email: 'Enter your email address, like name@example.com.' } as Errors }, { status: 400 });
  if (result.status === 'rate_limited') {
    const minutes = Math.ceil(result.retryAfterSeconds / 60);
    return data(
      { errors: { form: `Too many codes have been asked for. Please try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` } as Errors },
      { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
    );
  }
  // EN1: the same answer whether or not the address belongs to an admin; the code is sent after answering.
  const delivery = result.delivery;
  if (delivery) setImmediate(() => void deliverResetCode(context.transports, org.name, delivery));
  const cookies = context.identity.cookies;
  throw redirectTo(`/admin/${org.slug}/reset/code`, { 'Set-Cookie': serializeCookie(adminResetCookieName(cookies), result.attemptToken, cookies, CODE_TTL_MS / 1000) });
}

export default function ResetPassword() {
  const { slug } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: Errors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Reset your password</h1>
      <p>We will email a code to your admin email address. You will still need your authenticator app or passkey to sign in.</p>
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <Field id="email" label="Email address" error={errors.email} type="email" autoComplete="username" autoCapitalize="none" spellCheck={false} required />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            Email me a code
          </button>
          <Link to={`/admin/${slug}/sign-in`}>Back to sign-in</Link>
        </div>
      </Form>
    </main>
  );
}
