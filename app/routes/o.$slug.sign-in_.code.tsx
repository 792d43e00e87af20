import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import {
  attemptCookieName,
  clearCookie,
  createPatientSession,
  readCookie,
  redirectTo,
  requireOrganisation,
  serializeCookie,
  sessionCookieName,
  verifyCode,
} from '../services/identity.server';

export const meta: MetaFunction = () => [{ title: 'Enter your code · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  return { slug: org.slug, orgName: org.name, hasAttempt: readCookie(request, attemptCookieName(context.identity.cookies)) !== undefined };
}

type ActionErrors = { code?: string; form?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const cookies = context.identity.cookies;
  const form = await request.formData();
  const code = String(form.get('code') ?? '').replace(/[\s-]/g, '');
  if (!/^\d{6}$/.test(code)) {
    return data<{ errors: ActionErrors }>({ errors: { code: 'Enter the 6-digit code from your email or text message.' } }, { status: 400 });
  }
  const now = new Date();
  const result = await verifyCode({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: org.id,
    attemptToken: readCookie(request, attemptCookieName(cookies)),
    code,
    now,
  });
  switch (result.status) {
    case 'verified': {
      const session = await context.db.transaction((tx) =>
        createPatientSession(tx, {
          orgId: org.id,
          patientId: result.patientId,
          method: result.method,
          previousToken: readCookie(request, sessionCookieName(cookies)),
          userAgent: request.headers.get('user-agent'),
          now,
        }),
      );
      const headers = new Headers();
      headers.append('Set-Cookie', serializeCookie(sessionCookieName(cookies), session.token, cookies));
      headers.append('Set-Cookie', clearCookie(attemptCookieName(cookies), cookies));
      throw redirectTo(`/o/${org.slug}/account`, headers);
    }
    case 'wrong':
      return data<{ errors: ActionErrors }>(
        {
          errors: {
            code:
              result.triesLeft > 0
                ? `That code is not right. You can try ${result.triesLeft} more time${result.triesLeft === 1 ? '' : 's'}.`
                : 'That code is not right, and it cannot be tried again. Ask for a new code.',
          },
        },
        { status: 400 },
      );
    case 'too_many_tries':
      return data<{ errors: ActionErrors }>({ errors: { form: 'That code has been tried too many times. Ask for a new code.' } }, { status: 400 });
    case 'expired':
      return data<{ errors: ActionErrors }>({ errors: { form: 'That code has expired: codes work for 10 minutes. Ask for a new code.' } }, { status: 400 });
    case 'used':
      return data<{ errors: ActionErrors }>({ errors: { form: 'That code has already been used. Ask for a new code.' } }, { status: 400 });
    case 'no_attempt':
      return data<{ errors: ActionErrors }>(
        { errors: { form: 'This browser has no code waiting: it was asked for in another browser, or a newer code replaced it. Ask for a new code here.' } },
        { status: 400 },
      );
    case 'wait':
      return data<{ errors: ActionErrors }>(
        { errors: { form: `Too many wrong codes. Wait ${result.retryAfterSeconds} second${result.retryAfterSeconds === 1 ? '' : 's'}, then try again.` } },
        { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } },
      );
    case 'locked':
      return data<{ errors: ActionErrors }>(
        { errors: { form: `Signing in with a code is locked for this contact after too many wrong codes. Try again tomorrow, or contact ${org.name}.` } },
        { status: 429 },
      );
  }
}

export default function EnterCode() {
  const { slug, hasAttempt } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: ActionErrors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Enter your code</h1>
      {hasAttempt ? (
        <p className="notice">
          If the email address or mobile number you entered is on record, we have sent a 6-digit code to it. It works for 10
          minutes, in this browser only.
        </p>
      ) : (
        <p className="notice">
          This browser has not asked for a code yet. <Link to={`/o/${slug}/sign-in`}>Ask for a code</Link>.
        </p>
      )}
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <Field
          id="code"
          label="6-digit code"
          error={errors.code}
          className="code-input"
          type="text"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9]*"
          maxLength={12}
          required
        />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            Sign in
          </button>
          <Link to={`/o/${slug}/sign-in`}>Ask for a new code</Link>
        </div>
      </Form>
    </main>
  );
}
