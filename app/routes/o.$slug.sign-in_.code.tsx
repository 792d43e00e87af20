import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import { codeFailure } from '../utils/code-errors';
import { attemptCookieName, readCookie, requireOrganisation, signedInRedirect, verifyCode } from '../services/identity.server';

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
    case 'verified':
      throw await signedInRedirect({
        db: context.db,
        request,
        cookies,
        orgId: org.id,
        patientId: result.patientId,
        method: result.method,
        location: `/o/${org.slug}/account`,
        followReturnCookie: { slug: org.slug },
        now,
      });
    default: {
      const failure = codeFailure(result, org.name);
      return data<{ errors: ActionErrors }>(
        { errors: { code: failure.field, form: failure.form } },
        { status: failure.status, headers: failure.retryAfter ? { 'Retry-After': String(failure.retryAfter) } : undefined },
      );
    }
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
