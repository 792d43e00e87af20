import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { useLoaderData, useNavigate } from '@remix-run/react';
import { useEffect, useState, type FormEvent } from 'react';
import { Field, FormError } from '../components/field';
import { addPasskey, browserSupportsWebAuthn } from '../components/passkey-client';
import { requireRecentVerification } from '../services/identity.server';

export const meta: MetaFunction = () => [{ title: 'Add a passkey · Carepost' }];

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
  useEffect(() => setSupported(browserSupportsWebAuthn()), []);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get('name') ?? '');
    setBusy(true);
    setError({});
    const answer = await addPasskey(slug, name);
    setBusy(false);
    if (answer.location) navigate(answer.location);
    else setError(answer.field === 'name' ? { name: answer.error } : { form: answer.error });
  }

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Add a passkey</h1>
      <p>
        A passkey lets you sign in with your phone or computer&apos;s screen lock (a PIN, fingerprint or face) instead of a
        code. It cannot be phished, and nothing secret is stored by us.
      </p>
      {supported === false ? (
        <p className="notice">This browser cannot make passkeys. You can keep signing in with a code.</p>
      ) : (
        <form method="post" onSubmit={onSubmit} noValidate>
          <FormError message={error.form} />
          <Field id="name" label="Name for this passkey" hint="So you can tell your passkeys apart, for example “My phone”." error={error.name} type="text" maxLength={60} defaultValue="My passkey" required />
          <button className="button" type="submit" disabled={busy || supported === undefined}>
            Create passkey
          </button>
        </form>
      )}
    </main>
  );
}
