// EM3: the organisation's own DKIM key. Carepost generates it; the owner publishes the public half in DNS.
import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { Field, FormError } from '../components/field';
import { generateOrgDkimKey, getOrgDkimKey, removeOrgDkimKey, requireAdmin } from '../services/all.server';
import { formatDateTime } from '../utils/consent-words';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = () => [{ title: 'DKIM signing · Admin · Carepost' }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now: new Date() });
  const key = await getOrgDkimKey(context.db, org.id);
  return { key: key ? { domain: key.domain, selector: key.selector, dnsName: key.dnsName, dnsRecord: key.dnsRecord, createdAt: key.createdAt.toISOString() } : null };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, admin } = await requireAdmin({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, capability: 'settings', now });
  const form = await request.formData();
  const actor = { type: 'admin', id: admin.id } as const;
  if (form.get('intent') === 'remove') {
    const removed = await removeOrgDkimKey(context.db, { orgId: org.id, actor });
    return { fieldErrors: {} as Record<string, string>, message: removed ? 'The key is removed. Mail is signed with the deployment’s key, if it has one.' : 'There was no key to remove.' };
  }
  const result = await generateOrgDkimKey(context.db, context.vault, { orgId: org.id, domain: String(form.get('domain') ?? '').slice(0, 300), selector: String(form.get('selector') ?? '').slice(0, 100), actor, now });
  if (result.status === 'invalid') return data({ fieldErrors: result.fieldErrors, message: null }, { status: 400 });
  return { fieldErrors: {} as Record<string, string>, message: 'A new key is ready. Publish the DNS record below; mail is signed with it from now on.' };
}

export default function DkimSettings() {
  const { key } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const errors: Record<string, string> = result?.fieldErrors ?? {};
  const busy = useNavigation().state === 'submitting';
  return (
    <main id="main" tabIndex={-1}>
      <h1>DKIM signing</h1>
      <p>
        Mail Carepost sends for you is signed with DKIM, covering the unsubscribe headers, so receiving servers can tell it really comes from your domain. The
        private key is generated here and never leaves Carepost unencrypted.
      </p>
      {result?.message ? (
        <p className="notice" role="status">
          {result.message}
        </p>
      ) : null}
      <FormError message={Object.keys(errors).length > 0 ? 'No key was made. Please fix the problems below.' : undefined} />
      {key ? (
        <section className="card" aria-labelledby="current-heading">
          <h2 id="current-heading">Current key</h2>
          <dl className="evidence">
            <div className="evidence__row">
              <dt>Signing domain (d=)</dt>
              <dd>{key.domain}</dd>
            </div>
            <div className="evidence__row">
              <dt>Selector (s=)</dt>
              <dd>{key.selector}</dd>
            </div>
            <div className="evidence__row">
              <dt>Made</dt>
              <dd>{formatDateTime(key.createdAt)}</dd>
            </div>
            <div className="evidence__row">
              <dt>DNS TXT record name</dt>
              <dd>
                <code>{key.dnsName}</code>
              </dd>
            </div>
            <div className="evidence__row">
              <dt>DNS TXT record value</dt>
              <dd className="secret-once">{key.dnsRecord}</dd>
            </div>
          </dl>
          <Form method="post">
            <input type="hidden" name="intent" value="remove" />
            <button className="button button--secondary" type="submit">
              Remove this key
            </button>
          </Form>
        </section>
      ) : (
        <p>No key of your own yet.</p>
      )}
      <Form method="post" noValidate className="card" aria-labelledby="generate-heading">
        <h2 id="generate-heading">{key ? 'Replace the key' : 'Make a key'}</h2>
        <p>To change keys without a gap, use a new selector, publish its record, then make the key here.</p>
        <input type="hidden" name="intent" value="generate" />
        <Field id="domain" label="Signing domain" hint="The domain in your From address, such as example-hospital.org." error={errors.domain} defaultValue={key?.domain} autoComplete="off" spellCheck={false} />
        <Field id="selector" label="Selector" hint="A name for this key, such as carepost1." error={errors.selector} autoComplete="off" spellCheck={false} maxLength={63} />
        <button className="button" type="submit" disabled={busy}>
          Make a new key
        </button>
      </Form>
    </main>
  );
}
