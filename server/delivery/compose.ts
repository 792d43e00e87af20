// Building an outgoing mail: the Message-ID derived from the delivery (DL2), and for marketing the RFC 8058
// one-click unsubscribe headers plus a visible link in every body part (EM1). DKIM signing (EM3) is the
// transport's job (`dkim` in createSmtpTransport and createMxTransport); it covers these headers.
import { noticeTexts } from '../i18n/notices';
import type { OutgoingMail } from './transport';

const DELIVERY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MESSAGE_ID_DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** DL2: `<delivery-id@domain>`, the same for every attempt, so a repeated hand-off is recognisable downstream. */
export function messageIdFor(deliveryId: string, domain: string): string {
  const host = domain.trim().toLowerCase();
  if (!DELIVERY_ID.test(deliveryId)) throw new Error('messageIdFor: the delivery id must be letters, digits, ".", "_" or "-"');
  if (!MESSAGE_ID_DOMAIN.test(host)) throw new Error('messageIdFor: not a domain name');
  return `<${deliveryId}@${host}>`;
}

export type UnsubscribeLinks = {
  /** The one-click endpoint: POST unsubscribes (RFC 8058), GET shows a page with a button (EM2). */
  https: string;
  /** `mailto:` address for clients that only do mail-based unsubscribe. */
  mailto: string;
};

export type ComposeInput = {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** A complete HTML body from a trusted template; the unsubscribe footer goes before `</body>` when there is one. */
  html?: string;
  deliveryId: string;
  /** The domain of the Message-ID: the sending domain. */
  domain: string;
  /** Marketing only (EM1). */
  unsubscribe?: UnsubscribeLinks;
  /** The language of the visible unsubscribe line: the patient's (issue 9); English when unset. */
  locale?: string;
};

/** An OutgoingMail for the transports: Message-ID from the delivery, and the unsubscribe headers and footer for marketing. */
export function composeMail(input: ComposeInput): OutgoingMail {
  const mail: OutgoingMail = {
    from: input.from,
    to: input.to,
    subject: input.subject,
    text: input.text,
    html: input.html,
    messageId: messageIdFor(input.deliveryId, input.domain),
  };
  if (!input.unsubscribe) return mail;

  const { https, mailto } = checkUnsubscribeLinks(input.unsubscribe);
  // EM1, RFC 8058: one List-Unsubscribe header with both URIs, and the POST marker. Set by hand: nodemailer's `list`
  // option would write its own form.
  mail.headers = {
    'List-Unsubscribe': `<${https}>, <${mailto}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
  const words = noticeTexts(input.locale);
  mail.text = `${input.text.replace(/\s+$/, '')}\n\n--\n${words.unsubscribeText({ url: https })}\n`;
  if (input.html !== undefined) mail.html = withHtmlFooter(input.html, unsubscribeFooterHtml(words.unsubscribeHtml({ escapedUrl: escapeHtml(https) })));
  return mail;
}

/** Refuses anything that could break out of the header's angle brackets or add a header line. */
function checkUnsubscribeLinks(links: UnsubscribeLinks): UnsubscribeLinks {
  const unsafe = /[\s<>,"]/;
  let https: URL;
  try {
    https = new URL(links.https);
  } catch {
    throw new Error('composeMail: the unsubscribe link is not a URL');
  }
  // RFC 8058 wants https. The one exception is a development server on this machine (PUBLIC_URL http://localhost:...,
  // which production refuses at start-up): its mail only reaches the local catcher, and marketing must work there too.
  const loopback = https.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(https.hostname);
  if ((https.protocol !== 'https:' && !loopback) || unsafe.test(links.https)) throw new Error('composeMail: the unsubscribe link must be an https URL');
  if (!/^mailto:[^@\s]+@[^@\s]+$/i.test(links.mailto) || unsafe.test(links.mailto)) throw new Error('composeMail: the unsubscribe address must be a mailto: URI');
  return links;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function unsubscribeFooterHtml(line: string): string {
  return '<p style="margin-top:2em;font-size:0.875em;color:#555555">' + line + '</p>';
}

function withHtmlFooter(html: string, footer: string): string {
  const close = html.toLowerCase().lastIndexOf('</body');
  return close >= 0 ? `${html.slice(0, close)}${footer}\n${html.slice(close)}` : `${html}\n${footer}`;
}
