/// <reference lib="webworker" />
// The service worker (issue 9), bundled by scripts/build-sw.ts into public/sw.js after `remix build`; Workbox's
// injectManifest puts the list of fingerprinted build files into self.__WB_MANIFEST.
import { cacheNames } from 'workbox-core';
import { enable as enableNavigationPreload } from 'workbox-navigation-preload';
import { cleanupOutdatedCaches, matchPrecache, precache } from 'workbox-precaching';
import { isSignOut, OFFLINE_URL, strategyFor } from './routing';
import { SW_MESSAGES } from './messages';
import { installPushHandlers } from './push';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string; revision: string | null }> };

// PW1: the precache holds only what injectManifest listed (public/build/** and the offline page), nothing per patient.
precache(self.__WB_MANIFEST);
cleanupOutdatedCaches();
// Navigations go to the network while the worker starts, so it adds no delay to a page load.
enableNavigationPreload();

self.addEventListener('install', () => {
  // No skipWaiting here: a new version waits until the page agrees (the "new version" notice) or every tab is closed.
});

self.addEventListener('activate', (event) => {
  // The first version takes the open page at once; later versions only get here after the page asked for it.
  event.waitUntil(self.clients.claim());
});

self.addEventListener('message', (event) => {
  const type = (event.data as { type?: unknown } | null)?.type;
  if (type === SW_MESSAGES.skipWaiting) void self.skipWaiting();
  if (type === SW_MESSAGES.clearUserState) event.waitUntil(clearUserState());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  // PW2: signing out (by the button, without JavaScript, or by the idle timer) clears this device even offline.
  // Not answered here: the POST itself goes to the server untouched.
  if (isSignOut(url, event.request, self.location.origin)) {
    event.waitUntil(clearUserState());
    return;
  }
  const strategy = strategyFor(url, event.request, self.location.origin);
  if (strategy === 'precache') event.respondWith(fromPrecache(event.request));
  else if (strategy === 'navigation') event.respondWith(navigate(event));
  // 'network-only': not intercepted, so the browser fetches it itself and nothing of it is stored (PW1).
});

async function fromPrecache(request: Request): Promise<Response> {
  return (await matchPrecache(request.url)) ?? fetch(request);
}

/** Network only (PW1); the precached offline page when there is no network. */
async function navigate(event: FetchEvent): Promise<Response> {
  try {
    const preloaded = (await event.preloadResponse) as Response | undefined;
    return preloaded ?? (await fetch(event.request));
  } catch {
    return (await matchPrecache(OFFLINE_URL)) ?? Response.error();
  }
}

/**
 * PW2: everything this origin keeps for a person, except the precache (the same files for everyone). The server's
 * Clear-Site-Data does the same and more when it can be reached; this also works offline.
 */
async function clearUserState(): Promise<void> {
  const names = await caches.keys();
  await Promise.all(names.filter((name) => name !== cacheNames.precache).map((name) => caches.delete(name)));
  const databases = 'databases' in indexedDB ? await indexedDB.databases() : [];
  await Promise.all(databases.map((db) => (db.name ? deleteDatabase(db.name) : Promise.resolve())));
  // The pages clear their own localStorage and sessionStorage, which a worker cannot reach.
  for (const client of await self.clients.matchAll({ includeUncontrolled: true })) client.postMessage({ type: SW_MESSAGES.clearUserState });
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}

// ─── Web push ────────────────────────────────────────────────────────────────────────────────────────────────────
// The push and notificationclick handlers (app/sw/push.ts): the PHI-free notice, and same-origin navigation on click.
installPushHandlers(self);
