// A plain-text mail (every notice, every sign-in code) as the complete RFC 5322 message, built in one pass (ADR 026).
// nodemailer would build the same message through a MIME tree and a chain of streams for each mail. The encoding is
// still nodemailer's: header values through MimeNode's encodeHeaderValue (addresses, RFC 2047 words, punycode; a value
// it would leave as it is is written as it is, ADR 028), folding
// through mime-funcs, the body through its quoted-printable encoder. Anything else (an HTML part, a raw PGP/MIME message) goes through
// nodemailer's own composition, unchanged.
import MimeNode from 'nodemailer/lib/mime-node';
import { foldLines, hasLongerLines, isPlainText } from 'nodemailer/lib/mime-funcs';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import type { OutgoingMail } from './transport';

/**
 * One encoder for every header: MimeNode's static encodeHeaderValue makes a new node per call, and a node draws its
 * multipart boundary from the system's random source (a system call, about a tenth of a notice's cost). The fixed
 * boundary is never used: this node is never built.
 */
const headerEncoder = new MimeNode(false, { baseBoundary: 'headers' });

/**
 * Encoded and folded lines of the headers that repeat from mail to mail and carry nothing of one patient: the sender
 * and the one-click marker. Never the recipient, the subject (a sign-in code's mail may carry the code) or the
 * unsubscribe link (a signed token). Bounded: emptied when full.
 */
const headerLines = new Map<string, string[]>();
const CACHED_HEADERS = new Set(['From', 'List-Unsubscribe-Post']);

/** Headers nodemailer encodes as addresses, and the others it treats specially (lower case): see encodeHeader. */
const ADDRESS_HEADERS = new Set(['from', 'sender', 'to', 'cc', 'bcc', 'reply-to']);
const SPECIAL_HEADERS = new Set(['message-id', 'in-reply-to', 'content-id', 'otp-token', 'references', 'date', 'content-type', 'content-disposition']);
/** Printable ASCII without a double quote: a value nodemailer leaves as it is (unless it holds "=?"). */
const PLAIN_TEXT = /^[\x20\x21\x23-\x7e]*$/;
/** A lower-case ASCII dot-atom address: one nodemailer writes back unchanged. */
const PLAIN_ADDRESS = /^[a-z0-9+_-]+(?:\.[a-z0-9+_-]+)*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;

/**
 * A header value as nodemailer's encodeHeaderValue writes it. Most values need nothing (an ASCII subject, the
 * unsubscribe link, a patient's plain address), and nodemailer returns those unchanged after parsing and scanning
 * them, a fair part of a notice's cost: those are returned here as they are, every other value goes through
 * nodemailer. A unit test holds the two equal.
 */
export function encodeHeader(key: string, value: string): string {
  const lower = key.toLowerCase();
  if (ADDRESS_HEADERS.has(lower)) {
    if (value.length <= 254 && PLAIN_ADDRESS.test(value)) return value;
  } else if (!SPECIAL_HEADERS.has(lower) && PLAIN_TEXT.test(value) && !value.includes('=?')) {
    return value;
  }
  return headerEncoder.encodeHeaderValue(key, value);
}

/** Header names the caller may not set through `headers`: the composer writes them itself, once. */
const OWN_HEADERS = new Set(['from', 'to', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding']);

/**
 * The message as sent over SMTP (CRLF line ends), or undefined for a mail this composer does not build (HTML, raw,
 * no Message-ID, no text, or a header it writes itself given again): the transport then lets nodemailer compose it.
 */
export function textMessage(mail: OutgoingMail, date: Date): Buffer | undefined {
  if (mail.raw !== undefined || mail.html !== undefined || !mail.messageId || mail.text === '') return undefined;
  const custom = Object.entries(mail.headers ?? {});
  if (custom.some(([key]) => OWN_HEADERS.has(key.toLowerCase()))) return undefined;
  // A header whose value is empty is left out, as nodemailer leaves it out.
  const header = (key: string, value: string): string[] => {
    const cacheKey = CACHED_HEADERS.has(key) ? `${key}\n${value}` : undefined;
    const cached = cacheKey === undefined ? undefined : headerLines.get(cacheKey);
    if (cached) return cached;
    const encoded = encodeHeader(key, value);
    const lines = encoded.trim() ? [foldLines(`${key}: ${encoded}`, 76)] : [];
    if (cacheKey !== undefined) {
      if (headerLines.size >= 64) headerLines.clear();
      headerLines.set(cacheKey, lines);
    }
    return lines;
  };
  // As nodemailer: the text as it is (7bit) when it is ASCII without long lines, else quoted-printable (76-character
  // lines; a line that starts with "." needs nothing more: dot-stuffing is SMTP's). nodemailer would pick base64 for
  // mostly non-Latin text, a third of the size; Carepost's notices are English and Spanish.
  const sevenBit = isPlainText(mail.text) && !hasLongerLines(mail.text, 76);
  const lines = [
    ...custom.flatMap(([key, value]) => header(key, value)),
    ...header('From', mail.from),
    ...header('To', mail.to),
    ...header('Subject', mail.subject),
    // Not encoded: a Message-ID is `<id@domain>` (DL2), and encoding would change what receivers compare.
    foldLines(`Message-ID: ${mail.messageId}`, 76),
    `Content-Transfer-Encoding: ${sevenBit ? '7bit' : 'quoted-printable'}`,
    `Date: ${date.toUTCString().replace(/GMT/, '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
  ];
  const body = (sevenBit ? mail.text : qpWrap(qpEncode(mail.text), 76)).replace(/\r?\n/g, '\r\n');
  // The message ends with a line break, as nodemailer ends it.
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}${body.endsWith('\n') ? '' : '\r\n'}`, 'utf8');
}
