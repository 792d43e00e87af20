// TR2: domains the organisation requires TLS for. Mail to them is never sent in clear, whatever a probe finds.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import { addTlsEnforcedDomain, listTlsEnforcedDomains, removeTlsEnforcedDomain, requireAdmin } from '../services/all.server';
import { formatDate } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'TLS-enforced domains · Admin · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now: new Date() });
  const domains = await listTlsEnforcedDomains(context.db, org.id);
  return { domains: domains.map((d) => ({ domain: d.domain, since: d.createdAt.toISOString() })) };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now });
  const form = await request.formData();
  const domain = String(form.get('domain') ?? '').slice(0, 300);
  const actor = { type: 'admin', id: admin.id } as const;
  if (form.get('intent') === 'remove') {
    const result = await removeTlsEnforcedDomain(context.db, org.id, domain, actor);
    if (result.status === 'invalid') return data({ fieldErrors: result.fieldErrors, message: null }, { status: 400 });
    return { fieldErrors: {}, message: result.status === 'removed' ? `${result.domain} is no longer on the list.` : `${result.domain} was not on the list.` };
  }
  const result = await addTlsEnforcedDomain(context.db, org.id, domain, now, actor);
  if (result.status === 'invalid') return data({ fieldErrors: result.fieldErrors, message: null }, { status: 400 });
  return { fieldErrors: {}, message: result.status === 'added' ? `Mail to ${result.domain} now always needs TLS.` : `${result.domain} is already on the list.` };
}

export default function TlsDomains() {
  const { domains } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: Record<string, string> = result?.fieldErrors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" tabIndex={-1}>
      <h1>TLS-enforced domains</h1>
      <p>
        Mail to these domains is only handed to a server that offers STARTTLS with a valid certificate. If it cannot be, the message waits and then goes to the
        patient’s secure inbox instead; it is never sent in clear.
      </p>
      {result?.message ? (
        <p className="notice" role="status">
          {result.message}
        </p>
      ) : null}
      <FormError message={errors.domain ? 'Nothing was changed. Please fix the problem below.' : undefined} />
      <Form method="post" noValidate className="card">
        <input type="hidden" name="intent" value="add" />
        <Field id="domain" label="Domain" hint="For example: example-hospital.org" error={errors.domain} autoComplete="off" spellCheck={false} maxLength={253} />
        <button className="button" type="submit" disabled={busy}>
          Require TLS for this domain
        </button>
      </Form>
      {domains.length === 0 ? (
        <p>No domains are on the list yet.</p>
      ) : (
        <table className="data-table">
          <caption className="visually-hidden">Domains that always need TLS</caption>
          <thead>
            <tr>
              <th scope="col">Domain</th>
              <th scope="col">Since</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {domains.map((d) => (
              <tr key={d.domain}>
                <td>{d.domain}</td>
                <td>{formatDate(d.since)}</td>
                <td>
                  <Form method="post">
                    <input type="hidden" name="intent" value="remove" />
                    <input type="hidden" name="domain" value={d.domain} />
                    <button className="button button--secondary" type="submit" aria-label={`Remove ${d.domain}`}>
                      Remove
                    </button>
                  </Form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
