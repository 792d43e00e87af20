import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react';
import { FormError } from '../components/field';
import { listPasskeys, removePasskey, renamePasskey, requirePatient } from '../services/all.server';
import { pageT } from '../services/all.server';
import { formatDate, metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('passkeys.metaTitle') }];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now: new Date() });
  const passkeys = await listPasskeys({ db: context.db, orgId: org.id, patientId: patient.id });
  const { locale } = pageT(request, context);
  // Dates are written on the server, in the page's language, so the browser renders the same words (no hydration mismatch).
  const day = (d: Date) => formatDate(d, locale, 'UTC');
  return {
    slug: org.slug,
    passkeys: passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: day(p.createdAt), lastUsedAt: p.lastUsedAt ? day(p.lastUsedAt) : null })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const { org, patient } = await requirePatient({ request, db: context.db, cookies: context.identity.cookies, slug: params.slug, now });
  const form = await request.formData();
  const { t } = pageT(request, context);
  const passkeyId = String(form.get('passkeyId') ?? '');
  const scope = { db: context.db, orgId: org.id, patientId: patient.id, passkeyId };
  if (form.get('intent') === 'rename') {
    const result = await renamePasskey({ ...scope, name: String(form.get('name') ?? '') });
    if (result.status === 'name_invalid') return data({ error: t('passkeys.nameInvalid'), passkeyId }, { status: 400 });
    if (result.status === 'not_found') return data({ error: t('passkeys.notFound'), passkeyId }, { status: 404 });
    return { error: null, passkeyId: null };
  }
  if (form.get('intent') === 'remove') {
    const result = await removePasskey(scope);
    if (result.status === 'not_found') return data({ error: t('passkeys.notFound'), passkeyId }, { status: 404 });
    return { error: null, passkeyId: null };
  }
  return data({ error: t('common.unknownAction'), passkeyId: null }, { status: 400 });
}

export default function Passkeys() {
  const { slug, passkeys } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const t = useT();
  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('passkeys.title')}</h1>
      <FormError message={result?.error ?? undefined} />
      {passkeys.length === 0 ? <p>{t('passkeys.none')}</p> : null}
      <ul className="session-list" aria-label={t('account.passkeys')}>
        {passkeys.map((p) => (
          <li key={p.id}>
            <strong>{p.name}</strong>
            <br />
            <span className="muted">{p.lastUsedAt ? t('passkeys.used', { added: p.createdAt, used: p.lastUsedAt }) : t('passkeys.notUsed', { added: p.createdAt })}</span>
            <Form method="post" className="inline-form">
              <input type="hidden" name="intent" value="rename" />
              <input type="hidden" name="passkeyId" value={p.id} />
              <label htmlFor={`rename-${p.id}`}>{t('passkeys.renameLabel', { name: p.name })}</label>
              <input id={`rename-${p.id}`} name="name" type="text" maxLength={60} defaultValue={p.name} required />
              <button className="button button--secondary" type="submit">
                {t('passkeys.rename')}
              </button>
            </Form>
            <Form method="post" className="inline-form">
              <input type="hidden" name="intent" value="remove" />
              <input type="hidden" name="passkeyId" value={p.id} />
              <button className="button button--secondary" type="submit" aria-label={t('passkeys.removeLabel', { name: p.name })}>
                {t('passkeys.remove')}
              </button>
            </Form>
          </li>
        ))}
      </ul>
      <p>
        <Link className="button" to={`/o/${slug}/passkeys/new`}>
          {t('account.addPasskey')}
        </Link>
      </p>
    </main>
  );
}
