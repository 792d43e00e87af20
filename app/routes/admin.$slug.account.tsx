import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation, useRevalidator } from '@remix-run/react';
import { AddAdminPasskey } from '../components/admin-passkey';
import { Field, FormError } from '../components/field';
import { formatDateTime } from '../utils/consent-words';
import { changePassword, listAdminPasskeys, passwordProblem, PASSWORD_MIN_LENGTH, removeAdminPasskey, requireAdmin, signedInRecently } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Your account · Admin · Carepost' }];

// Every admin's own account: their passkeys and their password. Every role has 'overview', so every admin gets here.
const ROLE_NAMES = { owner: 'Owner', compliance: 'Compliance', marketer: 'Marketer', support: 'Support' } as const;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org, admin, session } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'overview', now });
  const passkeys = await listAdminPasskeys(context.db, org.id, admin.id);
  return {
    slug: org.slug,
    admin: { name: admin.name, email: admin.email, role: ROLE_NAMES[admin.role] },
        // Formatted on the server, so the page the browser hydrates says exactly the same.
    passkeys: passkeys.map((p) => ({
      id: p.id,
      name: p.name,
      added: `Added ${formatDateTime(p.createdAt.toISOString())}${p.lastUsedAt ? `, last used ${formatDateTime(p.lastUsedAt.toISOString())}` : ', not used yet'}`,
    })),
    canAddPasskey: signedInRecently(session.verifiedAt, now),
    passwordMinLength: PASSWORD_MIN_LENGTH,
  };
}

type Errors = { current?: string; password?: string; confirm?: string; form?: string };
type Answer = { errors?: Errors; notice?: string };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin, session } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'overview', now });
  const form = await request.formData();
  const intent = form.get('intent');

  if (intent === 'remove-passkey') {
    const removed = await removeAdminPasskey(context.db, { orgId: org.id, adminId: admin.id, passkeyId: String(form.get('passkeyId') ?? '') });
    if (removed === 'not_found') return data<Answer>({ errors: { form: 'That passkey is not on your account.' } }, { status: 404 });
    return data<Answer>({ notice: 'The passkey is removed.' });
  }

  if (intent === 'change-password') {
    const current = String(form.get('current') ?? '');
    const password = String(form.get('password') ?? '');
    const confirm = String(form.get('confirm') ?? '');
    const errors: Errors = {};
    if (!current) errors.current = 'Enter your current password.';
    const problem = passwordProblem(password, { email: admin.email, name: admin.name });
    if (problem) errors.password = problem;
    else if (confirm !== password) errors.confirm = 'The two passwords are not the same. Type the same password twice.';
    else if (password === current) errors.password = 'Choose a password different from your current one.';
    if (Object.keys(errors).length > 0) return data<Answer>({ errors }, { status: 400 });
    const result = await changePassword(context.db, { orgId: org.id, adminId: admin.id, sessionIdHash: session.idHash, current, next: password, now });
    if (result === 'wrong_current') return data<Answer>({ errors: { current: 'That is not your current password.' } }, { status: 400 });
    if (result === 'locked') return data<Answer>({ errors: { form: 'Too many wrong passwords. Please try again later.' } }, { status: 400 });
    return data<Answer>({ notice: 'Your password is changed. Your other sessions are signed out.' });
  }
  return data<Answer>({ errors: { form: 'Something was missing from the form. Please try again.' } }, { status: 400 });
}

export default function AdminAccount() {
  const { slug, admin, passkeys, canAddPasskey, passwordMinLength } = useLoaderData<typeof loader>();
  const answer = useActionData<typeof action>();
  const errors: Errors = answer?.errors ?? {};
  const busy = useNavigation().state === 'submitting';
  const revalidator = useRevalidator();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Your account</h1>
      <p>{`${admin.name}, ${admin.email}, ${admin.role}.`}</p>
      {answer?.notice ? (
        <p className="notice" role="status">
          {answer.notice}
        </p>
      ) : null}
      <FormError message={errors.form} />

      <h2>Passkeys</h2>
      <p>A passkey signs you in with this device’s screen lock (a PIN, fingerprint or face) instead of your password and code. It cannot be phished.</p>
      {passkeys.length === 0 ? <p>You have no passkeys yet.</p> : null}
      <ul className="session-list" aria-label="Your passkeys">
        {passkeys.map((p) => (
          <li key={p.id}>
            <strong>{p.name}</strong>
            <br />
            <span className="muted">{p.added}</span>
            <Form method="post" className="inline-form">
              <input type="hidden" name="intent" value="remove-passkey" />
              <input type="hidden" name="passkeyId" value={p.id} />
              <button className="button button--secondary" type="submit" aria-label={`Remove ${p.name}`}>
                Remove
              </button>
            </Form>
          </li>
        ))}
      </ul>
      {canAddPasskey ? (
        <AddAdminPasskey slug={slug} onAdded={() => revalidator.revalidate()} />
      ) : (
        <p className="notice">To add a passkey, sign out and sign in again first: adding one needs a sign-in from the last 15 minutes.</p>
      )}

      <h2>Change your password</h2>
      <Form method="post" noValidate>
        <input type="hidden" name="intent" value="change-password" />
        <input type="hidden" name="username" autoComplete="username" value={admin.email} />
        <Field id="current" label="Current password" error={errors.current} type="password" autoComplete="current-password" required />
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
        <button className="button" type="submit" disabled={busy}>
          Change password
        </button>
      </Form>
    </main>
  );
}
