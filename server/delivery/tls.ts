// TR1, TR2: what a recipient domain's mail server offers (STARTTLS, a valid certificate), cached; which domains an
// organisation requires TLS for; and a transport that delivers straight to the recipient's MX with TLS required, so
// a missing STARTTLS or a bad certificate stops the session before any message byte is sent.
import dns from 'node:dns';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { domainToASCII } from 'node:url';
import { and, eq } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import type { DbOrTx } from '../../db/client';
import { domainTlsCache, tlsEnforcedDomains } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { nodemailerDkim, nodemailerMessage, TransportError, type DkimOptions, type MailTransport } from './transport';

// ---------------------------------------------------------------------------------------------------------------
// Resolving MX hosts

/**
 * One mail exchanger. `host` is the name the certificate must carry (and the SNI name); `address`, when set, is
 * where to connect instead of resolving `host` (tests point `mx.good.test` at 127.0.0.1 this way).
 */
export type MxRecord = { host: string; port: number; address?: string };
/** The domain's mail exchangers, most preferred first. An empty list means the domain takes no mail. */
export type MxResolver = (domain: string) => Promise<MxRecord[]>;

/** A DNS failure other than "no such domain": temporary, so it is not the same as having no MX. */
export class MxLookupError extends Error {
  constructor(readonly code: string) {
    super(`MX lookup failed: ${code}`);
    this.name = 'MxLookupError';
  }
}

/** The real resolver: MX records by preference, port 25. */
export const dnsMxResolver: MxResolver = async (domain) => {
  try {
    const records = await dns.promises.resolveMx(domain);
    // RFC 7505: a single MX of "." says the domain accepts no mail at all.
    if (records.every((r) => r.exchange === '' || r.exchange === '.')) return [];
    return records
      .filter((r) => r.exchange !== '' && r.exchange !== '.')
      .sort((a, b) => a.priority - b.priority)
      .map((r) => ({ host: r.exchange.toLowerCase().replace(/\.$/, ''), port: 25 }));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EDNS';
    // RFC 5321 section 5.1: a name without MX records is its own mail exchanger.
    if (code === dns.NODATA) return [{ host: domain, port: 25 }];
    if (code === dns.NOTFOUND) return [];
    throw new MxLookupError(code);
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Domain names

/**
 * Lowercase ASCII (punycode) form of a mail domain, or null when it is not a real hostname: at least two labels,
 * each 1-63 letters, digits or hyphens (not at either end), a top-level label that is not all digits (so no IP
 * addresses), 253 characters at most.
 */
export function normaliseMailDomain(input: string): string | null {
  const trimmed = input.trim().toLowerCase().replace(/\.$/, '');
  if (trimmed === '' || trimmed.length > 253) return null;
  // domainToASCII parses like a URL host ("a.org/x" gives "a.org", "%41" decodes): only letters, digits, dots and
  // hyphens (and non-ASCII letters, for IDNs) may reach it.
  if (/[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/.test(trimmed)) return null;
  const ascii = domainToASCII(trimmed);
  if (ascii === '' || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2) return null;
  if (!labels.every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label))) return null;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return null;
  return ascii;
}

/** The domain part of an address (after the last @), normalised, or null. */
export function mailDomainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at < 1) return null;
  return normaliseMailDomain(address.slice(at + 1).replace(/>\s*$/, ''));
}

// ---------------------------------------------------------------------------------------------------------------
// Certificate errors

// What OpenSSL and Node report when the peer's certificate does not check out (as opposed to the TLS handshake
// failing for another reason, such as no common protocol version).
const CERTIFICATE_ERROR_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'EE_KEY_TOO_SMALL',
  'CA_KEY_TOO_SMALL',
  'CA_MD_TOO_WEAK',
]);

function isCertificateError(code: string | undefined): boolean {
  return code !== undefined && CERTIFICATE_ERROR_CODES.has(code);
}

// TR1: below TLS 1.2 is refused, in the probe and when sending.
const MIN_TLS_VERSION = 'TLSv1.2' as const;

// ---------------------------------------------------------------------------------------------------------------
// Probing a domain

export type ProbeError = 'no_mx' | 'dns_failed' | 'connect_failed' | 'timeout' | 'no_starttls' | 'certificate_invalid' | 'tls_failed';

export type ProbeResult = {
  mxHost: string | null;
  /** The server advertised STARTTLS after EHLO. */
  starttls: boolean;
  /** The TLS handshake completed with a certificate valid for the MX host name. */
  certificateValid: boolean;
  /** The negotiated version, e.g. `TLSv1.3`, when the handshake completed. */
  tlsVersion: string | null;
  error: ProbeError | null;
};

export type ProbeOptions = {
  resolver: MxResolver;
  /** The whole probe, from DNS to QUIT. */
  timeoutMs: number;
  /** Extra trusted certificates (tests); the system's trust store otherwise. */
  ca?: string | Buffer | (string | Buffer)[];
  /** The EHLO name; the machine's host name by default. */
  ehloName?: string;
};

type Reply = { code: number; lines: string[] };

/** Reads SMTP replies (multi-line ones whole) from a socket, one at a time. */
class ReplyReader {
  private buffer = '';
  private lines: string[] = [];
  private replies: Reply[] = [];
  private waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => this.feed(chunk.toString('latin1'));
  private readonly onEnd = () => this.fail(new ProbeFailure('connect_failed', 'connection closed'));
  private readonly onError = (error: Error) => this.fail(error);

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
  }

  next(): Promise<Reply> {
    const reply = this.replies.shift();
    if (reply) return Promise.resolve(reply);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Stops reading, and forgets anything buffered (RFC 3207: nothing read before TLS counts after it). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.buffer = '';
    this.lines = [];
    this.replies = [];
  }

  private feed(text: string): void {
    this.buffer += text;
    if (this.buffer.length > 64 * 1024) return this.fail(new ProbeFailure('connect_failed', 'reply too long'));
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      const match = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!match) return this.fail(new ProbeFailure('connect_failed', 'not an SMTP reply'));
      this.lines.push(match[3]!);
      if (match[2] !== '-') {
        this.push({ code: Number(match[1]), lines: this.lines });
        this.lines = [];
      }
    }
  }

  private push(reply: Reply): void {
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve(reply);
    } else {
      this.replies.push(reply);
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(error);
    }
  }
}

class ProbeFailure extends Error {
  constructor(
    readonly code: ProbeError,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Connects to the domain's first MX, reads the greeting, says EHLO, and when STARTTLS is advertised upgrades with the
 * certificate checked against the MX host name (TLS 1.2 or higher), then QUITs. It never sends MAIL, RCPT or DATA.
 * Always resolves; `error` holds a stable code when something fell short.
 */
export async function probeDomain(domain: string, options: ProbeOptions): Promise<ProbeResult> {
  const result: ProbeResult = { mxHost: null, starttls: false, certificateValid: false, tlsVersion: null, error: null };
  const sockets: net.Socket[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeFailure('timeout', 'probe timed out')), options.timeoutMs);
  });
  try {
    await Promise.race([runProbe(domain, options, result, sockets), deadline]);
  } catch (error) {
    result.error = error instanceof ProbeFailure ? error.code : 'connect_failed';
  } finally {
    clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
  }
  return result;
}

async function runProbe(domain: string, options: ProbeOptions, result: ProbeResult, sockets: net.Socket[]): Promise<void> {
  let records: MxRecord[];
  try {
    records = await options.resolver(domain);
  } catch {
    throw new ProbeFailure('dns_failed', 'MX lookup failed');
  }
  const mx = records[0];
  if (!mx) throw new ProbeFailure('no_mx', 'no MX');
  result.mxHost = mx.host;

  const plain = await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: mx.address ?? mx.host, port: mx.port });
    sockets.push(socket);
    socket.once('connect', () => resolve(socket));
    socket.on('error', () => reject(new ProbeFailure('connect_failed', 'connect failed')));
  });
  const reader = new ReplyReader(plain);
  const greeting = await reader.next();
  if (greeting.code !== 220) throw new ProbeFailure('connect_failed', 'refused at greeting');

  plain.write(`EHLO ${options.ehloName ?? ehloName()}\r\n`);
  const ehlo = await reader.next();
  // The first line of an EHLO reply is the server's name; the rest are extensions.
  result.starttls = ehlo.code === 250 && ehlo.lines.slice(1).some((line) => /^STARTTLS\b/i.test(line));
  if (!result.starttls) {
    plain.write('QUIT\r\n');
    throw new ProbeFailure('no_starttls', 'STARTTLS not offered');
  }

  plain.write('STARTTLS\r\n');
  const ready = await reader.next();
  if (ready.code !== 220) throw new ProbeFailure('tls_failed', 'STARTTLS refused');
  reader.detach();
  plain.on('error', () => {}); // the TLS socket on top reports what matters

  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      socket: plain,
      // SNI carries names only; the identity check below uses the host either way.
      servername: net.isIP(mx.host) ? undefined : mx.host,
      host: mx.host,
      rejectUnauthorized: true,
      minVersion: MIN_TLS_VERSION,
      ca: options.ca,
    });
    sockets.push(socket);
    socket.once('secureConnect', () => resolve(socket));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      reject(new ProbeFailure(isCertificateError(error.code) ? 'certificate_invalid' : 'tls_failed', 'TLS handshake failed')),
    );
  });
  result.certificateValid = secure.authorized;
  result.tlsVersion = secure.getProtocol();

  // Be polite; the answer changes nothing.
  const secureReader = new ReplyReader(secure);
  secure.write('QUIT\r\n');
  await Promise.race([secureReader.next().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000))]);
}

function ehloName(): string {
  const name = os.hostname();
  return /^[a-z0-9.-]+$/i.test(name) && name.includes('.') ? name : 'localhost';
}

/** A probe function with fixed options, for tlsCapability and tlsDecision. */
export function createProbe(options: ProbeOptions): (domain: string) => Promise<ProbeResult> {
  return (domain) => probeDomain(domain, options);
}

// ---------------------------------------------------------------------------------------------------------------
// The capability cache

export type TlsTtl = { goodMs: number; failureMs: number };
/** A good result is trusted for a day; a failure is retried after an hour, so a fixed server is noticed soon. */
export const DEFAULT_TLS_TTL: TlsTtl = { goodMs: 24 * 60 * 60 * 1000, failureMs: 60 * 60 * 1000 };

export type TlsCapability = ProbeResult & { checkedAt: Date; expiresAt: Date; fromCache: boolean };

export type CapabilityOptions = { probe: (domain: string) => Promise<ProbeResult>; now: Date; ttl?: Partial<TlsTtl> };

function isGood(result: Pick<ProbeResult, 'starttls' | 'certificateValid'>): boolean {
  return result.starttls && result.certificateValid;
}

/**
 * Read-through cache of probe results in `domain_tls_cache`. Two callers that miss at once both probe and the last
 * write wins: the results describe the same server, and a probe is cheap next to coordinating.
 */
export async function tlsCapability(db: DbOrTx, domain: string, options: CapabilityOptions): Promise<TlsCapability> {
  const { now } = options;
  const [row] = await db.select().from(domainTlsCache).where(eq(domainTlsCache.domain, domain));
  if (row && row.expiresAt.getTime() > now.getTime()) {
    return {
      mxHost: row.mxHost,
      starttls: row.starttls,
      certificateValid: row.certificateValid,
      tlsVersion: row.tlsVersion,
      error: row.error as ProbeError | null,
      checkedAt: row.checkedAt,
      expiresAt: row.expiresAt,
      fromCache: true,
    };
  }
  const ttl = { ...DEFAULT_TLS_TTL, ...options.ttl };
  const probed = await options.probe(domain);
  const expiresAt = new Date(now.getTime() + (isGood(probed) ? ttl.goodMs : ttl.failureMs));
  const values = { ...probed, checkedAt: now, expiresAt };
  await db
    .insert(domainTlsCache)
    .values({ domain, ...values })
    .onConflictDoUpdate({ target: domainTlsCache.domain, set: values });
  return { ...probed, checkedAt: now, expiresAt, fromCache: false };
}

// ---------------------------------------------------------------------------------------------------------------
// The route decision

export type TlsDecision =
  | { route: 'tls'; enforced: boolean }
  | { route: 'no_tls'; enforced: boolean; reason: ProbeError | 'invalid_domain' };

/**
 * TR1, TR2: the TLS route when the domain's MX offers STARTTLS with a valid certificate. `enforced` says the
 * organisation requires TLS for the domain: then nothing at all may go there in clear, not even a PHI-free notice,
 * so a `no_tls` answer for an enforced domain means defer. Sending on the TLS route must still use
 * createMxTransport, which refuses to send if TLS is not there at send time.
 *
 * It may probe (up to the probe's timeout): call it before taking row locks, not while holding them.
 */
export async function tlsDecision(db: DbOrTx, orgId: string, domain: string, options: CapabilityOptions): Promise<TlsDecision> {
  const normalised = normaliseMailDomain(domain);
  if (!normalised) return { route: 'no_tls', enforced: false, reason: 'invalid_domain' };
  const enforced = await isTlsEnforced(db, orgId, normalised);
  const capability = await tlsCapability(db, normalised, options);
  if (isGood(capability)) return { route: 'tls', enforced };
  return { route: 'no_tls', enforced, reason: capability.error ?? (capability.starttls ? 'certificate_invalid' : 'no_starttls') };
}

// ---------------------------------------------------------------------------------------------------------------
// TR2: domains an organisation requires TLS for

export async function isTlsEnforced(db: DbOrTx, orgId: string, domain: string): Promise<boolean> {
  const [row] = await db
    .select({ domain: tlsEnforcedDomains.domain })
    .from(tlsEnforcedDomains)
    .where(and(eq(tlsEnforcedDomains.orgId, orgId), eq(tlsEnforcedDomains.domain, domain)));
  return row !== undefined;
}

export async function listTlsEnforcedDomains(db: DbOrTx, orgId: string): Promise<{ domain: string; createdAt: Date }[]> {
  return db
    .select({ domain: tlsEnforcedDomains.domain, createdAt: tlsEnforcedDomains.createdAt })
    .from(tlsEnforcedDomains)
    .where(eq(tlsEnforcedDomains.orgId, orgId))
    .orderBy(tlsEnforcedDomains.domain);
}

export type TlsDomainActor = { type: 'admin' | 'organisation' | 'system'; id?: string };
type InvalidDomain = { status: 'invalid'; fieldErrors: { domain: string } };
const INVALID_DOMAIN: InvalidDomain = { status: 'invalid', fieldErrors: { domain: 'Enter a domain name, such as example.org.' } };

/** Adds a domain (normalised to lowercase ASCII) to the organisation's list, with an audit event when it is new. */
export async function addTlsEnforcedDomain(
  db: DbOrTx,
  orgId: string,
  domain: string,
  now: Date,
  actor: TlsDomainActor = { type: 'system' },
): Promise<{ status: 'added' | 'already_enforced'; domain: string } | InvalidDomain> {
  const normalised = normaliseMailDomain(domain);
  if (!normalised) return INVALID_DOMAIN;
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(tlsEnforcedDomains)
      .values({ orgId, domain: normalised, createdAt: now })
      .onConflictDoNothing()
      .returning({ domain: tlsEnforcedDomains.domain });
    if (inserted.length === 0) return { status: 'already_enforced', domain: normalised } as const;
    await appendAudit(tx, orgId, {
      actorType: actor.type,
      actorId: actor.id ?? null,
      action: 'tls_domain.enforced',
      subjectType: 'tls_domain',
      subjectId: normalised,
      details: { domain: normalised },
    });
    return { status: 'added', domain: normalised } as const;
  });
}

/** Removes a domain from the organisation's list, with an audit event when it was there. */
export async function removeTlsEnforcedDomain(
  db: DbOrTx,
  orgId: string,
  domain: string,
  actor: TlsDomainActor = { type: 'system' },
): Promise<{ status: 'removed' | 'not_enforced'; domain: string } | InvalidDomain> {
  const normalised = normaliseMailDomain(domain);
  if (!normalised) return INVALID_DOMAIN;
  return db.transaction(async (tx) => {
    const deleted = await tx
      .delete(tlsEnforcedDomains)
      .where(and(eq(tlsEnforcedDomains.orgId, orgId), eq(tlsEnforcedDomains.domain, normalised)))
      .returning({ domain: tlsEnforcedDomains.domain });
    if (deleted.length === 0) return { status: 'not_enforced', domain: normalised } as const;
    await appendAudit(tx, orgId, {
      actorType: actor.type,
      actorId: actor.id ?? null,
      action: 'tls_domain.unenforced',
      subjectType: 'tls_domain',
      subjectId: normalised,
      details: { domain: normalised },
    });
    return { status: 'removed', domain: normalised } as const;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Delivering straight to the recipient's MX, TLS required

export type MxTransportOptions = {
  resolver: MxResolver;
  /** Extra trusted certificates (tests); the system's trust store otherwise. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Connect, greeting and socket inactivity timeouts. */
  timeoutMs: number;
  /** The EHLO name; should be this host's public name, with matching reverse DNS. */
  ehloName?: string;
  dkim?: DkimOptions;
};

/**
 * A MailTransport that sends each message over its own connection to the recipient domain's MX, trying the MX hosts
 * in order. STARTTLS is required and the certificate must be valid for the MX host name, at TLS 1.2 or higher
 * (TR1): nodemailer's requireTLS issues STARTTLS right after EHLO and stops at any failure, before MAIL FROM, so no
 * envelope or message byte is ever sent in clear. Such failures throw `tls_unavailable` or `certificate_invalid`
 * (without a reply code: they are not a verdict on the recipient, so they must never count as a hard bounce).
 *
 * One connection per message, no pool: nothing is shared across domains, and a pool's automatic re-queue after a
 * dropped connection could send a message twice (DL5).
 */
export function createMxTransport(options: MxTransportOptions): MailTransport {
  const dkim = nodemailerDkim(options.dkim);

  async function sendVia(mx: MxRecord, mail: Parameters<MailTransport['send']>[0]) {
    const transporter = nodemailer.createTransport({
      host: mx.address ?? mx.host,
      port: mx.port,
      secure: false,
      requireTLS: true,
      ignoreTLS: false,
      // The certificate is checked against the MX name even when we connect to a given address.
      servername: net.isIP(mx.host) ? undefined : mx.host,
      tls: {
        rejectUnauthorized: true,
        minVersion: MIN_TLS_VERSION,
        servername: net.isIP(mx.host) ? undefined : mx.host,
        ca: options.ca,
      },
      name: options.ehloName,
      pool: false,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      dkim,
    });
    try {
      const info = (await transporter.sendMail(nodemailerMessage(mail))) as { messageId: string; accepted: unknown[]; rejected: unknown[]; response: string };
      return { messageId: info.messageId, accepted: info.accepted.map(String), rejected: info.rejected.map(String), response: info.response };
    } finally {
      transporter.close();
    }
  }

  return {
    async send(mail) {
      const domain = mailDomainOf(mail.to);
      if (!domain) throw new TransportError('recipient domain is not valid', 'invalid_domain');
      let records: MxRecord[];
      try {
        records = await options.resolver(domain);
      } catch {
        throw new TransportError('MX lookup failed', 'dns_failed');
      }
      if (records.length === 0) throw new TransportError('recipient domain has no MX', 'no_mx');

      // Try the next MX only when this one could not be reached or secured. An SMTP reply (4xx, 5xx) is the
      // domain's answer and ends the attempt.
      let firstFailure: TransportError | undefined;
      for (const mx of records) {
        try {
          return await sendVia(mx, mail);
        } catch (error) {
          const failure = toMxTransportError(error);
          if (failure.responseCode !== undefined || !isHostFailure(failure.code)) throw failure;
          // A TLS failure says more than a later host being down: keep the most telling one.
          if (!firstFailure || (isTlsFailure(failure.code) && !isTlsFailure(firstFailure.code))) firstFailure = failure;
        }
      }
      throw firstFailure!;
    },
  };
}

function isTlsFailure(code: string): boolean {
  return code === 'tls_unavailable' || code === 'certificate_invalid';
}

function isHostFailure(code: string): boolean {
  return isTlsFailure(code) || code === 'ESOCKET' || code === 'ECONNECTION' || code === 'ETIMEDOUT' || code === 'EDNS';
}

/** nodemailer's errors, with TLS failures given their own stable codes. */
function toMxTransportError(error: unknown): TransportError {
  const e = error as { message?: string; code?: string; originalCode?: string; responseCode?: number; command?: string };
  const message = e.message ?? 'mail transport failed';
  if (isCertificateError(e.originalCode) || isCertificateError(e.code)) return new TransportError(message, 'certificate_invalid');
  // STARTTLS refused or not understood, or an upgrade that failed for another reason (no common TLS version).
  if (e.code === 'ETLS' || (e.code === 'ESOCKET' && e.originalCode?.startsWith('ERR_SSL_'))) return new TransportError(message, 'tls_unavailable');
  return new TransportError(message, e.code ?? 'ESEND', e.responseCode);
}
