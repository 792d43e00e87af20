import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import {
  acceptInvitation,
  adminEnrolCookieName,
  adminSessionCookieName,
  choosePassword,
  ENROL_COOKIE_SECONDS,
  enrolmentSecret,
  groupedSecret,
  openInvitation,
  otpauthUri,
  passwordProblem,
  PASSWORD_MIN_LENGTH,
} from '../services/all.server';
import { clearCookie, readCookie, redirectTo, requireOrganisation, serializeCookie } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Accept your invitation · Admin · Carepost' }, { name: 'robots', content: 'noindex' }];

// Accepting an invitation: choose a password, then add an authenticator app and confirm it with a code. Forged,
// expired, used and other organisations' links all get the same "not valid" page.
const ROLE_NAMES = { owner: 'Owner', compliance: 'Compliance', marketer: 'Marketer', support: 'Support' } as const;

function invalid(orgName: string) {
  return data({ ok: false as const, orgName }, { status: 404 });
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  const invitation = await openInvitation(context.db, { orgId: org.id, token: params.token ?? '', now: new Date() });
  if (!invitation) return invalid(org.name);
  const cookies = context.identity.cookies;
  const secret = await enrolmentSecret(context.db, context.vault, invitation, readCookie(request, adminEnrolCookieName(cookies)));
  const base = { ok: true as const, orgName: org.name, email: invitation.email, name: invitation.name, role: ROLE_NAMES[invitation.role], passwordMinLength: PASSWORD_MIN_LENGTH };
  if (!secret) return { ...base, step: 'password' as const, app: null };
  return {
    ...base,
    step: 'app' as const,
    app: { grouped: groupedSecret(secret), uri: otpauthUri({ issuer: `${org.name} (Carepost)`, email: invitation.email, secret }) },
  };
}

type Errors = { password?: string; confirm?: string; code?: string; form?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const org = await requireOrganisation(context.db, params.slug);
  const token = params.token ?? '';
  const cookies = context.identity.cookies;
  const form = await request.formData();
  const here = `/admin/${org.slug}/invite/${token}`;

  if (form.get('intent') === 'password') {
    const invitation = await openInvitation(context.db, { orgId: org.id, token, now });
    if (!invitation) return invalid(org.name);
    const password = String(form.get('password') ?? '');
    const confirm = String(form.get('confirm') ?? '');
    const errors: Errors = {};
    const problem = passwordProblem(password, { email: invitation.email, name: invitation.name });
    if (problem) errors.password = problem;
    else if (confirm !== password) errors.confirm = 'The two passwords are not the same. Type the same password twice.';
    if (errors.password || errors.confirm) return data({ errors }, { status: 400 });
    const chosen = await choosePassword(context.db, context.vault, { orgId: org.id, token, password, now });
    if (chosen.status !== 'ok') return invalid(org.name);
    throw redirectTo(here, { 'Set-Cookie': serializeCookie(adminEnrolCookieName(cookies), chosen.enrolToken, cookies, ENROL_COOKIE_SECONDS) });
  }

  if (form.get('intent') === 'confirm') {
    const code = String(form.get('code') ?? '').replace(/\s+/g, '');
    if (!/^\d{6}$/.test(code)) return data({ errors: { code: 'Enter the 6-digit code your authenticator app shows now.' } as Errors }, { status: 400 });
    const result = await acceptInvitation(context.db, context.vault, {
      orgId: org.id,
      token,
      enrolToken: readCookie(request, adminEnrolCookieName(cookies)),
      code,
      session: { previousToken: readCookie(request, adminSessionCookieName(cookies)), userAgent: request.headers.get('user-agent') },
      now,
    });
    switch (result.status) {
      case 'invalid':
        return invalid(org.name);
      case 'no_enrolment':
        throw redirectTo(here);
      case 'wrong_code':
        return data(
          { errors: { code: 'That code is not right. Check that the app shows this account, and enter the newest code.' } as Errors },
          { status: 400 },
        );
      case 'accepted': {
        const headers = new Headers();
        headers.append('Set-Cookie', serializeCookie(adminSessionCookieName(cookies), result.token, cookies));
        headers.append('Set-Cookie', clearCookie(adminEnrolCookieName(cookies), cookies));
        headers.set('X-Remix-Reload-Document', 'true');
        throw redirectTo(`/admin/${org.slug}`, headers);
      }
    }
  }
  return data({ errors: { form: 'Something was missing from the form. Please try again.' } as Errors }, { status: 400 });
}

export default function AcceptInvitation() {
  const loaded = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: Errors = actionData && 'errors' in actionData ? actionData.errors : {};
  const busy = useNavigation().state === 'submitting';
  if (!loaded.ok || (actionData && 'ok' in actionData && actionData.ok === false)) {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <h1>This invitation link does not work</h1>
        <p>It may have expired, been used already, or been replaced by a newer invitation. Ask an owner of your organisation to invite you again.</p>
      </main>
    );
  }
  if (loaded.step === 'password') {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <h1>Accept your invitation</h1>
        <p>{`You are invited to the ${loaded.orgName} admin console as ${loaded.role}, with the email address ${loaded.email}.`}</p>
        <p>First choose a password. Next you will add an authenticator app.</p>
        <FormError message={errors.form} />
        <Form method="post" noValidate>
          <input type="hidden" name="intent" value="password" />
          {/* Lets password managers save the new password under the right account. */}
          <input type="hidden" name="username" autoComplete="username" value={loaded.email} />
          <Field
            id="password"
            label="New password"
            hint={`At least ${loaded.passwordMinLength} characters. A few unrelated words make a strong password that is easy to remember.`}
            error={errors.password}
            type="password"
            autoComplete="new-password"
            required
          />
          <Field id="confirm" label="New password again" error={errors.confirm} type="password" autoComplete="new-password" required />
          <button className="button" type="submit" disabled={busy}>
            Continue
          </button>
        </Form>
      </main>
    );
  }
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Add an authenticator app</h1>
      <p>Every sign-in asks for a code from an authenticator app on your phone, as well as your password.</p>
      <ol>
        <li>Open your authenticator app and add an account. Choose to enter a setup key.</li>
        <li>
          Enter this key: <code className="fingerprint">{loaded.app!.grouped}</code>
          <br />
          <span className="muted">Type of key: time based. If your app asks for a link instead, copy this one:</span>
          <br />
          <code className="fingerprint">{loaded.app!.uri}</code>
        </li>
        <li>Enter the 6-digit code the app now shows.</li>
      </ol>
      <FormError message={errors.form} />
      <Form method="post" noValidate>
        <input type="hidden" name="intent" value="confirm" />
        <Field
          id="code"
          label="Authentication code"
          hint="The code changes every 30 seconds; enter the one shown now."
          error={errors.code}
          type="text"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9 ]*"
          maxLength={7}
          required
        />
        <button className="button" type="submit" disabled={busy}>
          Finish and sign in
        </button>
      </Form>
    </main>
  );
}
