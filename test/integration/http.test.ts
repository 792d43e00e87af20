import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';

const handle = testDatabase();
let dev: Awaited<ReturnType<typeof startTestServer>>;
let prod: Awaited<ReturnType<typeof startTestServer>>;
let slug: string;

beforeAll(async () => {
  dev = await startTestServer();
  prod = await startTestServer({ production: true });
  slug = (await createTestOrganisation(handle, 'Header Test Clinic')).slug;
});
afterAll(async () => {
  await dev.close();
  await prod.close();
  await handle.close();
});

function cspNonce(csp: string): string {
  const match = /script-src [^;]*'nonce-([^']+)'/.exec(csp);
  if (!match) throw new Error(`no nonce in CSP: ${csp}`);
  return match[1]!;
}

describe('CX2: security headers', () => {
  it('CX2: an HTML page carries an enforced CSP whose nonce is on every inline script and style', async () => {
    const res = await dev.fetch(`/o/${slug}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy-report-only')).toBeNull();
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const nonce = cspNonce(csp);
    expect(Buffer.from(nonce, 'base64').length).toBeGreaterThanOrEqual(16);

    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
    const styles = [...html.matchAll(/<style\b([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    expect(styles.length).toBeGreaterThan(0);
    for (const attrs of [...scripts, ...styles]) {
      expect(attrs).toContain(`nonce="${nonce}"`);
    }
    expect(html).not.toMatch(/\sstyle="/); // inline style attributes would be blocked by the CSP
  });

  it('CX2: every response gets a fresh nonce', async () => {
    const a = cspNonce((await dev.fetch(`/o/${slug}`)).headers.get('content-security-policy')!);
    const b = cspNonce((await dev.fetch(`/o/${slug}`)).headers.get('content-security-policy')!);
    expect(a).not.toBe(b);
  });

  it('CX2: API responses and the API docs page get a fixed policy that allows nothing, with no nonce', async () => {
    for (const path of ['/api/v1/openapi.json', '/api/v1/docs', '/api/v1/consent/preflight']) {
      const res = await dev.fetch(path);
      expect(res.headers.get('content-security-policy'), path).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('cache-control'), path).toBe('no-store');
    }
  });

  it('CX2: nosniff, Referrer-Policy, Permissions-Policy everywhere; HSTS in production only', async () => {
    for (const server of [dev, prod]) {
      const res = await server.fetch('/healthz');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
      expect(res.headers.get('permissions-policy')).toContain('camera=()');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    expect((await prod.fetch('/healthz')).headers.get('strict-transport-security')).toMatch(/max-age=\d{8}/);
    expect((await dev.fetch('/healthz')).headers.get('strict-transport-security')).toBeNull();
  });
});

describe('caching', () => {
  it('PW1: HTML, data and health responses are no-store', async () => {
    for (const pathname of [`/o/${slug}`, `/o/${slug}.data`, '/readyz', '/o/no-such-org']) {
      const res = await dev.fetch(pathname);
      expect(res.headers.get('cache-control'), pathname).toBe('no-store');
    }
  });

  it('fingerprinted build assets are cached immutably', async () => {
    const html = await (await dev.fetch(`/o/${slug}`)).text();
    const asset = /href="(\/build\/[^"]+\.js)"/.exec(html)![1]!;
    const res = await dev.fetch(asset);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('immutable');
  });
});

describe('CX1: cross-site state changes are refused', () => {
  const post = (server: typeof dev, headers: Record<string, string>, method = 'POST') =>
    server.fetch(`/o/${slug}`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'intent=x' });

  it('CX1: a POST from another origin is refused with 403', async () => {
    const res = await post(dev, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/Cross-site request refused/);
  });

  it('CX1: a POST the browser marks cross-site or same-site is refused, even with no Origin', async () => {
    expect((await post(dev, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post(dev, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
  });

  it('CX1: an opaque (null) origin is refused', async () => {
    expect((await post(dev, { origin: 'null' })).status).toBe(403);
  });

  it('CX1: PUT, PATCH and DELETE are checked too', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      expect((await post(dev, { origin: 'https://evil.example' }, method)).status).toBe(403);
    }
  });

  it('CX1: production compares against PUBLIC_URL', async () => {
    expect((await post(prod, { origin: 'http://portal.example.com' })).status).toBe(403);
    const allowed = await post(prod, { origin: 'https://portal.example.com', 'sec-fetch-site': 'same-origin', 'x-forwarded-host': 'portal.example.com' });
    expect(allowed.status).toBe(405); // through to Remix, which has no action on this page
  });

  it('CX1: a same-origin POST gets through to the application', async () => {
    const res = await post(dev, { origin: 'http://localhost:3999', 'sec-fetch-site': 'same-origin', 'x-forwarded-host': 'localhost:3999' });
    expect(res.status).toBe(405); // through to Remix, which has no action on this page
  });

  it('CX1: a cross-site GET is still served (GET never changes state)', async () => {
    const res = await dev.fetch(`/o/${slug}`, { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(res.status).toBe(200);
  });
});

describe('health', () => {
  it('/healthz answers 200 without touching the database', async () => {
    const res = await dev.fetch('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when the database is reachable and migrated', async () => {
    const res = await dev.fetch('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready' });
  });

  it('/readyz answers 503 when migrations are pending', async () => {
    const admin = postgres(inject('databaseUrl'), { max: 1 });
    const name = `unmigrated_${randomBytes(4).toString('hex')}`;
    await admin.unsafe(`create database "${name}"`);
    const server = await startTestServer({ databaseUrl: inject('databaseUrlTemplate').replace('{db}', name) });
    try {
      const res = await server.fetch('/readyz');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'not_ready', reason: 'migrations_pending' });
    } finally {
      await server.close();
      await admin.unsafe(`drop database "${name}" with (force)`);
      await admin.end();
    }
  });

  it('/readyz answers 503 when the database is unreachable, without leaking the error', async () => {
    const server = await startTestServer({ databaseUrl: 'postgres://nobody:secret-password@127.0.0.1:1/none' });
    try {
      const res = await server.fetch('/readyz');
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ status: 'not_ready', reason: 'database_unreachable' });
      expect(server.logLines.join('\n')).not.toContain('secret-password');
    } finally {
      await server.close();
    }
  });
});

describe('organisation pages', () => {
  it('an unknown organisation is a clear 404', async () => {
    const res = await dev.fetch('/o/no-such-org');
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('Provider not found');
  });

  it('a malformed slug is a 404, not an error', async () => {
    const res = await dev.fetch('/o/..%2F..%2Fetc');
    expect(res.status).toBe(404);
  });

  it('the landing page shows the organisation name from the database', async () => {
    const html = await (await dev.fetch(`/o/${slug}`)).text();
    expect(html).toContain('Header Test Clinic');
    expect(html).toContain('--brand:#336699');
  });
});

describe('dev mailbox and logs', () => {
  it('/dev/mail is a 404 in production', async () => {
    for (const pathname of ['/dev/mail', '/dev/mail/00000000000001-deadbeef', '/dev/mail/00000000000001-deadbeef/raw']) {
      expect((await prod.fetch(pathname)).status, pathname).toBe(404);
    }
  });

  it('/dev/mail refuses ids that are not mail ids (no path traversal)', async () => {
    fs.mkdirSync(path.join(dev.dataDir, 'mail'), { recursive: true });
    fs.writeFileSync(path.join(dev.dataDir, 'secrets-copy.eml'), 'x');
    expect((await dev.fetch('/dev/mail/..%2Fsecrets-copy/raw')).status).toBe(404);
    expect((await dev.fetch('/dev/mail')).status).toBe(200);
  });

  it('request logs carry no query string, cookie or body', async () => {
    await dev.fetch(`/o/${slug}?token=super-secret-token-value`, { headers: { cookie: 'session=cookie-secret-value' } });
    await dev.fetch(`/o/${slug}`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'code=123456',
    });
    const log = dev.logLines.join('\n');
    expect(log).toContain(`"path":"/o/${slug}"`);
    expect(log).not.toContain('super-secret-token-value');
    expect(log).not.toContain('cookie-secret-value');
    expect(log).not.toContain('123456');
  });

  it('long token-like path segments are masked in logs', async () => {
    const token = randomBytes(40).toString('base64url');
    await dev.fetch(`/p/${token}`);
    const log = dev.logLines.join('\n');
    expect(log).not.toContain(token);
    expect(log).toContain('"path":"/p/:token"');
  });
});
