import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import {
  ADMIN_ROLES,
  changeRole,
  deliverFactorResetNotice,
  deliverInvitation,
  disableAdmin,
  enableAdmin,
  inviteAdmin,
  listTeam,
  normaliseAdminEmail,
  reinviteAdmin,
  requireAdmin,
  resetAdminFactors,
  type AdminRole,
} from '../services/all.server';
import { redirectTo } from '../services/all.server';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'Team · Admin · Carepost' }];

// Owners only (capability 'team'): who has access, invitations, roles, disabling, and resetting a colleague's lost
// sign-in factors after the owner proves themselves again (ADR 016). The organisation always keeps an active owner;
// nobody disables themselves or resets their own factors.
const ROLE_NAMES: Record<AdminRole, string> = { owner: 'Owner', compliance: 'Compliance', marketer: 'Marketer', support: 'Support' };
const ROLE_HINTS: Record<AdminRole, string> = {
  owner: 'everything, including the team and settings',
  compliance: 'audit log, evidence and authorisation texts',
  marketer: 'topics, campaigns and totals only, never a patient',
  support: 'unlock a patient’s sign-in, resend a notice',
};
const STATUS_WORDS = { active: 'Active', invited: 'Invited, not accepted yet', disabled: 'Disabled' } as const;

function isRole(value: unknown): value is AdminRole {
  return typeof value === 'string' && (ADMIN_ROLES as readonly string[]).includes(value);
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'team', now: new Date() });
  const team = await listTeam(context.db, org.id);
  return { slug: org.slug, selfId: admin.id, roles: [...ADMIN_ROLES], team: team.map((m) => ({ ...m, invitationExpiresAt: m.invitationExpiresAt?.toISOString() ?? null })) };
}

type InviteErrors = { name?: string; email?: string; role?: string };
type Answer = { errors?: InviteErrors; form?: string; notice?: string; values?: { name: string; email: string; role: string }; reset?: { adminId: string; stepUp: string } };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'team', now });
  const form = await request.formData();
  const intent = form.get('intent');
  const adminId = String(form.get('adminId') ?? '');
  const inviteUrl = (token: string) => `${context.config.publicUrl.origin}/admin/${org.slug}/invite/${token}`;

  if (intent === 'invite') {
    const values = { name: String(form.get('name') ?? '').trim().replace(/\s+/g, ' '), email: String(form.get('email') ?? ''), role: String(form.get('role') ?? '') };
    const errors: InviteErrors = {};
    if (values.name.length === 0 || values.name.length > 100 || /\p{Cc}/u.test(values.name)) errors.name = 'Enter their name, up to 100 characters.';
    const email = normaliseAdminEmail(values.email);
    if (!email) errors.email = 'Enter their email address, like name@example.com.';
    if (!isRole(values.role)) errors.role = 'Choose a role.';
    if (Object.keys(errors).length > 0) return data<Answer>({ errors, values }, { status: 400 });
    const role = values.role as AdminRole;
    const result = await inviteAdmin(context.db, { orgId: org.id, invitedBy: admin.id, email: email!, name: values.name, role, now });
    if (result.status === 'exists') return data<Answer>({ errors: { email: 'Someone with this email address is already in the team.' }, values }, { status: 400 });
    setImmediate(() => void deliverInvitation(context.transports, { orgName: org.name, to: email!, url: inviteUrl(result.token), role, adminId: result.adminId }));
    return data<Answer>({ notice: `Invitation sent to ${email}. The link works for 7 days.` });
  }

  if (intent === 'reinvite') {
    const result = await reinviteAdmin(context.db, { orgId: org.id, invitedBy: admin.id, adminId, now });
    if (result.status !== 'invited') return data<Answer>({ form: 'That person has already accepted, or is not in the team.' }, { status: 400 });
    setImmediate(() => void deliverInvitation(context.transports, { orgName: org.name, to: result.email, url: inviteUrl(result.token), role: result.role, adminId }));
    return data<Answer>({ notice: `A new invitation was sent to ${result.email}. Earlier links no longer work.` });
  }

  if (intent === 'role') {
    const role = form.get('role');
    if (!isRole(role)) return data<Answer>({ form: 'Choose a role.' }, { status: 400 });
    const result = await changeRole(context.db, { orgId: org.id, actorId: admin.id, adminId, role });
    if (result === 'not_found') return data<Answer>({ form: 'That person is not in the team.' }, { status: 404 });
    if (result === 'last_owner') return data<Answer>({ form: 'The organisation needs at least one active owner. Make someone else an owner first.' }, { status: 400 });
    // Owners who give up their own ownership can no longer see this page.
    if (result === 'changed' && adminId === admin.id && role !== 'owner') throw redirectTo(`/admin/${org.slug}`);
    return data<Answer>({ notice: result === 'changed' ? `Role changed to ${ROLE_NAMES[role]}.` : 'The role is unchanged.' });
  }

  if (intent === 'disable') {
    const result = await disableAdmin(context.db, { orgId: org.id, actorId: admin.id, adminId, now });
    if (result === 'self') return data<Answer>({ form: 'You cannot disable your own access.' }, { status: 400 });
    if (result === 'not_found') return data<Answer>({ form: 'That person is not in the team.' }, { status: 404 });
    if (result === 'last_owner') return data<Answer>({ form: 'The organisation needs at least one active owner. Make someone else an owner first.' }, { status: 400 });
    return data<Answer>({ notice: 'Access disabled. Their sessions have ended.' });
  }

  if (intent === 'reset_factors') {
    const stepUp = String(form.get('stepUp') ?? '');
    if (stepUp.trim().length === 0) return data<Answer>({ reset: { adminId, stepUp: 'Enter your own password or a code from your authenticator app.' } }, { status: 400 });
    const result = await resetAdminFactors(context.db, context.vault, { orgId: org.id, actorId: admin.id, adminId, stepUp, now });
    switch (result.status) {
      case 'reset':
        setImmediate(() => void deliverFactorResetNotice(context.transports, { orgName: org.name, to: result.email, url: inviteUrl(result.token), adminId }));
        return data<Answer>({ notice: `Sign-in factors of ${result.name} were reset and their sessions ended. They were emailed a link to choose a password and add an authenticator app; it works once, for 24 hours.` });
      case 'wrong_step_up':
        return data<Answer>({ reset: { adminId, stepUp: 'That is not your password or a current code. Nothing changed.' } }, { status: 400 });
      case 'locked':
        return data<Answer>({ reset: { adminId, stepUp: 'Too many wrong passwords or codes: your sign-in is locked for a while. Nothing changed.' } }, { status: 400 });
      case 'self':
        return data<Answer>({ form: 'You cannot reset your own sign-in factors here. Add a passkey or a new app on your account page, or ask another owner.' }, { status: 400 });
      case 'not_found':
        return data<Answer>({ form: 'That person is not in the team.' }, { status: 404 });
      case 'not_active':
        return data<Answer>({ form: 'That person has not accepted their invitation yet: send a new invitation instead.' }, { status: 400 });
      case 'disabled':
        return data<Answer>({ form: 'That person’s access is disabled. Enable it first.' }, { status: 400 });
      case 'last_owner':
        return data<Answer>({ form: 'The organisation needs at least one active owner. Make someone else an owner first.' }, { status: 400 });
    }
  }

  if (intent === 'enable') {
    const result = await enableAdmin(context.db, { orgId: org.id, actorId: admin.id, adminId });
    return data<Answer>({ notice: result === 'changed' ? 'Access enabled again.' : 'Nothing changed.' });
  }
  return data<Answer>({ form: 'Something was missing from the form. Please try again.' }, { status: 400 });
}

export default function Team() {
  const { team, selfId, roles } = useLoaderData<typeof loader>();
  const answer = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const errors: InviteErrors = answer?.errors ?? {};
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Team</h1>
      {answer?.notice ? (
        <p className="notice" role="status">
          {answer.notice}
        </p>
      ) : null}
      <FormError message={answer?.form ?? (answer?.reset ? 'Nothing changed. Please fix the problem below.' : undefined)} />
      <ul className="session-list" aria-label="Team members">
        {team.map((m) => (
          <li key={m.id}>
            <strong>{m.name}</strong>
            {m.id === selfId ? ' (you)' : null}
            <br />
            <span>{m.email}</span>
            <br />
            <span className="muted">{`${ROLE_NAMES[m.role]} · ${STATUS_WORDS[m.status]}`}</span>
            <Form method="post" className="inline-form">
              <input type="hidden" name="intent" value="role" />
              <input type="hidden" name="adminId" value={m.id} />
              <label htmlFor={`role-${m.id}`}>{`Role of ${m.name}`}</label>
              <select id={`role-${m.id}`} name="role" defaultValue={m.role}>
                {roles.map((r) => (
                  <option key={r} value={r}>
                    {ROLE_NAMES[r]}
                  </option>
                ))}
              </select>
              <button className="button button--secondary" type="submit" aria-label={`Change role of ${m.name}`} disabled={busy}>
                Change role
              </button>
            </Form>
            <div className="button-row">
              {m.status === 'invited' ? (
                <Form method="post" className="inline-form">
                  <input type="hidden" name="intent" value="reinvite" />
                  <input type="hidden" name="adminId" value={m.id} />
                  <button className="button button--secondary" type="submit" aria-label={`Send a new invitation to ${m.name}`} disabled={busy}>
                    Send a new invitation
                  </button>
                </Form>
              ) : null}
              {m.id !== selfId && m.status !== 'disabled' ? (
                <Form method="post" className="inline-form">
                  <input type="hidden" name="intent" value="disable" />
                  <input type="hidden" name="adminId" value={m.id} />
                  <button className="button button--secondary" type="submit" aria-label={`Disable ${m.name}`} disabled={busy}>
                    Disable
                  </button>
                </Form>
              ) : null}
              {m.id !== selfId && m.status === 'active' ? (
                <details className="inline-form" open={answer?.reset?.adminId === m.id}>
                  <summary>{`Reset sign-in factors of ${m.name}`}</summary>
                  <p>For someone who lost their authenticator app and passkeys. Their app, passkeys and password stop working, they are signed out, and they get an email with a link to set up again.</p>
                  <Form method="post" noValidate>
                    <input type="hidden" name="intent" value="reset_factors" />
                    <input type="hidden" name="adminId" value={m.id} />
                    <div className={`field${answer?.reset?.adminId === m.id ? ' field--error' : ''}`}>
                      <label htmlFor={`stepUp-${m.id}`}>Your own password or authenticator code</label>
                      {answer?.reset?.adminId === m.id ? (
                        <p id={`stepUp-${m.id}-error`} className="field__error">
                          <span className="visually-hidden">Error: </span>
                          {answer.reset.stepUp}
                        </p>
                      ) : null}
                      <input
                        id={`stepUp-${m.id}`}
                        name="stepUp"
                        type="password"
                        autoComplete="current-password"
                        aria-invalid={answer?.reset?.adminId === m.id ? true : undefined}
                        aria-describedby={answer?.reset?.adminId === m.id ? `stepUp-${m.id}-error` : undefined}
                        maxLength={128}
                      />
                    </div>
                    <button className="button button--secondary" type="submit" disabled={busy}>
                      {`Reset factors of ${m.name}`}
                    </button>
                  </Form>
                </details>
              ) : null}
              {m.status === 'disabled' ? (
                <Form method="post" className="inline-form">
                  <input type="hidden" name="intent" value="enable" />
                  <input type="hidden" name="adminId" value={m.id} />
                  <button className="button button--secondary" type="submit" aria-label={`Enable ${m.name}`} disabled={busy}>
                    Enable
                  </button>
                </Form>
              ) : null}
            </div>
          </li>
        ))}
      </ul>

      <h2>Invite someone</h2>
      <p>They get an email with a link that works once, for 7 days. They choose a password and add an authenticator app.</p>
      <Form method="post" noValidate>
        <input type="hidden" name="intent" value="invite" />
        <Field id="name" label="Name" error={errors.name} type="text" autoComplete="off" maxLength={100} defaultValue={answer?.values?.name} required />
        <Field id="email" label="Email address" error={errors.email} type="email" autoComplete="off" autoCapitalize="none" spellCheck={false} defaultValue={answer?.values?.email} required />
        <fieldset className={`field${errors.role ? ' field--error' : ''}`} aria-describedby={errors.role ? 'role-error' : undefined}>
          <legend>Role</legend>
          {errors.role ? (
            <p id="role-error" className="field__error">
              <span className="visually-hidden">Error: </span>
              {errors.role}
            </p>
          ) : null}
          {roles.map((r) => (
            <div key={r} className="choice">
              <input type="radio" id={`invite-role-${r}`} name="role" value={r} defaultChecked={(answer?.values?.role ?? 'support') === r} />
              <label htmlFor={`invite-role-${r}`}>{`${ROLE_NAMES[r]}: ${ROLE_HINTS[r]}`}</label>
            </div>
          ))}
        </fieldset>
        <button className="button" type="submit" disabled={busy}>
          Send invitation
        </button>
      </Form>
    </main>
  );
}
