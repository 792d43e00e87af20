import { generateKeyPairSync, randomUUID } from 'node:crypto';
// The DKIM verifier alone: mailauth's main entry loads its BIMI code, whose bundled undici needs Node 22.
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMail, messageIdFor } from '../../server/delivery/compose';
import { createMxTransport } from '../../server/delivery/tls';
import { createSmtpTransport, type DkimOptions, type MailTransport } from '../../server/delivery/transport';
import { startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp-sink';
import { makeCertificate, type TestCertificate } from '../support/tls-certs';

const DOMAIN = 'mail.clinic.test';
const SELECTOR = 's2030';

let sink: SmtpSink;
let tlsSink: SmtpSink;
let cert: TestCertificate;
let dkim: DkimOptions;
let dkimRecord: string;

// A token as long as a real signed link (ADR 005: about 300 characters), with characters that need escaping in HTML.
const unsubscribeHttps = `https://portal.example.com/o/riverside/u/${'eyJhbGciOiJIUzI1NiJ9.'.repeat(14)}sig?src=email&t=1`;
const unsubscribeMailto = 'mailto:unsubscribe+d1@mail.clinic.test?subject=unsubscribe';

beforeAll(async () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  dkim = { domainName: DOMAIN, keySelector: SELECTOR, privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
  dkimRecord = `v=DKIM1; k=rsa; p=${keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  cert = await makeCertificate('mx.patient.test');
  [sink, tlsSink] = await Promise.all([startSmtpSink(), startSmtpSink({ tls: cert })]);
});
afterAll(async () => {
  await Promise.all([sink?.close(), tlsSink?.close()]);
});

/** DNS for mailauth, answering only our key record. */
async function dkimDns(name: string, type: string): Promise<string[][]> {
  if (type === 'TXT' && name === `${SELECTOR}._domainkey.${DOMAIN}`) return [[dkimRecord]];
  throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
}

async function sendAndReceive(transport: MailTransport, mail: Parameters<MailTransport['send']>[0], into: SmtpSink = sink): Promise<ReceivedMail> {
  const before = into.received.length;
  try {
    await transport.send(mail);
  } finally {
    await transport.close?.();
  }
  expect(into.received.length).toBe(before + 1);
  return into.received.at(-1)!;
}

function marketingMail(deliveryId = randomUUID()) {
  return composeMail({
    from: 'Riverside Clinic <news@mail.clinic.test>',
    to: 'maria@example.com',
    subject: 'Wellness tips for winter',
    text: 'Stay warm and keep moving.\n',
    html: '<!doctype html><html><body><h1>Wellness tips</h1><p>Stay warm &amp; keep moving.</p></body></html>',
    deliveryId,
    domain: DOMAIN,
    unsubscribe: { https: unsubscribeHttps, mailto: unsubscribeMailto },
  });
}

function headerValues(mail: ReceivedMail, name: string): string[] {
  return mail.parsed.headerLines
    .filter((h) => h.key === name)
    .map((h) => h.line.slice(h.line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim());
}

describe('EM1: marketing mail carries one-click unsubscribe', () => {
  it('EM1: as received, one List-Unsubscribe header with both URIs, List-Unsubscribe-Post, and the visible link in both parts', async () => {
    const received = await sendAndReceive(createSmtpTransport(sink.url, { pool: false }), marketingMail());

    const unsubscribe = headerValues(received, 'list-unsubscribe');
    expect(unsubscribe).toHaveLength(1);
    // Folding may insert whitespace between the two URIs only; unfolded, it is exactly what was set.
    expect(unsubscribe[0]!.replace(/,\s+/, ', ')).toBe(`<${unsubscribeHttps}>, <${unsubscribeMailto}>`);
    expect(headerValues(received, 'list-unsubscribe-post')).toEqual(['List-Unsubscribe=One-Click']);

    expect(received.parsed.text).toContain('Stay warm and keep moving.');
    expect(received.parsed.text).toContain(unsubscribeHttps);
    const html = received.parsed.html as string;
    expect(html).toContain(`<a href="${unsubscribeHttps.replace(/&/g, '&amp;')}">unsubscribe here</a>`);
    expect(html).not.toContain(`href="${unsubscribeHttps}"`); // the raw & would be a parse error in HTML
    // The footer sits inside the body, after the content.
    expect(html.indexOf('unsubscribe here')).toBeGreaterThan(html.indexOf('keep moving'));
    expect(html.indexOf('unsubscribe here')).toBeLessThan(html.indexOf('</body>'));
  });

  it('EM1: care messages get no unsubscribe header and no footer; HTML without a body element gets the footer at the end', () => {
    const care = composeMail({ from: 'a@mail.clinic.test', to: 'b@example.com', subject: 's', text: 'Your appointment is at 10:00.', html: '<p>Your appointment</p>', deliveryId: 'd1', domain: DOMAIN });
    expect(care.headers).toBeUndefined();
    expect(care.text).toBe('Your appointment is at 10:00.');
    expect(care.html).toBe('<p>Your appointment</p>');

    const fragment = composeMail({
      from: 'a@mail.clinic.test',
      to: 'b@example.com',
      subject: 's',
      text: 't',
      html: '<p>News</p>',
      deliveryId: 'd2',
      domain: DOMAIN,
      unsubscribe: { https: "https://portal.example.com/u/it's", mailto: 'mailto:u@mail.clinic.test' },
    });
    expect(fragment.html).toMatch(/^<p>News<\/p>\n<p [^>]*>To stop these emails, <a href="https:\/\/portal\.example\.com\/u\/it&#39;s">unsubscribe here<\/a>\.<\/p>$/);
    expect(fragment.headers).toEqual({ 'List-Unsubscribe': "<https://portal.example.com/u/it's>, <mailto:u@mail.clinic.test>", 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
  });

  it('EM1: links that could break the header are refused', () => {
    const base = { from: 'a@mail.clinic.test', to: 'b@example.com', subject: 's', text: 't', deliveryId: 'd3', domain: DOMAIN };
    const bad = [
      { https: 'http://portal.example.com/u/x', mailto: 'mailto:u@mail.clinic.test' },
      { https: 'https://portal.example.com/u/x>, <https://evil.example', mailto: 'mailto:u@mail.clinic.test' },
      { https: 'https://portal.example.com/u/x\r\nBcc: victim@example.com', mailto: 'mailto:u@mail.clinic.test' },
      { https: 'https://portal.example.com/u/x', mailto: 'https://not-mail.example' },
      { https: 'https://portal.example.com/u/x', mailto: 'mailto:u@mail.clinic.test\r\nX: y' },
    ];
    for (const unsubscribe of bad) expect(() => composeMail({ ...base, unsubscribe }), JSON.stringify(unsubscribe)).toThrow(/composeMail/);
    // A development server on this machine (production refuses an http PUBLIC_URL): its mail only reaches the local catcher.
    expect(() => composeMail({ ...base, unsubscribe: { https: 'http://localhost:3000/o/x/u/t', mailto: 'mailto:u@localhost.test' } })).not.toThrow();
  });
});

describe('EM3: DKIM covers the List-* headers', () => {
  it('EM3: the received message verifies with mailauth, and h= names list-unsubscribe and list-unsubscribe-post', async () => {
    const received = await sendAndReceive(createSmtpTransport(sink.url, { pool: false, dkim }), marketingMail());
    const verdict = await dkimVerify(received.raw, { resolver: dkimDns });
    expect(verdict.results).toHaveLength(1);
    const [result] = verdict.results;
    expect(result!.status.result).toBe('pass');
    expect(result!.signingDomain).toBe(DOMAIN);
    expect(result!.selector).toBe(SELECTOR);
    const signed = result!.signingHeaders!.keys.toLowerCase().split(':').map((k) => k.trim());
    expect(signed).toEqual(expect.arrayContaining(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type', 'list-unsubscribe', 'list-unsubscribe-post']));
  });

  it('EM3: a tampered List-Unsubscribe or List-Unsubscribe-Post fails verification', async () => {
    const received = await sendAndReceive(createSmtpTransport(sink.url, { pool: false, dkim }), marketingMail());
    const raw = received.raw.toString('latin1');
    expect((await dkimVerify(Buffer.from(raw, 'latin1'), { resolver: dkimDns })).results[0]!.status.result).toBe('pass');

    const swapped = raw.replace('https://portal.example.com/', 'https://attacker.example/');
    expect(swapped).not.toBe(raw);
    expect((await dkimVerify(Buffer.from(swapped, 'latin1'), { resolver: dkimDns })).results[0]!.status.result).toBe('fail');

    const noPost = raw.replace('List-Unsubscribe=One-Click', 'List-Unsubscribe=Two-Clicks');
    expect(noPost).not.toBe(raw);
    expect((await dkimVerify(Buffer.from(noPost, 'latin1'), { resolver: dkimDns })).results[0]!.status.result).toBe('fail');
  });

  it('EM3: without a key the mail goes unsigned; the MX transport signs with the same option', async () => {
    const unsigned = await sendAndReceive(createSmtpTransport(sink.url, { pool: false }), marketingMail());
    expect(unsigned.parsed.headers.has('dkim-signature')).toBe(false);

    const mx = createMxTransport({
      resolver: async () => [{ host: 'mx.patient.test', port: tlsSink.port, address: '127.0.0.1' }],
      ca: cert.cert,
      timeoutMs: 5000,
      dkim,
    });
    const received = await sendAndReceive(mx, marketingMail(), tlsSink);
    expect(received.secure).toBe(true);
    expect((await dkimVerify(received.raw, { resolver: dkimDns })).results[0]!.status.result).toBe('pass');
  });
});

describe('DL2: the Message-ID is derived from the delivery', () => {
  it('DL2: the Message-ID received equals messageIdFor(deliveryId), the same on every attempt', async () => {
    const deliveryId = randomUUID();
    const expected = messageIdFor(deliveryId, DOMAIN);
    expect(expected).toBe(`<${deliveryId}@${DOMAIN}>`);
    const first = await sendAndReceive(createSmtpTransport(sink.url, { pool: false, dkim }), marketingMail(deliveryId));
    const retry = await sendAndReceive(createSmtpTransport(sink.url, { pool: false, dkim }), marketingMail(deliveryId));
    expect(first.parsed.messageId).toBe(expected);
    expect(retry.parsed.messageId).toBe(expected);
    expect(headerValues(first, 'message-id')).toEqual([expected]);
  });

  it('DL2: messageIdFor refuses what cannot be a Message-ID', () => {
    expect(messageIdFor('abc', 'Mail.Clinic.TEST')).toBe('<abc@mail.clinic.test>');
    for (const [id, domain] of [
      ['', DOMAIN],
      ['a b', DOMAIN],
      ['a>b', DOMAIN],
      ['a@b', DOMAIN],
      ['abc', 'not a domain'],
      ['abc', ''],
    ] as const) {
      expect(() => messageIdFor(id, domain), `${id}@${domain}`).toThrow(/messageIdFor/);
    }
  });
});
