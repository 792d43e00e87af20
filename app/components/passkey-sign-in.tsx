import { useNavigate } from '@remix-run/react';
import { useEffect, useState } from 'react';
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, signInWithPasskey, WebAuthnAbortService } from './passkey-client';
import { useT } from '../i18n';

/**
 * "Sign in with a passkey": with the address typed above, that patient's passkeys; with nothing typed, any passkey
 * this device holds for the site (usernameless). Shown only where the browser can do it.
 */
export function PasskeySignIn({ slug, contactInputId }: { slug: string; contactInputId: string }) {
  const navigate = useNavigate();
  const [supported, setSupported] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const t = useT();
  useEffect(() => setSupported(browserSupportsWebAuthn()), []);

  // Conditional UI: where the browser offers passkeys in the address field's autofill, one is picked there.
  useEffect(() => {
    let active = true;
    void (async () => {
      if (!(await browserSupportsWebAuthnAutofill())) return;
      const answer = await signInWithPasskey(slug, undefined, { autofill: true });
      if (!active || answer.cancelled) return;
      if (answer.location) navigate(answer.location);
      else if (answer.error) setError(answer.error);
    })();
    return () => {
      active = false;
      WebAuthnAbortService.cancelCeremony();
    };
  }, [slug, navigate]);

  if (!supported) return null;

  async function onClick() {
    setBusy(true);
    setError(undefined);
    const contact = (document.getElementById(contactInputId) as HTMLInputElement | null)?.value.trim();
    const answer = await signInWithPasskey(slug, contact);
    setBusy(false);
    if (answer.location) navigate(answer.location);
    else setError(answer.error);
  }

  return (
    <section aria-labelledby="passkey-heading">
      <p className="divider" id="passkey-heading">
        {t('passkey.or')}
      </p>
      <div role="alert" className={error ? 'form-error' : undefined}>
        {error ?? null}
      </div>
      <button className="button button--secondary" type="button" onClick={onClick} disabled={busy}>
        {t('passkey.signIn')}
      </button>
    </section>
  );
}
