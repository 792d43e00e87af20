import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressionFor, isCompressible, preferredEncoding, sendCompressed } from '../../server/http/compression';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';

// ADR 023: documents and Remix data are compressed only for requests no other site can have started (Sec-Fetch-Site
// same-origin or none), never for a cross-site or same-site one or one without the header (a BREACH-style length
// oracle), never for HEAD, redirects, 304s or the API. Raw HTTP (node:http), as fetch would decompress silently.
const handle = testDatabase();
let server: Awaited<ReturnType<typeof startTestServer>>;
let slug: string;

beforeAll(async () => {
  server = await startTestServer();
  slug = (await createTestOrganisation(handle, 'Compression Clinic')).slug;
});
afterAll(async () => {
  await server.close();
  await handle.close();
});

type Raw = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

function raw(url: string, headers: Record<string, string>, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const get = (path: string, headers: Record<string, string>, method = 'GET') => raw(`${server.url}${path}`, headers, method);
// The nonce is fresh per response; everything else on a signed-out page is the same for every request.
const withoutNonces = (html: string) => html.replace(/nonce-[A-Za-z0-9+/=]+|nonce="[^"]*"/g, 'nonce');
const decode = (res: Raw) => {
  const encoding = res.headers['content-encoding'];
  const body = encoding === 'br' ? zlib.brotliDecompressSync(res.body) : encoding === 'gzip' ? zlib.gunzipSync(res.body) : res.body;
  return body.toString('utf8');
};

describe('ADR 023: compressed pages only for requests no other site can have started', () => {
  it('a same-origin navigation gets brotli that decompresses to the same page, with Vary on both headers', async () => {
    const page = `/o/${slug}/sign-in`;
    const compressed = await get(page, { 'sec-fetch-site': 'same-origin', 'accept-encoding': 'gzip, deflate, br, zstd' });
    const plain = await get(page, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(compressed.status).toBe(200);
    expect(compressed.headers['content-encoding']).toBe('br');
    expect(compressed.headers['content-type']).toMatch(/^text\/html/);
    expect(compressed.headers['content-length']).toBeUndefined();
    expect(compressed.headers.vary).toMatch(/Sec-Fetch-Site, Accept-Encoding/);
    expect(compressed.headers['cache-control']).toBe('no-store');
    expect(plain.headers['content-encoding']).toBeUndefined();
    const html = decode(compressed);
    expect(html).toMatch(/^<!DOCTYPE html>/);
    // The document, then the loader data Remix streams after it (single fetch), to the last script.
    expect(html).toContain('</html>');
    expect(html).toMatch(/streamController\.close\(\);<\/script>.*<\/script>$/s);
    expect(withoutNonces(html)).toBe(withoutNonces(plain.body.toString('utf8')));
    expect(compressed.body.length).toBeLessThan(plain.body.length / 2);
  });

  it('a typed or bookmarked navigation (Sec-Fetch-Site: none) gets gzip when brotli is not accepted', async () => {
    const res = await get(`/o/${slug}`, { 'sec-fetch-site': 'none', 'accept-encoding': 'gzip, br;q=0' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(decode(res)).toMatch(/streamController\.close\(\);<\/script>.*<\/script>$/s);
  });

  it('a cross-site or same-site request, or one without Sec-Fetch-Site, is never compressed, but says it varies', async () => {
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, {}, { 'sec-fetch-site': 'Same-Origin' }] as Record<string, string>[]) {
      const res = await get(`/o/${slug}/sign-in`, { ...headers, 'accept-encoding': 'gzip, deflate, br' });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding'], JSON.stringify(headers)).toBeUndefined();
      expect(res.headers.vary).toMatch(/Sec-Fetch-Site, Accept-Encoding/);
      expect(res.body.toString('utf8')).toMatch(/^<!DOCTYPE html>/);
    }
  });

  it('HEAD, redirects and the API are never compressed', async () => {
    const headers = { 'sec-fetch-site': 'same-origin', 'accept-encoding': 'gzip, br' };
    const head = await get(`/o/${slug}/sign-in`, headers, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-encoding']).toBeUndefined();
    expect(head.body.length).toBe(0);
    const redirect = await get(`/o/${slug}/messages`, headers);
    expect([302, 303]).toContain(redirect.status);
    expect(redirect.headers.location).toContain('/sign-in');
    expect(redirect.headers['content-encoding']).toBeUndefined();
    const api = await get('/api/v1/openapi.json', headers);
    expect(api.status).toBe(200);
    expect(api.headers['content-encoding']).toBeUndefined();
    expect(api.headers.vary ?? '').not.toContain('Sec-Fetch-Site');
    expect(JSON.parse(api.body.toString('utf8'))).toHaveProperty('openapi');
  });

  it("Remix data for the page's own fetches (same-origin) is compressed too", async () => {
    const res = await get(`/o/${slug}/sign-in.data`, { 'sec-fetch-site': 'same-origin', 'accept-encoding': 'gzip, br' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/x-script/);
    expect(res.headers['content-encoding']).toBe('br');
    expect(decode(res)).toContain('Compression Clinic');
    const crossSite = await get(`/o/${slug}/sign-in.data`, { 'sec-fetch-site': 'cross-site', 'accept-encoding': 'gzip, br' });
    expect(crossSite.headers['content-encoding']).toBeUndefined();
  });

  it('the rule itself: GET only, exact header values, what the client accepts', () => {
    expect(compressionFor({ 'sec-fetch-site': 'same-origin', 'accept-encoding': 'gzip' }, 'GET')).toBe('gzip');
    expect(compressionFor({ 'sec-fetch-site': 'same-origin', 'accept-encoding': 'gzip' }, 'POST')).toBeUndefined();
    expect(compressionFor({ 'sec-fetch-site': 'same-origin', 'accept-encoding': 'gzip' }, 'HEAD')).toBeUndefined();
    expect(compressionFor({ 'sec-fetch-site': 'cross-site', 'accept-encoding': 'gzip' }, 'GET')).toBeUndefined();
    expect(compressionFor({ 'sec-fetch-site': ['same-origin', 'cross-site'], 'accept-encoding': 'gzip' }, 'GET')).toBeUndefined();
    expect(preferredEncoding('gzip, deflate, br')).toBe('br');
    expect(preferredEncoding('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(preferredEncoding('identity')).toBeUndefined();
    expect(preferredEncoding('*')).toBe('br');
    expect(preferredEncoding('*, br;q=0, gzip;q=0')).toBeUndefined();
    expect(preferredEncoding(undefined)).toBeUndefined();
    const html = (status: number) => new Response(status === 304 ? null : 'x', { status, headers: { 'content-type': 'text/html' } });
    expect(isCompressible(html(200))).toBe(true);
    expect(isCompressible(html(404))).toBe(true);
    expect(isCompressible(html(304))).toBe(false);
    expect(isCompressible(html(303))).toBe(false);
    expect(isCompressible(new Response('a,b', { headers: { 'content-type': 'text/csv' } }))).toBe(false);
  });

  it('a streamed body reaches the client part by part: each burst is flushed before the next arrives', async () => {
    let release!: () => void;
    const secondPart = new Promise<void>((resolve) => (release = resolve));
    const app = express();
    app.get('/', (_req, res, next) => {
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('<p>first part</p>'));
          await secondPart;
          controller.enqueue(new TextEncoder().encode('<p>second part</p>'));
          controller.close();
        },
      });
      sendCompressed(res, new Response(body, { headers: { 'content-type': 'text/html' } }), 'gzip').catch(next);
    });
    const listener = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
    try {
      const text = await new Promise<string>((resolve, reject) => {
        http.get(`http://127.0.0.1:${(listener.address() as AddressInfo).port}/`, (res) => {
          expect(res.headers['content-encoding']).toBe('gzip');
          let decoded = '';
          const gunzip = res.pipe(zlib.createGunzip());
          gunzip.on('data', (chunk: Buffer) => {
            decoded += chunk.toString('utf8');
            // The second part is only produced once the first has been decoded by the client.
            if (decoded.includes('first part')) release();
          });
          gunzip.on('end', () => resolve(decoded));
          gunzip.on('error', reject);
        });
      });
      expect(text).toBe('<p>first part</p><p>second part</p>');
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});
