import { useLocation, useNavigation } from '@remix-run/react';
import { useEffect, useRef, useState } from 'react';
import { clearDeviceStorage, clearPageStorage, isSignedOutPage, isSignOutAction } from '../pwa/device-storage';
import { SW_MESSAGES } from '../sw/messages';

const REGISTER_DELAY_MS = 3_000;

const WORDS = {
  en: { ready: 'A new version of Carepost is ready.', reload: 'Reload' },
  es: { ready: 'Hay una nueva versión de Carepost.', reload: 'Recargar' },
} as const;

/**
 * Registers the service worker (public/sw.js, scope "/") once the page has loaded, and tells the patient when a new
 * version is waiting: it takes over only when they choose "Reload" (or when every Carepost tab is closed), so a page
 * never runs against files of another version. PW2: clears the device when the person signs out or is signed out.
 */
export function ServiceWorker() {
  const [waiting, setWaiting] = useState<globalThis.ServiceWorker | null>(null);
  const reloadRequested = useRef(false);
  const navigation = useNavigation();
  const location = useLocation();

  useEffect(() => {
    if (!('serviceWorker' in navigator)) return;
    const container = navigator.serviceWorker;
    let registration: ServiceWorkerRegistration | undefined;
    const offerUpdate = (worker: globalThis.ServiceWorker | null) => {
      // Without a controller this is the first install, not an update: nothing to tell.
      if (worker && container.controller) setWaiting(worker);
    };
    const watch = (worker: globalThis.ServiceWorker | null) => {
      worker?.addEventListener('statechange', () => worker.state === 'installed' && offerUpdate(worker));
    };
    const onControllerChange = () => {
      if (reloadRequested.current) window.location.reload();
      else setWaiting(null); // another tab accepted the update
    };
    const onMessage = (event: MessageEvent) => {
      // Another tab of this site signed out (PW2).
      if ((event.data as { type?: unknown } | null)?.type === SW_MESSAGES.clearUserState) clearPageStorage();
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible') void registration?.update().catch(() => undefined);
    };
    const register = async () => {
      try {
        // updateViaCache 'none': the browser asks the server for /sw.js itself on every check (it is no-cache anyway).
        registration = await container.register('/sw.js', { scope: '/', updateViaCache: 'none' });
      } catch {
        return; // private mode, or a browser that refuses: the site works without it.
      }
      if (!registration) return; // some refusing browsers (and blocked automation) resolve with nothing
      offerUpdate(registration.waiting);
      watch(registration.installing);
      registration.addEventListener('updatefound', () => watch(registration!.installing));
    };
    container.addEventListener('controllerchange', onControllerChange);
    container.addEventListener('message', onMessage);
    document.addEventListener('visibilitychange', onVisible);
    // Well after the load event, when the browser is idle: installing downloads every build file once (about 150 kB),
    // which on a weak connection must not compete with the page the patient is opening or their first taps.
    let timer: number | undefined;
    const later = () => {
      timer = window.setTimeout(() => ('requestIdleCallback' in window ? window.requestIdleCallback(() => void register(), { timeout: 5_000 }) : void register()), REGISTER_DELAY_MS);
    };
    if (document.readyState === 'complete') later();
    else window.addEventListener('load', later, { once: true });
    return () => {
      window.clearTimeout(timer);
      window.removeEventListener('load', later);
      container.removeEventListener('controllerchange', onControllerChange);
      container.removeEventListener('message', onMessage);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, []);

  // PW2: as the sign-out is sent (the button, or the idle timer's submission), before any answer and even offline.
  const signingOut = navigation.state === 'submitting' && isSignOutAction(navigation.formAction);
  useEffect(() => {
    if (signingOut) void clearDeviceStorage();
  }, [signingOut]);
  // And where a sign-out lands (also after one without JavaScript, or one the server ended on its own).
  const signedOutPage = isSignedOutPage(location.pathname, location.search);
  useEffect(() => {
    if (signedOutPage) void clearDeviceStorage();
  }, [signedOutPage]);

  const words = typeof document !== 'undefined' && document.documentElement.lang.startsWith('es') ? WORDS.es : WORDS.en;
  // The live region (polite) is always in the page, so a screen reader hears the notice when it appears; the role
  // is on the notice itself, so an empty region is not a second "status" beside a page's own.
  return (
    <div className="update-notice" aria-live="polite">
      {waiting ? (
        <div className="update-notice__box" role="status">
          <span>{words.ready}</span>
          <button
            className="button"
            type="button"
            onClick={() => {
              reloadRequested.current = true;
              waiting.postMessage({ type: SW_MESSAGES.skipWaiting });
            }}
          >
            {words.reload}
          </button>
        </div>
      ) : null}
    </div>
  );
}
