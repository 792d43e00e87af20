import { randomBytes } from 'node:crypto';
import type { Page } from '@playwright/test';
import { expect, expectAxeClean, test } from './fixtures';
import { enqueuePortalMessage, removeMessages } from './messages';
import { createE2ePatient, signInThroughUi } from './patients';

// Issue 9: the installable PWA. The service worker precaches only files that are the same for everyone (PW1), and
// signing out leaves nothing of the patient on the device, online or offline (PW2).

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes: Buffer) {
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Waits until the service worker is active and controls this page (the first install claims it). */
async function waitForServiceWorker(page: Page) {
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null), { timeout: 20_000 }).toMatch(/\/sw\.js$/);
}

/** Everything this origin keeps in the browser: Cache Storage (each request URL and response body), IndexedDB, Web Storage. */
async function deviceContents(page: Page) {
  return page.evaluate(async () => {
    const cached: { cache: string; url: string; body: string }[] = [];
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        const response = await cache.match(request);
        cached.push({ cache: name, url: request.url, body: response ? await response.text() : '' });
      }
    }
    const databases: { name: string; stores: Record<string, unknown[]> }[] = [];
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      // Looking must not create: a database deleted meanwhile would come back empty, so its creation is aborted.
      const db = await new Promise<IDBDatabase | null>((resolve) => {
        const open = indexedDB.open(info.name!);
        open.onupgradeneeded = () => open.transaction?.abort();
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => resolve(null);
      });
      if (!db) continue;
      const stores: Record<string, unknown[]> = {};
      for (const store of Array.from(db.objectStoreNames)) {
        stores[store] = await new Promise<unknown[]>((resolve, reject) => {
          const all = db.transaction(store).objectStore(store).getAll();
          all.onsuccess = () => resolve(all.result);
          all.onerror = () => reject(all.error);
        });
      }
      db.close();
      databases.push({ name: info.name, stores });
    }
    const webStorage = JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } });
    return { cached, databases, webStorage };
  });
}

/** What a careless script might keep: Web Storage, a runtime cache and an IndexedDB database, each holding `secret`. */
async function plantLeftovers(page: Page, secret: string) {
  await page.evaluate(async (value) => {
    localStorage.setItem('draft', value);
    sessionStorage.setItem('draft', value);
    await (await caches.open('leftover')).put('/leftover', new Response(value));
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open('leftover-db');
      open.onupgradeneeded = () => open.result.createObjectStore('notes');
      open.onsuccess = () => {
        const tx = open.result.transaction('notes', 'readwrite');
        tx.objectStore('notes').put(value, 'note');
        tx.oncomplete = () => (open.result.close(), resolve());
        tx.onerror = () => reject(tx.error);
      };
    });
  }, secret);
}

test('PWA: the manifest is valid, its icons load, and the service worker is served fresh and controls the page', async ({ page }) => {
  const response = await page.request.get('/manifest.webmanifest');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toContain('application/manifest+json');
  const manifest = (await response.json()) as Record<string, unknown> & { icons: { src: string; sizes: string; type: string; purpose?: string }[] };
  expect(manifest).toMatchObject({ name: 'Carepost', short_name: 'Carepost', start_url: '/', scope: '/', display: 'standalone' });
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/);
  expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/);
  for (const size of [192, 512]) expect(manifest.icons.some((i) => i.sizes === `${size}x${size}` && (i.purpose ?? 'any').includes('any'))).toBe(true);
  expect(manifest.icons.some((i) => i.purpose?.includes('maskable'))).toBe(true);
  for (const icon of manifest.icons) {
    const file = await page.request.get(icon.src);
    expect(file.status(), icon.src).toBe(200);
    expect(file.headers()['content-type']).toBe(icon.type);
    const { width, height } = pngSize(await file.body());
    expect(`${width}x${height}`).toBe(icon.sizes);
  }

  const worker = await page.request.get('/sw.js');
  expect(worker.status()).toBe(200);
  expect(worker.headers()['content-type']).toContain('javascript');
  expect(worker.headers()['cache-control']).toBe('no-cache');

  await page.goto('/');
  await expect(page.locator('head link[rel="manifest"]')).toHaveAttribute('href', '/manifest.webmanifest');
  await waitForServiceWorker(page);
  const registration = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.scope);
  expect(registration).toBe(new URL('/', page.url()).toString());
});

test('PW1, PW2: after reading a message and signing out, Back offline shows the offline page and no cache or database holds PHI', async ({ page, context }) => {
  test.slow();
  const patient = await createE2ePatient();
  const t = randomBytes(4).toString('hex');
  const subject = `Pregnancy test result ${t}`;
  const text = `Your hCG level ${t} confirms the pregnancy.`;
  const phi = [subject, text, t, patient.displayName, patient.email];
  try {
    const messageId = await enqueuePortalMessage(patient, { subject, text });
    await signInThroughUi(page, patient.email);
    await waitForServiceWorker(page);
    await page.goto(`/o/riverside/messages/${messageId}`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
    await expect(page.getByText(text)).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');

    // PW1: reading the message (its page and its data) put nothing in Cache Storage but build files and the offline page.
    const whileSignedIn = await deviceContents(page);
    expect(whileSignedIn.cached.length).toBeGreaterThan(0);
    for (const entry of whileSignedIn.cached) expect(new URL(entry.url).pathname).toMatch(/^\/(build\/|offline\.(html|css)$)/);

    // What a careless script might leave behind. PW2: signing out removes it, even with no network to reach the
    // server (and its Clear-Site-Data): the page clears its own storage as the sign-out is sent.
    await plantLeftovers(page, `${subject} ${text}`);
    await context.setOffline(true);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    // (Precached build files are left out of what is polled: they are the same for everyone, checked below.)
    const personal = async () => {
      const { cached, databases, webStorage } = await deviceContents(page);
      return JSON.stringify({ cached: cached.filter((c) => !c.cache.startsWith('workbox-precache')), databases, webStorage });
    };
    await expect.poll(personal, { timeout: 10_000 }).not.toContain(t);
    const offlineSignOut = await deviceContents(page);
    expect(offlineSignOut.databases).toEqual([]);
    expect(offlineSignOut.cached.map((c) => c.cache)).not.toContain('leftover');

    // Back online the session still exists on the server (the sign-out never arrived): sign out for real.
    await context.setOffline(false);
    await page.goto(`/o/riverside/messages/${messageId}`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
    await plantLeftovers(page, `${subject} ${text}`);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');
    // Clear-Site-Data also removed the service worker; the signed-out page installs it again (precache only).
    await waitForServiceWorker(page);

    // Offline, Back asks for the message page again: the worker answers with the offline page, never a stored copy.
    await context.setOffline(true);
    await page.goBack();
    await expect(page.getByRole('heading', { level: 1, name: 'You are offline' })).toBeVisible();
    await expect(page.getByRole('heading', { level: 2, name: 'Sin conexión' })).toBeVisible();
    expect(page.url()).toContain(`/messages/${messageId}`);
    await expectAxeClean(page);

    const after = await deviceContents(page);
    for (const entry of after.cached) expect(new URL(entry.url).pathname).toMatch(/^\/(build\/|offline\.(html|css)$)/);
    expect(after.databases).toEqual([]);
    const everything = [JSON.stringify(after.cached.map((c) => [c.cache, c.url])), ...after.cached.map((c) => c.body), JSON.stringify(after.databases), after.webStorage];
    for (const secret of phi) for (const held of everything) expect(held, `the device must not hold "${secret}"`).not.toContain(secret);
    expect(await page.content()).not.toContain(t);
  } finally {
    await context.setOffline(false);
    await removeMessages(patient).catch(() => undefined);
    await patient.remove();
  }
});
