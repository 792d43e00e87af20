import { useEffect, useState, type FormEvent } from 'react';
import { Field, FormError } from './field';
import { authenticateAt, browserSupportsWebAuthn, registerAt, type PasskeyWords } from './passkey-client';

// The admin console is English only (ADR 014).
const ADMIN_WORDS = {
  cancelled: 'The passkey request was cancelled or timed out, or no passkey for this site was found on this device.',
  exists: 'This device already has a passkey for your account.',
  server: 'Something went wrong on our side. Please try again.',
} as const;
const SIGN_IN_WORDS: PasskeyWords = { ...ADMIN_WORDS, failed: 'Your browser could not use a passkey. Try again, or sign in with your password.' };
const ADD_WORDS: PasskeyWords = { ...ADMIN_WORDS, failed: 'Your browser could not use a passkey. Try again, or keep using your authenticator app.' };

/**
 * An admin's passkey sign-in: alone, from the sign-in page (any passkey this device holds for the site), or as the
 * second step after a password (`second`: only that admin's passkeys). Shown only where the browser can do it.
 */
export function AdminPasskeySignIn({ slug, second, label }: { slug: string; second: boolean; label: string }) {
  const [supported, setSupported] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => setSupported(browserSupportsWebAuthn()), []);
  if (!supported) return null;

  async function onClick() {
    setBusy(true);
    setError(undefined);
    const answer = await authenticateAt(`/admin/${slug}/sign-in/passkey`, { step: second ? 'second' : 'only' }, SIGN_IN_WORDS);
    setBusy(false);
    // A full page load: the admin frame's loader runs again and the navigation appears.
    if (answer.location) window.location.assign(answer.location);
    else setError(answer.error);
  }

  return (
    <section aria-labelledby="passkey-heading">
      <h2 id="passkey-heading" className="divider">
        {second ? 'Or use a passkey' : 'Or sign in with a passkey'}
      </h2>
      <div role="alert" className={error ? 'form-error' : undefined}>
        {error ?? null}
      </div>
      <button className="button button--secondary" type="button" onClick={onClick} disabled={busy}>
        {label}
      </button>
    </section>
  );
}

/** "Add a passkey" on the admin's account page. */
export function AddAdminPasskey({ slug, onAdded }: { slug: string; onAdded: () => void }) {
  const [supported, setSupported] = useState<boolean | undefined>(undefined);
  const [error, setError] = useState<{ form?: string; name?: string }>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => setSupported(browserSupportsWebAuthn()), []);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const name = String(new FormData(form).get('passkeyName') ?? '');
    setBusy(true);
    setError({});
    const answer = await registerAt(`/admin/${slug}/account/passkey`, { name }, ADD_WORDS);
    setBusy(false);
    if (answer.location) {
      form.reset();
      onAdded();
    } else setError(answer.field === 'name' ? { name: answer.error } : { form: answer.error });
  }

  if (supported === false) return <p className="notice">This browser cannot make passkeys. You can keep using your authenticator app.</p>;
  return (
    <form method="post" onSubmit={onSubmit} noValidate>
      <FormError message={error.form} />
      <Field
        id="passkeyName"
        label="Name for the new passkey"
        hint="So you can tell your passkeys apart, for example “Work laptop”."
        error={error.name}
        type="text"
        maxLength={60}
        defaultValue="My passkey"
        required
      />
      <button className="button" type="submit" disabled={busy || supported === undefined}>
        Add a passkey
      </button>
    </form>
  );
}
