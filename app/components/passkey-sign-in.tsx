import { useNavigate } from '@remix-run/react';
import { useEffect, useState } from 'react';
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, signInWithPasskey, WebAuthnAbortService, type PasskeyWords } from './passkey-client';
import { useT, type Translate } from '../i18n';

/** The browser-side passkey failures in the page's language, for signing in or for adding one. */
export function passkeyWords(t: Translate, purpose: 'signIn' | 'add'): PasskeyWords {
  return {
    cancelled: t('passkey.error.cancelled'),
    exists: t('passkey.error.exists'),
    failed: t(purpose === 'signIn' ? 'passkey.error.browserSignIn' : 'passkey.error.browserAdd'),
    server: t('passkey.error.server'),
  };
}

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
      const answer = await signInWithPasskey(slug, undefined, passkeyWords(t, 'signIn'), { autofill: true });
      if (!active || answer.cancelled) return;
      if (answer.location) navigate(answer.location);
      else if (answer.error) setError(answer.error);
    })();
    return () => {
      active = false;
      WebAuthnAbortService.cancelCeremony();
    };
  }, [slug, navigate, t]);

  if (!supported) return null;

  async function onClick() {
    setBusy(true);
    setError(undefined);
    const contact = (document.getElementById(contactInputId) as HTMLInputElement | null)?.value.trim();
    const answer = await signInWithPasskey(slug, contact, passkeyWords(t, 'signIn'));
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
