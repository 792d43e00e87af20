import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { useLoaderData, useNavigate } from '@remix-run/react';
import { useEffect, useState, type FormEvent } from 'react';
import { Field, FormError } from '../components/field';
import { addPasskey, browserSupportsWebAuthn } from '../components/passkey-client';
import { passkeyWords } from '../components/passkey-sign-in';
import { requireRecentVerification } from '../services/all.server';
import { metaT, useT } from '../i18n';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

export const meta: MetaFunction = ({ matches }) => [{ title: metaT(matches)('passkeyNew.metaTitle') }];

// PK7, SE5: adding a passkey needs a verification from the last few minutes.
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { org } = await requireRecentVerification({
    request,
    db: context.db,
    cookies: context.identity.cookies,
    slug: params.slug,
    now: new Date(),
    returnTo: `/o/${params.slug}/passkeys/new`,
  });
  return { slug: org.slug };
}

export default function NewPasskey() {
  const { slug } = useLoaderData<typeof loader>();
  const navigate = useNavigate();
  const [supported, setSupported] = useState<boolean | undefined>(undefined);
  const [error, setError] = useState<{ form?: string; name?: string }>({});
  const [busy, setBusy] = useState(false);
  const t = useT();
  useEffect(() => setSupported(browserSupportsWebAuthn()), []);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get('name') ?? '');
    setBusy(true);
    setError({});
    const answer = await addPasskey(slug, name, passkeyWords(t, 'add'));
    setBusy(false);
    if (answer.location) navigate(answer.location);
    else setError(answer.field === 'name' ? { name: answer.error } : { form: answer.error });
  }

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>{t('account.addPasskey')}</h1>
      <p>{t('passkeyNew.intro')}</p>
      {supported === false ? (
        <p className="notice">{t('passkeyNew.unsupported')}</p>
      ) : (
        <form method="post" onSubmit={onSubmit} noValidate>
          <FormError message={error.form} />
          <Field id="name" label={t('passkeyNew.nameLabel')} hint={t('passkeyNew.nameHint')} error={error.name} type="text" maxLength={60} defaultValue={t('passkeyNew.defaultName')} required />
          <button className="button" type="submit" disabled={busy || supported === undefined}>
            {t('passkeyNew.create')}
          </button>
        </form>
      )}
    </main>
  );
}
