// The mail transport interface the engine (issue 5) takes over: a small object with send(), verify(), close().
import DKIM from 'nodemailer/lib/dkim';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import { SmtpPool } from './smtp-pool';
import { textMessage } from './text-message';

export type OutgoingMail = {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** Derived from the delivery id by the engine (DL2), so a retry cannot look like a new message. */
  messageId?: string;
  /** Set verbatim. List-Unsubscribe must be one header, so it is set here by hand (EM1). */
  headers?: Record<string, string>;
  /** A complete RFC 5322 message (PGP/MIME is built by the engine); replaces the fields above except envelope. */
  raw?: string | Buffer;
  /** The sending organisation's own DKIM key (EM3); without one, the transport's key (if any) signs. */
  dkim?: DkimOptions;
};

export type SendResult = { messageId: string; accepted: string[]; rejected: string[]; response: string };

export class TransportError extends Error {
  constructor(
    message: string,
    /** Stable: callers branch on this, never on the message text. */
    readonly code: string,
    /** The SMTP reply code when the server gave one (4xx: try again later, 5xx: permanent). */
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = 'TransportError';
  }

  get permanent(): boolean {
    return this.responseCode !== undefined && this.responseCode >= 500;
  }
}

export interface MailTransport {
  send(mail: OutgoingMail): Promise<SendResult>;
  verify?(): Promise<void>;
  close?(): Promise<void>;
}

/** A DKIM signing key (EM3): the d= domain, the s= selector, and an RSA private key in PEM. */
export type DkimOptions = { domainName: string; keySelector: string; privateKey: string };

// EM3: the signature must cover the List-* headers, or a relay could swap the unsubscribe target. RFC 8058 section 4
// names both. nodemailer signs only the fields a message actually has, so listing absent ones is harmless.
export const DKIM_HEADER_FIELD_NAMES = [
  'From',
  'Sender',
  'Reply-To',
  'To',
  'Cc',
  'Subject',
  'Date',
  'Message-ID',
  'In-Reply-To',
  'References',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
].join(':');

/** nodemailer's `dkim` transport option for a key, or undefined when there is none. */
export function nodemailerDkim(dkim: DkimOptions | undefined) {
  return dkim ? { ...dkim, headerFieldNames: DKIM_HEADER_FIELD_NAMES } : undefined;
}

/** nodemailer's message options for a mail: a complete raw message or its parts, and the organisation's DKIM key if any. */
export function nodemailerMessage(mail: OutgoingMail) {
  const dkim = nodemailerDkim(mail.dkim);
  const message = mail.raw
    ? { envelope: { from: mail.from, to: [mail.to] }, raw: mail.raw }
    : { from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: mail.messageId, headers: mail.headers };
  return dkim ? { ...message, dkim } : message;
}

type SmtpOptions = { pool?: boolean; maxConnections?: number; requireTls?: boolean; dkim?: DkimOptions };

/**
 * The relay transport (ADR 026). Each mail is composed into its complete message here: a plain-text mail in one pass
 * (textMessage, nodemailer's own encoders), anything else by nodemailer's MailComposer, a raw message (PGP/MIME) as it
 * is; signed with the organisation's DKIM key or the transport's (EM3, nodemailer's signer); then sent over a pool of
 * nodemailer's SMTPConnection (SmtpPool).
 */
export function createSmtpTransport(smtpUrl: string, options: SmtpOptions = {}): MailTransport {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  const requireTls = options.requireTls ?? false;
  const pooled = options.pool ?? true;
  const pool = new SmtpPool({
    connection: {
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 465 : 587,
      secure,
      requireTLS: requireTls,
      // Never STARTTLS opportunistically to a local catcher that has no certificate; a real relay uses smtps or
      // requireTls, and TLS below 1.2 is refused (TR1).
      ignoreTLS: !secure && !requireTls && url.hostname === '127.0.0.1',
      tls: { minVersion: 'TLSv1.2' },
    },
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    // Unpooled (`pool: false`): a connection per message, as many at once as there are sends.
    maxConnections: pooled ? (options.maxConnections ?? 5) : Number.POSITIVE_INFINITY,
    pooled,
  });
  const transportDkim = options.dkim;

  return {
    async send(mail) {
      try {
        const message = await messageOf(mail, mail.dkim ?? transportDkim);
        const info = await pool.send(envelopeOf(mail), message);
        return {
          messageId: mail.messageId ?? messageIdIn(message) ?? '',
          accepted: info.accepted.map(String),
          rejected: info.rejected.map(String),
          response: info.response,
        };
      } catch (error) {
        throw toTransportError(error);
      }
    },
    async verify() {
      try {
        await pool.verify();
      } catch (error) {
        throw toTransportError(error);
      }
    },
    async close() {
      pool.close();
    },
  };
}

/** The complete message, as the relay sends it: composed, then DKIM-signed when there is a key. */
async function messageOf(mail: OutgoingMail, dkim: DkimOptions | undefined): Promise<Buffer> {
  const message =
    mail.raw !== undefined
      ? Buffer.isBuffer(mail.raw)
        ? mail.raw
        : Buffer.from(mail.raw, 'utf8')
      : (textMessage(mail, new Date()) ?? (await new MailComposer(nodemailerMessage(mail) as ConstructorParameters<typeof MailComposer>[0]).compile().build()));
  if (!dkim) return message;
  const signed = new DKIM(nodemailerDkim(dkim)!).sign(message);
  const chunks: Buffer[] = [];
  for await (const chunk of signed) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The SMTP envelope nodemailer would use: the sender's address and the recipient's, domains in punycode. */
function envelopeOf(mail: OutgoingMail): { from: string; to: string[] } {
  // One node, never built: setEnvelope and getEnvelope are synchronous and only parse the addresses (each call makes
  // a new envelope object, so nothing is shared between mails).
  envelopeNode.setEnvelope({ from: mail.from, to: [mail.to] });
  const envelope = envelopeNode.getEnvelope();
  return { from: envelope.from || '', to: envelope.to };
}
const envelopeNode = new MimeNode('text/plain', { baseBoundary: 'envelope' });

/** The Message-ID header of a raw message (PGP/MIME carries the engine's, DL2). */
function messageIdIn(message: Buffer): string | undefined {
  const head = message.subarray(0, Math.min(message.length, 8192)).toString('latin1');
  return /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(head)?.[1];
}

function toTransportError(error: unknown): TransportError {
  const e = error as { message?: string; code?: string; responseCode?: number };
  return new TransportError(e.message ?? 'mail transport failed', e.code ?? 'ESEND', e.responseCode);
}
