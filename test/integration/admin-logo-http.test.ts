// Logo upload in the admin settings (issue 8, ADR 016): malicious SVG is stripped or refused, a good logo is stored
// and served from the logo route with a CSP that runs and loads nothing and nosniff; too big or not SVG is a 400
// with a field error and nothing changes; owners only (EN3).
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, organisations } from '../../db/schema/index';
import { MAX_LOGO_BYTES, sanitiseLogoSvg } from '../../server/orgs/logo';
import { createTestAdmin } from '../support/admin';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  dev = await startTestServer();
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const GOOD = `<?xml version="1.0" encoding="UTF-8"?>
<!-- exported by an editor -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 64 64" role="img" aria-label="Lakeside">
  <defs><linearGradient id="sky"><stop offset="0" stop-color="#1f5f8b"/><stop offset="1" stop-color="#9cc"/></linearGradient></defs>
  <title>Lakeside Clinic</title>
  <circle cx="32" cy="32" r="30" fill="url(#sky)" style="stroke: #123456; stroke-width: 2"/>
  <use xlink:href="#sky"/>
  <text x="32" y="40" text-anchor="middle" font-family="Georgia, 'Times New Roman', serif">L</text>
</svg>`;

const svg = (inner: string, attrs = '') => `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"${attrs}>${inner}<rect width="4" height="4" fill="#123"/></svg>`;
const check = (text: string) => sanitiseLogoSvg(new TextEncoder().encode(text));
const kept = (text: string) => {
  const result = check(text);
  if (!result.ok) throw new Error(`refused: ${result.error}`);
  expect(result.svg).toContain('<rect width="4" height="4" fill="#123">'); // the harmless part survives
  return result.svg;
};

describe('SVG logo sanitiser', () => {
  it('CX3: strips script, event handlers, javascript: and external references, foreignObject, images, style elements and CSS url()', () => {
    const samples: [string, string, RegExp][] = [
      ['script', svg('<script>alert(1)</script><script type="text/ecmascript"><![CDATA[alert(2)]]></script>'), /script|alert/i],
      ['onload', svg('<g onclick="alert(2)" ONMOUSEOVER="alert(3)"><path d="M0 0"/></g>', ' onload="alert(1)"'), /on\w+=|alert/i],
      ['javascript: href', svg('<a href="javascript:alert(1)"><path d="M0 0"/></a><use href="javascript:alert(1)"/><use xlink:href="data:image/svg+xml;base64,PHN2Zz4="/>'), /javascript|data:|<a[\s>]/i],
      ['external image', svg('<image href="https://tracker.example/p.png" width="1" height="1"/><use href="https://evil.example/s.svg#a"/>'), /tracker|evil|<image/i],
      ['foreignObject', svg('<foreignObject width="9" height="9"><body xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="alert(1)"/></body></foreignObject>'), /foreignObject|body|onerror|img/i],
      ['CSS url()', svg('<style>@import url(https://evil.example/x.css); rect { fill: url(https://evil.example/a) }</style><circle r="1" style="fill: url(https://evil.example/f.svg#a)"/><path d="M0 0" fill="url(https://evil.example/p#x)" filter="url(http://evil.example/f)"/><circle r="2" style="fill: u\\72l(https://evil.example/)"/>'), /evil|@import|<style|\\72/i],
      ['animation', svg('<path d="M0 0"><set attributeName="onmouseover" to="alert(1)"/><animate attributeName="href" values="javascript:alert(1)"/></path>'), /<set|<animate|alert/i],
      ['processing instruction', svg('<?xml-stylesheet href="https://evil.example/x.css"?>'), /evil|xml-stylesheet/i],
      ['foreign namespace', `<svg xmlns="http://evil.example/ns"><rect width="4" height="4" fill="#123"/></svg>`, /evil/],
    ];
    for (const [name, input, bad] of samples) expect(kept(input), name).not.toMatch(bad);
  });

  it('refuses a DOCTYPE or entity declarations outright (billion laughs, external entities), and what is not SVG', () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>`;
    const external = `<!doctype svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>`;
    for (const input of [laughs, external]) expect(check(input)).toEqual({ ok: false, error: expect.stringContaining('DOCTYPE') });
    expect(check('<html><body>not a logo</body></html>')).toMatchObject({ ok: false });
    expect(check('')).toMatchObject({ ok: false });
    expect(sanitiseLogoSvg(new Uint8Array([0xff, 0xfe, 0x00]))).toMatchObject({ ok: false });
    expect(sanitiseLogoSvg(new Uint8Array(MAX_LOGO_BYTES + 1).fill(32))).toEqual({ ok: false, error: 'The logo must be 100 KB or smaller.' });
  });

  it('keeps a good logo: shapes, gradients, local references, safe inline styles and text', () => {
    const result = check(GOOD);
    expect(result.ok).toBe(true);
    const out = (result as { svg: string }).svg;
    for (const part of ['viewBox="0 0 64 64"', '<linearGradient id="sky">', 'fill="url(#sky)"', 'style="stroke:#123456;stroke-width:2"', 'xlink:href="#sky"', '<title>Lakeside Clinic</title>', '>L</text>']) {
      expect(out).toContain(part);
    }
    expect(out.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });
});

describe('logo upload on the settings page', () => {
  const upload = (slug: string, cookie: string, content: string | Uint8Array, filename = 'logo.svg') => {
    const form = new FormData();
    form.append('logo', new Blob([content as BlobPart], { type: 'image/svg+xml' }), filename);
    return dev.fetch(`/admin/${slug}/settings?index`, { method: 'POST', headers: { origin: 'http://localhost:3999', 'x-forwarded-host': 'localhost:3999', cookie }, body: form });
  };
  const logoOf = async (orgId: string) => (await db.select({ logoSvg: organisations.logoSvg }).from(organisations).where(eq(organisations.id, orgId)))[0]!.logoSvg;

  it('an owner uploads a logo with a script: it is stored sanitised, audited, and served as an image with a CSP that runs nothing and nosniff', async () => {
    const org = await createTestOrganisation(handle, 'Logo Clinic');
    const owner = await createTestAdmin(db, org.id, 'owner');
    const res = await upload(org.slug, owner.cookie, GOOD.replace('</svg>', '<script>alert(1)</script></svg>'));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/admin/${org.slug}/settings?logo=saved`);
    const stored = await logoOf(org.id);
    expect(stored).toContain('<title>Lakeside Clinic</title>');
    expect(stored).not.toContain('script');

    const served = await dev.fetch(`/o/${org.slug}/logo.svg`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/svg+xml');
    // One policy only (not the page policy besides it), one nosniff.
    expect(served.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'; sandbox");
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('cache-control')).toBe('public, max-age=300');
    expect(await served.text()).toBe(stored);
    const settings = await (await dev.fetch(`/admin/${org.slug}/settings`, { headers: { cookie: owner.cookie } })).text();
    expect(settings).toMatch(new RegExp(`src="/o/${org.slug}/logo.svg\\?v=[\\w-]{10}"`));

    const [event] = await db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id)).then((rows) => rows.filter((r) => r.action === 'organisation.logo_changed'));
    expect(event).toMatchObject({ actorType: 'admin', actorId: owner.adminId });
    expect(JSON.stringify(event!.details)).not.toContain('svg');
  });

  it('a DOCTYPE, a file that is not SVG, an empty upload and a file over 100 KB are refused with a field error, and the logo is unchanged', async () => {
    const org = await createTestOrganisation(handle, 'Logo Refusals');
    const owner = await createTestAdmin(db, org.id, 'owner');
    expect((await upload(org.slug, owner.cookie, GOOD)).status).toBe(303);
    const before = await logoOf(org.id);
    const cases: [string | Uint8Array, number, string][] = [
      ['<!DOCTYPE svg [<!ENTITY a "x">]><svg xmlns="http://www.w3.org/2000/svg"/>', 400, 'DOCTYPE'],
      ['GIF89a not an image we take', 400, 'must start with &lt;svg&gt;'],
      ['', 400, 'Choose an SVG file.'],
      [svg(`<desc>${'x'.repeat(MAX_LOGO_BYTES)}</desc>`), 413, 'The logo must be 100 KB or smaller.'],
    ];
    for (const [content, status, words] of cases) {
      const res = await upload(org.slug, owner.cookie, content);
      expect(res.status, words).toBe(status);
      const html = await res.text();
      expect(html).toContain('id="logo-error"');
      expect(html).toContain(words);
      expect(html).toContain('aria-describedby="logo-hint logo-error"');
    }
    expect(await logoOf(org.id)).toBe(before);

    const removed = await dev.fetch(`/admin/${org.slug}/settings?index`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3999', 'x-forwarded-host': 'localhost:3999', cookie: owner.cookie },
      body: 'intent=remove_logo',
    });
    expect(removed.status).toBe(303);
    expect(await logoOf(org.id)).toBeNull();
    expect((await dev.fetch(`/o/${org.slug}/logo.svg`)).status).toBe(404);
  });

  it('EN3: compliance, marketer and support cannot upload or remove a logo (403), and nothing changes', async () => {
    const org = await createTestOrganisation(handle, 'Logo Roles');
    for (const role of ['compliance', 'marketer', 'support'] as const) {
      const admin = await createTestAdmin(db, org.id, role);
      expect((await upload(org.slug, admin.cookie, GOOD)).status, role).toBe(403);
    }
    expect(await logoOf(org.id)).toBeNull();
  });
});
