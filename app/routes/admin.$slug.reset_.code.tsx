import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import { adminResetCookieName, hashPassword, passwordProblem, PASSWORD_MIN_LENGTH, resetPassword } from '../services/all.server';
import { clearCookie, readCookie, redirectTo, requireOrganisation } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Choose a new password · Admin · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  if (!readCookie(request, adminResetCookieName(context.identity.cookies))) throw redirectTo(`/admin/${org.slug}/reset`);
  return { slug: org.slug, passwordMinLength: PASSWORD_MIN_LENGTH };
}

type Errors = { code?: string; password?: string; confirm?: string; form?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const cookies = context.identity.cookies;
  const form = await request.formData();
  const code = String(form.get('code') ?? '').replace(/\s+/g, '');
  const password = String(form.get('password') ?? '');
  const confirm = String(form.get('confirm') ?? '');
  const errors: Errors = {};
  if (!/^\d{6}$/.test(code)) errors.code = 'Enter the 6-digit code from the email.';
  const problem = passwordProblem(password);
  if (problem) errors.password = problem;
  else if (confirm !== password) errors.confirm = 'The two passwords are not the same. Type the same password twice.';
  if (errors.code || errors.password || errors.confirm) return data({ errors }, { status: 400 });

  const result = await resetPassword({
    db: context.db,
    codeSecret: context.identity.codeSecret,
    orgId: org.id,
    attemptToken: readCookie(request, adminResetCookieName(cookies)),
    code,
    newPasswordHash: await hashPassword(password),
    now: new Date(),
  });
  const again = 'Please ask for a new code.';
  switch (result.status) {
    case 'reset':
      throw redirectTo(`/admin/${org.slug}/sign-in?notice=reset`, { 'Set-Cookie': clearCookie(adminResetCookieName(cookies), cookies) });
    case 'wrong':
      return data(
        { errors: { code: result.triesLeft > 0 ? `That code is not right. ${result.triesLeft} ${result.triesLeft === 1 ? 'try' : 'tries'} left.` : `That code is not right. ${again}` } as Errors },
        { status: 400 },
      );
    case 'expired':
      return data({ errors: { code: `That code has expired. ${again}` } as Errors }, { status: 400 });
    case 'used':
      return data({ errors: { code: `That code was already used. ${again}` } as Errors }, { status: 400 });
    case 'too_many_tries':
      return data({ errors: { code: `Too many wrong codes. ${again}` } as Errors }, { status: 400 });
    case 'no_attempt':
      return data({ errors: { form: `No code was asked for in this browser, or it was replaced. ${again}` } as Errors }, { status: 400 });
  }
}

export default function ResetCode() {
  const { slug, passwordMinLength } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: Errors = actionData?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Choose a new password</h1>
      <p>If the address you entered belongs to an admin here, we have emailed it a code. It works for 10 minutes.</p>
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <Field id="code" label="Code from the email" error={errors.code} type="text" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 ]*" maxLength={7} required />
        <Field
          id="password"
          label="New password"
          hint={`At least ${passwordMinLength} characters. A few unrelated words make a strong password that is easy to remember.`}
          error={errors.password}
          type="password"
          autoComplete="new-password"
          required
        />
        <Field id="confirm" label="New password again" error={errors.confirm} type="password" autoComplete="new-password" required />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy}>
            Set new password
          </button>
          <Link to={`/admin/${slug}/reset`}>Ask for a new code</Link>
        </div>
      </Form>
    </main>
  );
}
