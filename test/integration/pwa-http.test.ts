import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';

// The PWA's files over real HTTP (after `npm run build`): how each is cached and compressed.
const handle = testDatabase();
let server: Awaited<ReturnType<typeof startTestServer>>;
let slug: string;

beforeAll(async () => {
  server = await startTestServer();
  slug = (await createTestOrganisation(handle, 'PWA Header Clinic')).slug;
});
afterAll(async () => {
  await server.close();
  await handle.close();
});

describe('PWA files', () => {
  it('the service worker is revalidated on every check, for the whole site', async () => {
    const res = await server.fetch('/sw.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('service-worker-allowed')).toBe('/');
    expect(await res.text()).toContain('/offline.html');
  });

  it('the manifest and offline page are revalidated; icons are cached for an hour', async () => {
    const manifest = await server.fetch('/manifest.webmanifest');
    expect(manifest.headers.get('content-type')).toContain('application/manifest+json');
    expect(manifest.headers.get('cache-control')).toBe('no-cache');
    expect((await server.fetch('/offline.html')).headers.get('cache-control')).toBe('no-cache');
    const icon = await server.fetch('/icons/icon-192.png');
    expect(icon.headers.get('content-type')).toBe('image/png');
    expect(icon.headers.get('cache-control')).toBe('public, max-age=3600');
  });

  it('build files are sent precompressed (brotli, else gzip) with their own type, cached for a year', async () => {
    const html = await (await server.fetch(`/o/${slug}`)).text();
    // The route manifest: large enough to be compressed (files under 1 kB are not).
    const asset = /"(\/build\/manifest-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    for (const [accept, encoding] of [
      ['gzip, deflate, br', 'br'],
      ['gzip', 'gzip'],
      // Weights count (RFC 9110): a refused brotli is not sent because "br" appears in the header.
      ['br;q=0, gzip', 'gzip'],
      ['BR;Q=0.5, gzip;q=0', 'br'],
      ['*', 'br'],
      ['*;q=0, gzip', 'gzip'],
    ] as const) {
      const res = await server.fetch(asset!, { headers: { 'accept-encoding': accept } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBe(encoding);
      expect(res.headers.get('content-type')).toMatch(/^(application|text)\/javascript/);
      expect(res.headers.get('cache-control')).toContain('immutable');
      expect(res.headers.get('vary')).toContain('Accept-Encoding');
      expect(await res.text()).toContain('window.__remixManifest');
    }
    for (const accept of ['identity', 'br;q=0, gzip;q=0', 'br;q=0,gzip;q=0.000']) {
      const plain = await server.fetch(asset!, { headers: { 'accept-encoding': accept } });
      expect(plain.headers.get('content-encoding')).toBeNull();
      expect(await plain.text()).toContain('window.__remixManifest');
    }
  });

  // Compressed only for a request with Sec-Fetch-Site same-origin or none (ADR 023, compression-http.test.ts).
  it('PW1: pages are never cached, nor compressed for a request that does not say who started it (they may carry PHI)', async () => {
    const res = await server.fetch(`/o/${slug}`, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('a path that climbs out of public/ is not served', async () => {
    const res = await server.fetch('/build/..%2F..%2Fpackage.json', { headers: { 'accept-encoding': 'br' } });
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.text()).not.toContain('"dependencies"');
  });
});
