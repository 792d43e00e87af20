import { useEffect, useRef, useState } from 'react';
import { useT, type UiKey } from '../i18n';

// Web push opt-in on the preferences page (issue 9). Everything in the browser happens here: feature checks, the
// Notification permission, pushManager.subscribe() on the service worker another module registers, and posting the
// subscription to /o/<slug>/push. The server sends only a PHI-free notice (EM4).

/** From the loader (app/services/push.server.ts); null when push is off on this deployment (the section is not shown). */
export type PushOptInData = {
  vapidPublicKey: string;
  /** Fingerprints of the patient's active subscriptions, to tell whether this browser's is one of them. */
  fingerprints: string[];
  /** Where to post: /o/<slug>/push. */
  action: string;
} | null;

type State = 'checking' | 'unsupported' | 'unavailable' | 'off' | 'on' | 'working' | 'denied' | 'failed' | 'signedOut';

// Every string the patient sees is in the page catalogues (server/i18n/ui-*.ts), one key per state.
const STATE_KEYS: Record<State, UiKey> = {
  checking: 'push.checking',
  unsupported: 'push.unsupported',
  unavailable: 'push.unavailable',
  off: 'push.off',
  on: 'push.on',
  working: 'push.working',
  denied: 'push.denied',
  failed: 'push.failed',
  signedOut: 'push.signedOut',
};

const SW_READY_TIMEOUT_MS = 5_000;

function supported(): boolean {
  return typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && !!window.crypto?.subtle;
}

/** The registered service worker, once active; undefined if none is registered (or it does not become ready). */
async function registration(): Promise<ServiceWorkerRegistration | undefined> {
  const registered = await navigator.serviceWorker.getRegistration();
  if (!registered) return undefined;
  const timeout = new Promise<undefined>((resolve) => window.setTimeout(() => resolve(undefined), SW_READY_TIMEOUT_MS));
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}

/** The same fingerprint as server/delivery/push-subscriptions.ts: SHA-256, base64url, 22 characters. */
async function fingerprint(endpoint: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(endpoint)));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '').slice(0, 22);
}

function applicationServerKey(base64url: string): Uint8Array<ArrayBuffer> {
  const binary = atob(base64url.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function post(action: string, body: unknown): Promise<'ok' | 'signedOut' | 'failed'> {
  const response = await fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
    redirect: 'manual', // no session: the server answers with a redirect to sign-in
  });
  if (response.type === 'opaqueredirect' || response.status === 303) return 'signedOut';
  return response.ok ? 'ok' : 'failed';
}

export function PushOptIn({ data }: { data: PushOptInData }) {
  const t = useT();
  const [state, setState] = useState<State>('checking');
  const [subscribed, setSubscribed] = useState(false);
  const onButton = useRef<HTMLButtonElement>(null);
  const offButton = useRef<HTMLButtonElement>(null);
  const moveFocus = useRef<'on' | 'off' | null>(null);
  const fingerprints = data?.fingerprints.join(',') ?? '';

  useEffect(() => {
    if (!data) return;
    if (!supported()) return setState('unsupported');
    let cancelled = false;
    void (async () => {
      try {
        const reg = await registration();
        if (cancelled) return;
        if (!reg) return setState('unavailable');
        if (Notification.permission === 'denied') return setState('denied');
        const existing = await reg.pushManager.getSubscription();
        const known = existing ? data.fingerprints.includes(await fingerprint(existing.endpoint)) : false;
        if (cancelled) return;
        setSubscribed(known);
        setState(known ? 'on' : 'off');
      } catch {
        if (!cancelled) setState('unavailable');
      }
    })();
    return () => {
      cancelled = true;
    };
    // The fingerprints string stands for the data that matters here.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fingerprints]);

  // Keyboard users keep their place: the button they pressed is replaced by its opposite, which takes the focus.
  useEffect(() => {
    if (moveFocus.current === 'on') onButton.current?.focus();
    if (moveFocus.current === 'off') offButton.current?.focus();
    moveFocus.current = null;
  }, [subscribed]);

  if (!data) return null;

  // aria-disabled rather than disabled while working: a disabled button would drop the keyboard focus.
  async function turnOn() {
    if (!data || state === 'working') return;
    setState('working');
    try {
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') return setState('denied');
      const reg = await registration();
      if (!reg) return setState('unavailable');
      const options = { userVisibleOnly: true, applicationServerKey: applicationServerKey(data.vapidPublicKey) };
      let subscription: PushSubscription;
      try {
        subscription = await reg.pushManager.subscribe(options);
      } catch (error) {
        // A subscription made with an earlier server key must go before a new one can be made.
        if ((error as { name?: string }).name !== 'InvalidStateError') throw error;
        await (await reg.pushManager.getSubscription())?.unsubscribe();
        subscription = await reg.pushManager.subscribe(options);
      }
      const result = await post(data.action, { intent: 'subscribe', subscription: subscription.toJSON() });
      if (result !== 'ok') return setState(result);
      moveFocus.current = 'off';
      setSubscribed(true);
      setState('on');
    } catch {
      setState('failed');
    }
  }

  async function turnOff() {
    if (!data || state === 'working') return;
    setState('working');
    try {
      const reg = await registration();
      const subscription = await reg?.pushManager.getSubscription();
      // Only this organisation's record goes: the browser keeps one subscription per site, which other
      // organisations in this portal may use too, so it is not unsubscribed here.
      if (subscription) {
        const result = await post(data.action, { intent: 'unsubscribe', endpoint: subscription.endpoint });
        if (result !== 'ok') return setState(result);
      }
      moveFocus.current = 'on';
      setSubscribed(false);
      setState('off');
    } catch {
      setState('failed');
    }
  }

  const ready = state === 'on' || state === 'off' || state === 'working' || state === 'failed' || state === 'denied';
  const busy = state === 'working';
  return (
    <section className="card" aria-labelledby="push-heading" aria-busy={busy || undefined}>
      <h2 id="push-heading">{t('push.heading')}</h2>
      <p>{t('push.intro')}</p>
      <p role="status" className="notice">
        {t(STATE_KEYS[state])}
      </p>
      {ready ? (
        <div className="button-row">
          {subscribed ? (
            <button ref={offButton} type="button" className="button button--secondary" onClick={() => void turnOff()} aria-disabled={busy || undefined}>
              {t('push.turnOff')}
            </button>
          ) : (
            <button ref={onButton} type="button" className="button" onClick={() => void turnOn()} aria-disabled={busy || undefined}>
              {t('push.turnOn')}
            </button>
          )}
        </div>
      ) : null}
      {ready ? <p className="field__hint">{t('push.careHint')}</p> : null}
    </section>
  );
}
