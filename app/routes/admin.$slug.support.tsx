// Patient support: find a patient by exact email, mobile number or reference (POSTed, so never in a URL), see whether
// their sign-in is locked, and unlock it. No messages, no consent details, no full contact values.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field, FormError } from '../components/field';
import { findPatientsForSupport, patientForSupport, requireAdmin, unlockContactForSupport } from '../services/admin.server';
import { formatDateTime } from '../utils/consent-words';

export const meta: MetaFunction = () => [{ title: 'Patient support · Admin · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'support', now: new Date() });
  return null;
}

type PatientView = {
  id: string;
  displayName: string;
  externalRef: string;
  contacts: { id: string; kind: 'email' | 'sms'; masked: string; verified: boolean; lockedUntil: string | null; failures: number }[];
};
type ActionResult = { fieldErrors: Record<string, string>; message?: string; searched?: boolean; patients: PatientView[] };

const view = (p: Awaited<ReturnType<typeof findPatientsForSupport>>[number]): PatientView => ({
  ...p,
  contacts: p.contacts.map((c) => ({ ...c, lockedUntil: c.lockedUntil?.toISOString() ?? null })),
});

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'support', now });
  const form = await request.formData();
  const secret = context.identity.codeSecret;
  if (form.get('intent') === 'unlock') {
    const result = await unlockContactForSupport(context.db, secret, { orgId: org.id, contactPointId: String(form.get('contactPointId') ?? ''), actor: { type: 'admin', id: admin.id }, now });
    if (result.status === 'not_found') return data<ActionResult>({ fieldErrors: {}, message: 'That contact point is not on record here.', patients: [] }, { status: 404 });
    const patient = await patientForSupport(context.db, secret, org.id, result.patientId, now);
    return data<ActionResult>({ fieldErrors: {}, message: 'Sign-in is unlocked. The patient can ask for a new code now.', patients: patient ? [view(patient)] : [] });
  }
  const query = String(form.get('query') ?? '');
  if (query.trim().length === 0) return data<ActionResult>({ fieldErrors: { query: 'Enter an email address, a mobile number or a patient reference.' }, patients: [] }, { status: 400 });
  const found = await findPatientsForSupport(context.db, secret, org.id, query, now);
  return data<ActionResult>({ fieldErrors: {}, searched: true, patients: found.map(view) });
}

export default function Support() {
  const result = useActionData<ActionResult>();
  const busy = useNavigation().state === 'submitting';
  const focusTarget = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) focusTarget.current?.focus();
  }, [result]);
  return (
    <main id="main" className="page page--wide" tabIndex={-1}>
      <h1>Patient support</h1>
      <p>Find a patient who contacted you, to check or unlock their sign-in. You see masked contact points only, and no messages.</p>
      <Form method="post" noValidate className="card">
        <input type="hidden" name="intent" value="search" />
        <Field
          id="query"
          label="Email address, mobile number or patient reference"
          hint="An exact match. The search is not kept in any address or log."
          error={result?.fieldErrors.query}
          autoComplete="off"
          spellCheck={false}
          maxLength={254}
        />
        <button className="button" type="submit" disabled={busy}>
          Find patient
        </button>
      </Form>
      <div ref={focusTarget} tabIndex={-1} aria-live="polite">
        <FormError message={result?.fieldErrors.query ? 'Please fix the problem above.' : undefined} />
        {result?.message ? (
          <p className="notice" role="status">
            {result.message}
          </p>
        ) : null}
        {result?.searched && result.patients.length === 0 ? <p>No patient matches exactly.</p> : null}
        {result?.patients.map((p) => (
          <section key={p.id} className="card" aria-labelledby={`patient-${p.id}`}>
            <h2 id={`patient-${p.id}`}>{p.displayName}</h2>
            <p className="muted">{`Reference ${p.externalRef}`}</p>
            <table className="data-table">
              <caption className="visually-hidden">{`Sign-in for ${p.displayName}`}</caption>
              <thead>
                <tr>
                  <th scope="col">Contact point</th>
                  <th scope="col">Sign-in</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {p.contacts.map((c) => (
                  <tr key={c.id}>
                    <td>{`${c.kind === 'email' ? 'Email' : 'Mobile'} ${c.masked}${c.verified ? '' : ' (not confirmed)'}`}</td>
                    <td>{c.lockedUntil ? `Locked until ${formatDateTime(c.lockedUntil)}` : c.failures > 0 ? `${c.failures} wrong code${c.failures === 1 ? '' : 's'} in a row` : 'Not locked'}</td>
                    <td>
                      {c.lockedUntil || c.failures > 0 ? (
                        <Form method="post">
                          <input type="hidden" name="intent" value="unlock" />
                          <input type="hidden" name="contactPointId" value={c.id} />
                          <button className="button button--secondary" type="submit" aria-label={`Unlock sign-in with ${c.masked}`}>
                            Unlock
                          </button>
                        </Form>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ))}
      </div>
    </main>
  );
}
