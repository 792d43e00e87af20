// The mail transport interface the engine (issue 5) takes over: a small object with send(), verify(), close().
import nodemailer from 'nodemailer';

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

export function createSmtpTransport(smtpUrl: string, options: SmtpOptions = {}): MailTransport {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  const transporter = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    pool: options.pool ?? true,
    maxConnections: options.maxConnections ?? 5,
    requireTLS: options.requireTls ?? false,
    // Never STARTTLS opportunistically to a local catcher that has no certificate; a real relay uses smtps or
    // requireTls, and TLS below 1.2 is refused (TR1).
    ignoreTLS: !secure && !(options.requireTls ?? false) && url.hostname === '127.0.0.1',
    tls: { minVersion: 'TLSv1.2' },
    dkim: nodemailerDkim(options.dkim),
  });

  return {
    async send(mail) {
      try {
        const info = (await transporter.sendMail(nodemailerMessage(mail))) as { messageId: string; accepted: unknown[]; rejected: unknown[]; response: string };
        return {
          messageId: info.messageId,
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
        await transporter.verify();
      } catch (error) {
        throw toTransportError(error);
      }
    },
    async close() {
      transporter.close();
    },
  };
}

function toTransportError(error: unknown): TransportError {
  const e = error as { message?: string; code?: string; responseCode?: number };
  return new TransportError(e.message ?? 'mail transport failed', e.code ?? 'ESEND', e.responseCode);
}
