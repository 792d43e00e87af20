// API keys (issue 7) managed by the owner: create with scopes (the key is shown once, in this response only), rotate
// with a grace period, revoke. The list shows a key's prefix, never its secret or hash.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { useEffect, useRef } from 'react';
import { Field, FormError } from '../components/field';
import { API_SCOPES, createApiKey, listApiKeys, parseNewKeyForm, requireAdmin, revokeApiKey, rotateApiKey } from '../services/all.server';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'API keys · Admin · Carepost' }];

const SCOPE_WORDS: Record<string, string> = {
  messages: 'Messages: send, read status, retract, replies',
  consent: 'Consent: preflight checks and consent state',
  links: 'Links: preference, unsubscribe and renewal links',
  patients: 'Patients: create and update patients and contact points',
  webhooks: 'Webhooks: register endpoints and read their logs',
};

const GRACE_CHOICES = [
  { minutes: 0, label: 'Stop the old key now' },
  { minutes: 60, label: 'Keep the old key working for 1 hour' },
  { minutes: 1440, label: 'Keep the old key working for 24 hours' },
];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const now = new Date();
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now });
  const keys = await listApiKeys(context.db, org.id);
  return {
    scopes: API_SCOPES.map((s) => ({ value: s, label: SCOPE_WORDS[s] ?? s })),
    keys: keys.map((k) => ({
      id: k.id,
      name: k.name,
      prefix: k.prefix,
      scopes: k.scopes,
      createdAt: k.createdAt.toISOString(),
      lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
      status: k.revokedAt && k.revokedAt <= now ? 'Revoked' : k.expiresAt && k.expiresAt <= now ? 'Expired' : k.revokedAt ? `Stops ${formatDateTime(k.revokedAt.toISOString())}` : 'Active',
      active: !(k.revokedAt && k.revokedAt <= now) && !(k.expiresAt && k.expiresAt <= now),
      rotatable: k.revokedAt === null && !(k.expiresAt && k.expiresAt <= now),
    })),
  };
}

type ActionResult = { fieldErrors: Record<string, string>; form?: string; message?: string; newKey?: { name: string; key: string } };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now });
  const form = await request.formData();
  const actor = { type: 'admin', id: admin.id } as const;
  const intent = String(form.get('intent') ?? '');
  const secret = context.identity.codeSecret;
  if (intent === 'revoke' || intent === 'rotate') {
    const keyId = String(form.get('keyId') ?? '');
    if (intent === 'revoke') {
      const done = await revokeApiKey(context.db, { orgId: org.id, keyId, at: now, actor });
      if (!done) return data<ActionResult>({ fieldErrors: {}, form: 'That key is not an active key of this organisation.' }, { status: 404 });
      return data<ActionResult>({ fieldErrors: {}, message: 'The key is revoked. Requests with it are refused from now on.' });
    }
    const grace = GRACE_CHOICES.find((g) => String(g.minutes) === String(form.get('graceMinutes') ?? ''));
    if (!grace) return data<ActionResult>({ fieldErrors: {}, form: 'Choose how long the old key keeps working.' }, { status: 400 });
    const created = await rotateApiKey(context.db, secret, { orgId: org.id, keyId, graceMs: grace.minutes * 60_000, actor, now });
    if (!created) return data<ActionResult>({ fieldErrors: {}, form: 'That key is not an active key of this organisation.' }, { status: 404 });
    return data<ActionResult>({ fieldErrors: {}, newKey: { name: 'the replacement key', key: created.key } });
  }
  const parsed = parseNewKeyForm({ name: String(form.get('name') ?? ''), scopes: form.getAll('scopes').map(String), expiresInDays: String(form.get('expiresInDays') ?? '').trim() }, now);
  if (!parsed.ok) return data<ActionResult>({ fieldErrors: parsed.fieldErrors, form: 'No key was created. Please fix the problems below.' }, { status: 400 });
  const created = await createApiKey(context.db, secret, { orgId: org.id, ...parsed.value, actor, now });
  return data<ActionResult>({ fieldErrors: {}, newKey: { name: parsed.value.name, key: created.key } });
}

export default function ApiKeys() {
  const { keys, scopes } = useLoaderData<typeof loader>();
  const result = useActionData<ActionResult>();
  const errors = result?.fieldErrors ?? {};
  const busy = useNavigation().state === 'submitting';
  const focusTarget = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) focusTarget.current?.focus();
  }, [result]);
  return (
    <main id="main" tabIndex={-1}>
      <h1>API keys</h1>
      <div ref={focusTarget} tabIndex={-1}>
        <FormError message={result?.form} />
        {result?.message ? (
          <p className="notice" role="status">
            {result.message}
          </p>
        ) : null}
        {result?.newKey ? (
          <section className="card" aria-labelledby="new-key-heading">
            <h2 id="new-key-heading">{`Copy ${result.newKey.name} now`}</h2>
            <p>This is the only time it is shown. Store it in your integration’s secret store; Carepost keeps only a hash.</p>
            <p className="secret-once" data-testid="new-api-key">
              {result.newKey.key}
            </p>
          </section>
        ) : null}
      </div>

      <Form method="post" noValidate className="card" aria-labelledby="create-heading">
        <h2 id="create-heading">Create a key</h2>
        <input type="hidden" name="intent" value="create" />
        <Field id="name" label="Name" hint="Who or what uses it, for example “EHR integration”." error={errors.name} maxLength={80} autoComplete="off" />
        <fieldset className="choices" aria-describedby={errors.scopes ? 'scopes-error' : undefined}>
          <legend>This key may use</legend>
          {errors.scopes ? (
            <p id="scopes-error" className="field__error">
              <span className="visually-hidden">Error: </span>
              {errors.scopes}
            </p>
          ) : null}
          {scopes.map((s) => (
            <label key={s.value} className="choice">
              <input type="checkbox" name="scopes" value={s.value} />
              {s.label}
            </label>
          ))}
        </fieldset>
        <Field id="expiresInDays" label="Expires after (days, optional)" inputMode="numeric" error={errors.expiresInDays} maxLength={4} />
        <button className="button" type="submit" disabled={busy}>
          Create key
        </button>
      </Form>

      <h2>Keys</h2>
      {keys.length === 0 ? (
        <p>No keys yet.</p>
      ) : (
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Scopes</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{`cpk_${k.prefix}_…`}</code>
                </td>
                <td>{k.scopes.join(', ')}</td>
                <td>{k.lastUsedAt ? formatDateTime(k.lastUsedAt) : 'Never'}</td>
                <td>{k.status}</td>
                <td>
                  {k.rotatable ? (
                    <Form method="post" className="inline-form">
                      <input type="hidden" name="intent" value="rotate" />
                      <input type="hidden" name="keyId" value={k.id} />
                      <label htmlFor={`grace-${k.id}`} className="visually-hidden">{`When the old ${k.name} key stops`}</label>
                      <select id={`grace-${k.id}`} name="graceMinutes" defaultValue="60">
                        {GRACE_CHOICES.map((g) => (
                          <option key={g.minutes} value={g.minutes}>
                            {g.label}
                          </option>
                        ))}
                      </select>
                      <button className="button button--secondary" type="submit" aria-label={`Rotate ${k.name}`}>
                        Rotate
                      </button>
                    </Form>
                  ) : null}
                  {k.active && k.rotatable ? (
                    <Form method="post" className="inline-form">
                      <input type="hidden" name="intent" value="revoke" />
                      <input type="hidden" name="keyId" value={k.id} />
                      <button className="button button--secondary" type="submit" aria-label={`Revoke ${k.name}`}>
                        Revoke
                      </button>
                    </Form>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
