// PW2: what the page itself can clear of this origin's storage, so signing out on a shared device leaves nothing of
// the person even when the server (and its Clear-Site-Data header) cannot be reached.
import { SW_MESSAGES } from '../sw/messages';

/** Workbox's precache: the build files and the offline page, the same for everyone, kept so offline still works. */
const isPrecache = (name: string) => name.startsWith('workbox-precache');

export async function clearDeviceStorage(): Promise<void> {
  clearPageStorage();
  // The worker clears what it keeps too (and tells other tabs of this site to clear theirs).
  navigator.serviceWorker?.controller?.postMessage({ type: SW_MESSAGES.clearUserState });
  const work: Promise<unknown>[] = [];
  if ('caches' in window) {
    work.push(caches.keys().then((names) => Promise.all(names.filter((name) => !isPrecache(name)).map((name) => caches.delete(name)))));
  }
  if ('indexedDB' in window && typeof indexedDB.databases === 'function') {
    work.push(indexedDB.databases().then((databases) => Promise.all(databases.map((db) => (db.name ? deleteDatabase(db.name) : undefined)))));
  }
  // A push subscription is this person's too: on a shared device the next person would be told that a message is
  // waiting from this organisation. The server disables the row when the push service answers 404/410 (issue 9).
  if (navigator.serviceWorker) work.push(unsubscribePush());
  await Promise.allSettled(work);
}

async function unsubscribePush(): Promise<void> {
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = await registration?.pushManager?.getSubscription();
  await subscription?.unsubscribe();
}

/** Only the storage a page alone can reach; used when the worker asks a tab to clear (another tab signed out). */
export function clearPageStorage(): void {
  for (const storage of [() => window.localStorage, () => window.sessionStorage]) {
    try {
      storage().clear();
    } catch {
      // Storage disabled by the browser: nothing to clear.
    }
  }
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}

/** A POST to one of these ends a person's use of the device: the patient portal's or the admin console's sign-out. */
export function isSignOutAction(action: string | undefined): boolean {
  if (!action) return false;
  return /^\/(o|admin)\/[^/]+\/sign-out$/.test(new URL(action, 'http://x').pathname);
}

/** The pages a browser lands on after signing out or being signed out by the idle timer (SE2). */
export function isSignedOutPage(pathname: string, search: string): boolean {
  if (/^\/o\/[^/]+\/signed-out$/.test(pathname)) return true;
  return /^\/admin\/[^/]+\/sign-in$/.test(pathname) && new URLSearchParams(search).has('notice');
}
