// The service worker's routing rules as a pure function, so they are tested without a browser (PW1).

/** The page shown for a navigation that cannot reach the server. Static, the same for everyone, no PHI. */
export const OFFLINE_URL = '/offline.html';
/** What the offline page needs besides itself; precached with it. */
export const OFFLINE_ASSETS = [OFFLINE_URL, '/offline.css'] as const;

/**
 * - `precache`: answered from the precache (fingerprinted build files and the offline page), network if missing.
 * - `navigation`: network only; when the network fails, the precached offline page. The response is never stored.
 * - `network-only`: not intercepted at all: the browser fetches it and nothing of it reaches Cache Storage.
 */
export type Strategy = 'precache' | 'navigation' | 'network-only';

type RequestFacts = { method: string; mode: string };

/** PW1: only files that are the same for every patient are ever served from, or written to, Cache Storage. */
export function strategyFor(url: URL, request: RequestFacts, origin: string): Strategy {
  if (request.method !== 'GET' || url.origin !== origin) return 'network-only';
  // Loader and action data (single fetch `*.data`, or `?_data=`) is PHI whatever the path.
  if (url.pathname.endsWith('.data') || url.searchParams.has('_data')) return 'network-only';
  if (request.mode === 'navigate') return isPrecached(url) ? 'precache' : 'navigation';
  return isPrecached(url) ? 'precache' : 'network-only';
}

/** Build files carry a content hash in their name (public/build/**); a query string means something else. */
function isPrecached(url: URL): boolean {
  if (url.search !== '') return false;
  if (url.pathname.startsWith('/build/')) return !url.pathname.includes('..');
  return (OFFLINE_ASSETS as readonly string[]).includes(url.pathname);
}

/** PW2: a POST to a sign-out route (patient or admin, with or without JavaScript) ends the person's use of this device. */
export function isSignOut(url: URL, request: RequestFacts, origin: string): boolean {
  if (request.method !== 'POST' || url.origin !== origin) return false;
  return /^\/(o|admin)\/[^/]+\/sign-out(\.data)?$/.test(url.pathname);
}
