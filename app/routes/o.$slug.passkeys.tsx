import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { FormError } from '../components/field';
import { listPasskeys, removePasskey, renamePasskey, requirePatient } from '../services/identity.server';

export const meta: MetaFunction = () => [{ title: 'Your passkeys · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const passkeys = await listPasskeys({ db: context.db, orgId: org.id, patientId: patient.id });
  return {
    slug: org.slug,
    passkeys: passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: p.createdAt.toISOString(), lastUsedAt: p.lastUsedAt?.toISOString() ?? null })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const form = await request.formData();
  const passkeyId = String(form.get('passkeyId') ?? '');
  const scope = { db: context.db, orgId: org.id, patientId: patient.id, passkeyId };
  if (form.get('intent') === 'rename') {
    const result = await renamePasskey({ ...scope, name: String(form.get('name') ?? '') });
    if (result.status === 'name_invalid') return data({ error: 'Give the passkey a name of 1 to 60 characters.', passkeyId }, { status: 400 });
    if (result.status === 'not_found') return data({ error: 'That passkey was not found.', passkeyId }, { status: 404 });
    return { error: null, passkeyId: null };
  }
  if (form.get('intent') === 'remove') {
    const result = await removePasskey(scope);
    if (result.status === 'not_found') return data({ error: 'That passkey was not found.', passkeyId }, { status: 404 });
    return { error: null, passkeyId: null };
  }
  return data({ error: 'Unknown action.', passkeyId: null }, { status: 400 });
}

const when = (iso: string) => new Date(iso).toLocaleDateString('en-US', { dateStyle: 'medium', timeZone: 'UTC' });

export default function Passkeys() {
  const { slug, passkeys } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Your passkeys</h1>
      <FormError message={result?.error ?? undefined} />
      {passkeys.length === 0 ? <p>You have no passkeys yet.</p> : null}
      <ul className="session-list" aria-label="Passkeys">
        {passkeys.map((p) => (
          <li key={p.id}>
            <strong>{p.name}</strong>
            <br />
            <span className="muted">
              Added {when(p.createdAt)}
              {p.lastUsedAt ? `, last used ${when(p.lastUsedAt)}` : ', not used yet'}
            </span>
            <Form method="post" className="inline-form">
              <input type="hidden" name="intent" value="rename" />
              <input type="hidden" name="passkeyId" value={p.id} />
              <label htmlFor={`rename-${p.id}`}>New name for {p.name}</label>
              <input id={`rename-${p.id}`} name="name" type="text" maxLength={60} defaultValue={p.name} required />
              <button className="button button--secondary" type="submit">
                Rename
              </button>
            </Form>
            <Form method="post" className="inline-form">
              <input type="hidden" name="intent" value="remove" />
              <input type="hidden" name="passkeyId" value={p.id} />
              <button className="button button--secondary" type="submit" aria-label={`Remove ${p.name}`}>
                Remove
              </button>
            </Form>
          </li>
        ))}
      </ul>
      <p>
        <Link className="button" to={`/o/${slug}/passkeys/new`}>
          Add a passkey
        </Link>
      </p>
    </main>
  );
}
