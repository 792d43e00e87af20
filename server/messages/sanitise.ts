// CX3: HTML an organisation wrote is sanitised before a patient's browser sees it. An allow-list of tags and
// attributes (sanitize-html, ADR 008): no script, no event handler, no style, no form, no frame, and links only to
// http, https, mailto and tel. Images are not loaded (a remote image tells a third party when the patient read the
// message, and the page's CSP refuses them anyway): each becomes its alt text in brackets.
import sanitizeHtml from 'sanitize-html';

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    'p', 'br', 'hr', 'div', 'span', 'b', 'strong', 'i', 'em', 'u', 's', 'small', 'sub', 'sup', 'mark', 'abbr',
    'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'blockquote', 'pre', 'code', 'a',
    'table', 'caption', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td',
  ],
  allowedAttributes: { a: ['href', 'title', 'rel'], abbr: ['title'], th: ['colspan', 'rowspan', 'scope'], td: ['colspan', 'rowspan'], ol: ['start'] },
  allowedSchemes: ['http', 'https', 'mailto', 'tel'],
  allowedSchemesAppliedToAttributes: ['href'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // The page's own heading is the subject (h1): the sender's headings sit below it.
  transformTags: {
    h1: 'h2',
    // rel is always ours: whatever the sender put there is replaced.
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'noopener noreferrer nofollow' } }),
    img: (_tagName, attribs) => ({ tagName: 'span', attribs: {}, text: attribs.alt?.trim() ? `[Image: ${attribs.alt.trim()}]` : '[Image]' }),
  },
};

/** Safe HTML for a message body, or an empty string. */
export function sanitiseMessageHtml(html: string): string {
  return sanitizeHtml(html, OPTIONS);
}
