import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import {
  addTlsEnforcedDomain,
  createMxTransport,
  createProbe,
  isTlsEnforced,
  listTlsEnforcedDomains,
  probeDomain,
  removeTlsEnforcedDomain,
  tlsCapability,
  tlsDecision,
  type MxRecord,
  type MxResolver,
} from '../../server/delivery/tls';
import { TransportError } from '../../server/delivery/transport';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { makeCertificate, type TestCertificate } from '../support/tls-certs';

const handle = testDatabase();

let goodCert: TestCertificate;
let otherCert: TestCertificate;
/** STARTTLS with a certificate for mx.good.test. */
let good: SmtpSink;
/** No STARTTLS at all. */
let plain: SmtpSink;
/** STARTTLS, but the certificate is for mx.other.test (trusted, wrong name). */
let wrongName: SmtpSink;
/** STARTTLS and a good certificate, but RCPT is answered 550 / 451. */
let rejecting: SmtpSink;
let deferring: SmtpSink;
/** Accepts TCP and never says a word. */
let silent: net.Server;
let silentPort: number;
let ca: string[];

// Test domains never reach DNS: the first label names the server (`good-<random>.test` goes to the good sink).
const resolver: MxResolver = async (domain) => {
  const kind = domain.split('.')[0]!.split('-')[0]!;
  const at = (host: string, port: number): MxRecord => ({ host, port, address: '127.0.0.1' });
  switch (kind) {
    case 'good':
      return [at('mx.good.test', good.port)];
    case 'plain':
      return [at('mx.plain.test', plain.port)];
    case 'wrong':
      return [at('mx.wrong.test', wrongName.port)];
    case 'reject':
      return [at('mx.good.test', rejecting.port)];
    case 'defer':
      return [at('mx.good.test', deferring.port)];
    case 'fallback':
      return [at('mx1.fallback.test', 1), at('mx.good.test', good.port)];
    case 'closed':
      return [at('mx.closed.test', 1)];
    case 'silent':
      return [at('mx.silent.test', silentPort)];
    case 'nomx':
      return [];
    case 'dnsfail':
      throw new Error('SERVFAIL');
    default:
      throw new Error(`test resolver: unknown domain ${domain}`);
  }
};

const unique = (kind: string) => `${kind}-${randomBytes(4).toString('hex')}.test`;
const PHI = () => `Lab result for patient ${randomBytes(6).toString('hex')}: HbA1c 9.1%`;

beforeAll(async () => {
  [goodCert, otherCert] = await Promise.all([makeCertificate('mx.good.test'), makeCertificate('mx.other.test')]);
  ca = [goodCert.cert, otherCert.cert];
  [good, plain, wrongName, rejecting, deferring] = await Promise.all([
    startSmtpSink({ tls: goodCert }),
    startSmtpSink(),
    startSmtpSink({ tls: otherCert }),
    startSmtpSink({ tls: goodCert, rejectRcptWith: 550 }),
    startSmtpSink({ tls: goodCert, rejectRcptWith: 451 }),
  ]);
  silent = net.createServer(() => {});
  silentPort = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as net.AddressInfo).port)));
});

afterAll(async () => {
  await Promise.all([good, plain, wrongName, rejecting, deferring].map((sink) => sink?.close()));
  silent?.close();
  await handle.close();
});

function counts(sink: SmtpSink) {
  return { mailFrom: sink.mailFromCalls, rcptTo: sink.rcptToCalls, data: sink.dataCalls, received: sink.received.length };
}

async function sendError(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

describe('TR1: delivery straight to the MX with TLS required', () => {
  it('TR1: PHI never reaches a sink without TLS when TLS is required', async () => {
    const transport = createMxTransport({ resolver, ca, timeoutMs: 5000 });

    // No STARTTLS: the session ends after EHLO and STARTTLS; no envelope, no body.
    const plainBefore = plain.clientBytes().length;
    const phiPlain = PHI();
    const noTls = await sendError(transport.send({ from: 'clinic@carepost.test', to: `pat@${unique('plain')}`, subject: 'Your result', text: phiPlain }));
    expect(noTls.code).toBe('tls_unavailable');
    expect(noTls.responseCode).toBeUndefined(); // not a verdict on the recipient: never a hard bounce
    expect(noTls.permanent).toBe(false);
    expect(counts(plain)).toEqual({ mailFrom: 0, rcptTo: 0, data: 0, received: 0 });
    const plainWire = plain.clientBytes().subarray(plainBefore).toString('latin1');
    expect(plainWire).toMatch(/^EHLO /);
    expect(plainWire).toContain('STARTTLS');
    expect(plainWire).not.toContain('MAIL FROM');
    expect(plainWire).not.toContain(phiPlain);

    // STARTTLS offered, but the (trusted) certificate names another host.
    const phiWrong = PHI();
    const badName = await sendError(transport.send({ from: 'clinic@carepost.test', to: `pat@${unique('wrong')}`, subject: 'Your result', text: phiWrong }));
    expect(badName.code).toBe('certificate_invalid');
    expect(badName.responseCode).toBeUndefined();
    expect(counts(wrongName)).toEqual({ mailFrom: 0, rcptTo: 0, data: 0, received: 0 });
    expect(wrongName.clientBytes().toString('latin1')).not.toContain(phiWrong);
    expect(wrongName.clientBytes().toString('latin1')).not.toContain('MAIL FROM');

    // The right name, but a certificate nobody vouches for (no test CA given): refused as well.
    const goodBefore = counts(good);
    const untrusting = createMxTransport({ resolver, timeoutMs: 5000 });
    const untrusted = await sendError(untrusting.send({ from: 'clinic@carepost.test', to: `pat@${unique('good')}`, subject: 'Your result', text: PHI() }));
    expect(untrusted.code).toBe('certificate_invalid');
    expect(counts(good)).toEqual(goodBefore);

    // The good server: delivered, inside a TLS session, and the PHI never crossed the wire in clear.
    const wireBefore = good.clientBytes().length;
    const phiGood = PHI();
    const to = `pat@${unique('good')}`;
    const result = await transport.send({ from: 'clinic@carepost.test', to, subject: 'Your result', text: phiGood, messageId: '<d-1@carepost.test>' });
    expect(result.accepted).toEqual([to]);
    const mail = good.received.at(-1)!;
    expect(mail.secure).toBe(true);
    expect(mail.cipher).toBeTruthy();
    expect(mail.envelope.to).toEqual([to]);
    expect(mail.parsed.text?.trim()).toBe(phiGood);
    expect(mail.parsed.messageId).toBe('<d-1@carepost.test>');
    const goodWire = good.clientBytes().subarray(wireBefore).toString('latin1');
    expect(goodWire).toContain('STARTTLS');
    expect(goodWire).not.toContain('MAIL FROM'); // the envelope went inside TLS too
    expect(goodWire).not.toContain(phiGood);
  });

  it('TR1: an SMTP refusal keeps its reply code, 5xx permanent and 4xx not', async () => {
    const transport = createMxTransport({ resolver, ca, timeoutMs: 5000 });
    const hard = await sendError(transport.send({ from: 'clinic@carepost.test', to: `gone@${unique('reject')}`, subject: 's', text: 't' }));
    expect(hard).toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
    expect(hard.permanent).toBe(true);
    const soft = await sendError(transport.send({ from: 'clinic@carepost.test', to: `busy@${unique('defer')}`, subject: 's', text: 't' }));
    expect(soft).toMatchObject({ code: 'EENVELOPE', responseCode: 451 });
    expect(soft.permanent).toBe(false);
    expect(rejecting.dataCalls + deferring.dataCalls).toBe(0);
  });

  it('TR1: an unreachable first MX falls through to the next; no MX and a closed port have stable codes', async () => {
    const transport = createMxTransport({ resolver, ca, timeoutMs: 5000 });
    const to = `pat@${unique('fallback')}`;
    const before = good.received.length;
    await transport.send({ from: 'clinic@carepost.test', to, subject: 's', text: 'via the second MX' });
    expect(good.received.length).toBe(before + 1);
    expect(good.received.at(-1)!.secure).toBe(true);

    expect((await sendError(transport.send({ from: 'c@carepost.test', to: `p@${unique('nomx')}`, subject: 's', text: 't' }))).code).toBe('no_mx');
    expect((await sendError(transport.send({ from: 'c@carepost.test', to: `p@${unique('dnsfail')}`, subject: 's', text: 't' }))).code).toBe('dns_failed');
    const closed = await sendError(transport.send({ from: 'c@carepost.test', to: `p@${unique('closed')}`, subject: 's', text: 't' }));
    expect(closed.code).toBe('ESOCKET');
    expect(closed.permanent).toBe(false);
    expect((await sendError(transport.send({ from: 'c@carepost.test', to: 'nobody', subject: 's', text: 't' }))).code).toBe('invalid_domain');
  });
});

describe('TR1: probing a domain', () => {
  it('TR1: a good server offers STARTTLS with a valid certificate at TLS 1.2 or higher, and the probe sends no mail', async () => {
    const before = counts(good);
    const wireBefore = good.clientBytes().length;
    const result = await probeDomain(unique('good'), { resolver, ca, timeoutMs: 5000 });
    expect(result).toEqual({ mxHost: 'mx.good.test', starttls: true, certificateValid: true, tlsVersion: expect.stringMatching(/^TLSv1\.[23]$/), error: null });
    expect(counts(good)).toEqual(before);
    const wire = good.clientBytes().subarray(wireBefore).toString('latin1');
    expect(wire).toMatch(/^EHLO [^\r\n]+\r\nSTARTTLS\r\n/);
    expect(wire).not.toContain('MAIL FROM');
  });

  it('TR1: every failure has its stable code', async () => {
    const probe = (kind: string, options: { ca?: string[]; timeoutMs?: number } = {}) =>
      probeDomain(unique(kind), { resolver, ca: options.ca ?? ca, timeoutMs: options.timeoutMs ?? 5000 });
    expect(await probe('plain')).toEqual({ mxHost: 'mx.plain.test', starttls: false, certificateValid: false, tlsVersion: null, error: 'no_starttls' });
    expect(await probe('wrong')).toEqual({ mxHost: 'mx.wrong.test', starttls: true, certificateValid: false, tlsVersion: null, error: 'certificate_invalid' });
    expect((await probe('good', { ca: [] })).error).toBe('certificate_invalid'); // self-signed, not trusted
    expect(await probe('nomx')).toMatchObject({ mxHost: null, error: 'no_mx' });
    expect(await probe('dnsfail')).toMatchObject({ mxHost: null, error: 'dns_failed' });
    expect(await probe('closed')).toMatchObject({ mxHost: 'mx.closed.test', error: 'connect_failed' });
    const started = Date.now();
    expect(await probe('silent', { timeoutMs: 300 })).toMatchObject({ mxHost: 'mx.silent.test', starttls: false, error: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(counts(plain).mailFrom + counts(wrongName).mailFrom).toBe(0);
  });
});

describe('TR1: the probe cache', () => {
  const hour = 60 * 60 * 1000;

  it('TR1: a good result is reused for 24 hours without connecting, then probed again', async () => {
    const domain = unique('good');
    const probe = createProbe({ resolver, ca, timeoutMs: 5000 });
    const t0 = new Date('2030-01-01T00:00:00Z');
    const start = good.connections;

    const first = await tlsCapability(handle.db, domain, { probe, now: t0 });
    expect(first).toMatchObject({ starttls: true, certificateValid: true, fromCache: false, expiresAt: new Date(t0.getTime() + 24 * hour) });
    expect(good.connections).toBe(start + 1);

    const second = await tlsCapability(handle.db, domain, { probe, now: new Date(t0.getTime() + 23 * hour) });
    expect(second).toMatchObject({ starttls: true, certificateValid: true, fromCache: true, mxHost: 'mx.good.test' });
    expect(good.connections).toBe(start + 1);

    const third = await tlsCapability(handle.db, domain, { probe, now: new Date(t0.getTime() + 24 * hour + 1) });
    expect(third.fromCache).toBe(false);
    expect(good.connections).toBe(start + 2);
  });

  it('TR1: a failure is kept for one hour only', async () => {
    const domain = unique('plain');
    const probe = createProbe({ resolver, ca, timeoutMs: 5000 });
    const t0 = new Date('2030-01-01T00:00:00Z');
    const start = plain.connections;
    const first = await tlsCapability(handle.db, domain, { probe, now: t0 });
    expect(first).toMatchObject({ starttls: false, error: 'no_starttls', expiresAt: new Date(t0.getTime() + hour) });
    await tlsCapability(handle.db, domain, { probe, now: new Date(t0.getTime() + 59 * 60 * 1000) });
    expect(plain.connections).toBe(start + 1);
    await tlsCapability(handle.db, domain, { probe, now: new Date(t0.getTime() + 61 * 60 * 1000) });
    expect(plain.connections).toBe(start + 2);
  });

  it('TR1: two callers that miss at once both probe, and one row remains', async () => {
    const domain = unique('good');
    const probe = createProbe({ resolver, ca, timeoutMs: 5000 });
    const now = new Date('2030-01-01T00:00:00Z');
    const results = await Promise.all([tlsCapability(handle.db, domain, { probe, now }), tlsCapability(handle.db, domain, { probe, now })]);
    expect(results.every((r) => r.certificateValid)).toBe(true);
    const rows = await handle.sql`select count(*)::int as n from domain_tls_cache where domain = ${domain}`;
    expect(rows[0]!.n).toBe(1);
  });
});

describe('TR2: TLS-enforced domains', () => {
  it('TR2: enforced domains round trip, normalised, audited, per organisation', async () => {
    const org = await createTestOrganisation(handle);
    const other = await createTestOrganisation(handle);
    const now = new Date('2030-01-01T00:00:00Z');

    expect(await addTlsEnforcedDomain(handle.db, org.id, '  Mail.Example.ORG. ', now, { type: 'admin', id: 'admin-1' })).toEqual({ status: 'added', domain: 'mail.example.org' });
    expect(await addTlsEnforcedDomain(handle.db, org.id, 'mail.example.org', now)).toEqual({ status: 'already_enforced', domain: 'mail.example.org' });
    expect(await addTlsEnforcedDomain(handle.db, org.id, 'bücher.example', now)).toEqual({ status: 'added', domain: 'xn--bcher-kva.example' });
    expect(await listTlsEnforcedDomains(handle.db, org.id)).toEqual([
      { domain: 'mail.example.org', createdAt: now },
      { domain: 'xn--bcher-kva.example', createdAt: now },
    ]);
    expect(await isTlsEnforced(handle.db, org.id, 'mail.example.org')).toBe(true);
    expect(await isTlsEnforced(handle.db, other.id, 'mail.example.org')).toBe(false);

    expect(await removeTlsEnforcedDomain(handle.db, org.id, 'MAIL.example.org', { type: 'admin', id: 'admin-1' })).toEqual({ status: 'removed', domain: 'mail.example.org' });
    expect(await removeTlsEnforcedDomain(handle.db, org.id, 'mail.example.org')).toEqual({ status: 'not_enforced', domain: 'mail.example.org' });
    expect(await isTlsEnforced(handle.db, org.id, 'mail.example.org')).toBe(false);

    // One event per change that happened, none for the no-ops.
    const events = await handle.db
      .select({ action: auditEvents.action, actorType: auditEvents.actorType, actorId: auditEvents.actorId, details: auditEvents.details })
      .from(auditEvents)
      .where(eq(auditEvents.orgId, org.id))
      .orderBy(asc(auditEvents.seq));
    expect(events).toEqual([
      { action: 'tls_domain.enforced', actorType: 'admin', actorId: 'admin-1', details: { domain: 'mail.example.org' } },
      { action: 'tls_domain.enforced', actorType: 'system', actorId: null, details: { domain: 'xn--bcher-kva.example' } },
      { action: 'tls_domain.unenforced', actorType: 'admin', actorId: 'admin-1', details: { domain: 'mail.example.org' } },
    ]);
    expect((await verifyAuditChain(handle.db, org.id)).ok).toBe(true);
  });

  it('TR2: anything that is not a real hostname is refused with a field error, and nothing is written', async () => {
    const org = await createTestOrganisation(handle);
    const now = new Date();
    for (const bad of ['', 'localhost', 'not a domain', '192.168.1.10', '-bad.example.org', 'bad-.example.org', 'a..example.org', `${'x'.repeat(64)}.example.org`, 'user@example.org', 'example.org/path', '*.example.org']) {
      const result = await addTlsEnforcedDomain(handle.db, org.id, bad, now);
      expect(result, bad).toMatchObject({ status: 'invalid', fieldErrors: { domain: expect.any(String) } });
      expect(await removeTlsEnforcedDomain(handle.db, org.id, bad)).toMatchObject({ status: 'invalid' });
    }
    expect(await listTlsEnforcedDomains(handle.db, org.id)).toEqual([]);
    const events = await handle.db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id));
    expect(events).toEqual([]);
  });

  it('TR2: tlsDecision takes the TLS route only with STARTTLS and a valid certificate, and says when the organisation enforces TLS', async () => {
    const org = await createTestOrganisation(handle);
    const probe = createProbe({ resolver, ca, timeoutMs: 5000 });
    const now = new Date();
    const goodDomain = unique('good');
    const plainDomain = unique('plain');
    const wrongDomain = unique('wrong');

    expect(await tlsDecision(handle.db, org.id, goodDomain, { probe, now })).toEqual({ route: 'tls', enforced: false });
    expect(await tlsDecision(handle.db, org.id, plainDomain, { probe, now })).toEqual({ route: 'no_tls', enforced: false, reason: 'no_starttls' });
    expect(await tlsDecision(handle.db, org.id, wrongDomain, { probe, now })).toEqual({ route: 'no_tls', enforced: false, reason: 'certificate_invalid' });

    await addTlsEnforcedDomain(handle.db, org.id, goodDomain, now);
    await addTlsEnforcedDomain(handle.db, org.id, plainDomain.toUpperCase(), now);
    expect(await tlsDecision(handle.db, org.id, goodDomain.toUpperCase(), { probe, now })).toEqual({ route: 'tls', enforced: true });
    expect(await tlsDecision(handle.db, org.id, plainDomain, { probe, now })).toEqual({ route: 'no_tls', enforced: true, reason: 'no_starttls' });
    expect(await tlsDecision(handle.db, org.id, 'not a domain', { probe, now })).toEqual({ route: 'no_tls', enforced: false, reason: 'invalid_domain' });
  });
});
