// An organisation's logo, uploaded by its owner (ADR 016). Only SVG, at most 100 KB. The file is sanitised with an
// allow-list (sanitize-html in XML mode, configured for SVG): shapes, text, gradients, clip paths and masks, with
// geometry and presentation attributes. What cannot survive: script, event handlers (on*), foreignObject, images,
// <style> elements (and with them @import), any reference that leaves the file (href and xlink:href only to "#id",
// url() only to "#id", in attributes and in style), data: and javascript: URIs, CSS escapes. XML with a DOCTYPE or
// entity declarations is refused outright (entity expansion, "billion laughs"), before any parsing. The patient pages
// show the result only through <img> from our origin, and the logo route sends a CSP that runs nothing.
import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import sanitizeHtml from 'sanitize-html';
import type { Database } from '../../db/client';
import { organisations } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';

export const MAX_LOGO_BYTES = 100 * 1024;

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';

const SHAPES = ['svg', 'g', 'defs', 'symbol', 'use', 'title', 'desc', 'path', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'text', 'tspan'];
const PAINT = ['linearGradient', 'radialGradient', 'stop', 'clipPath', 'mask'];

const PRESENTATION = [
  'fill', 'fill-opacity', 'fill-rule', 'stroke', 'stroke-width', 'stroke-linecap', 'stroke-linejoin', 'stroke-miterlimit',
  'stroke-dasharray', 'stroke-dashoffset', 'stroke-opacity', 'opacity', 'clip-path', 'clip-rule', 'mask', 'color',
  'display', 'visibility', 'vector-effect', 'paint-order', 'font-family', 'font-size', 'font-weight', 'font-style',
  'text-anchor', 'dominant-baseline', 'letter-spacing', 'word-spacing', 'stop-color', 'stop-opacity',
];
const GEOMETRY = [
  'id', 'class', 'style', 'transform', 'x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'rx', 'ry', 'fx', 'fy', 'dx', 'dy',
  'd', 'points', 'width', 'height', 'viewBox', 'preserveAspectRatio', 'offset', 'gradientUnits', 'gradientTransform',
  'spreadMethod', 'clipPathUnits', 'maskUnits', 'maskContentUnits', 'pathLength', 'role', 'aria-label', 'aria-hidden',
  'lang', 'xml:space', 'href', 'xlink:href',
];

/** A CSS value in a style attribute: no url() but to "#id", no escapes, no functions but colours. */
const SAFE_STYLE_VALUE = /^(?:url\(\s*#[A-Za-z_][\w.-]*\s*\)|(?:rgba?|hsla?)\(\s*[\d\s.,%]+\)|[#\w\s.,%'"+-])+$/;
const FRAGMENT = /^#[A-Za-z_][\w.:-]*$/;

/** An attribute value is kept when every url() in it points inside the file and it has no escape or script scheme. */
function safeAttributeValue(name: string, value: string): boolean {
  if (name === 'href' || name === 'xlink:href') return FRAGMENT.test(value.trim());
  if (/[\\]|javascript:|data:|expression\s*\(/i.test(value)) return false;
  const urls = value.match(/url\s*\(/gi) ?? [];
  const local = value.match(/url\(\s*#[A-Za-z_][\w.-]*\s*\)/gi) ?? [];
  return urls.length === local.length;
}

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [...SHAPES, ...PAINT],
  allowedAttributes: { '*': [...GEOMETRY, ...PRESENTATION], svg: ['xmlns', 'xmlns:xlink', 'version', ...GEOMETRY, ...PRESENTATION] },
  allowedStyles: { '*': Object.fromEntries(PRESENTATION.map((p) => [p, [SAFE_STYLE_VALUE]])) },
  // No scheme is allowed anywhere: references are checked as "#id" fragments below.
  allowedSchemes: [],
  allowedSchemesAppliedToAttributes: ['href', 'xlink:href'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Dropped with everything inside them, text included.
  nonTextTags: ['script', 'style', 'foreignObject', 'textarea', 'noscript', 'iframe', 'object', 'embed', 'image', 'feImage', 'animate', 'set', 'handler', 'listener'],
  selfClosing: [],
  parser: { xmlMode: true, lowerCaseTags: false, lowerCaseAttributeNames: false, recognizeSelfClosing: true, decodeEntities: true },
  transformTags: {
    '*': (tagName, attribs) => {
      const kept: Record<string, string> = {};
      for (const [name, value] of Object.entries(attribs)) if (safeAttributeValue(name, value)) kept[name] = value;
      // The namespaces are ours: an SVG image needs the SVG one, and no other may be declared.
      if (tagName === 'svg') {
        kept.xmlns = SVG_NS;
        if ('xmlns:xlink' in kept) kept['xmlns:xlink'] = XLINK_NS;
      }
      return { tagName, attribs: kept };
    },
  },
};

export type LogoCheck = { ok: true; svg: string } | { ok: false; error: string };

/** Checks and sanitises an uploaded logo. Refuses what is not an SVG document, and any DOCTYPE or entity. */
export function sanitiseLogoSvg(bytes: Uint8Array): LogoCheck {
  if (bytes.byteLength === 0) return { ok: false, error: 'Choose an SVG file.' };
  if (bytes.byteLength > MAX_LOGO_BYTES) return { ok: false, error: 'The logo must be 100 KB or smaller.' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return { ok: false, error: 'The file is not an SVG image (it is not UTF-8 text).' };
  }
  // Entity expansion ("billion laughs") and external entities live in the DOCTYPE: refused, never parsed.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) return { ok: false, error: 'SVG files with a DOCTYPE or entity declarations are not accepted. Export the logo as plain SVG.' };
  if (text.includes('\u0000')) return { ok: false, error: 'The file is not an SVG image.' };
  // The root element must be <svg>: an XML declaration and comments may come first.
  const start = text.replace(/^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*/, '');
  if (!/^<svg[\s>/]/.test(start)) return { ok: false, error: 'The file is not an SVG image (it must start with <svg>).' };
  const svg = sanitizeHtml(start, OPTIONS).trim();
  if (!/^<svg[\s>]/.test(svg) || !svg.endsWith('</svg>')) return { ok: false, error: 'Nothing drawable was left in the file after removing what is not allowed.' };
  return { ok: true, svg };
}

/** A short version of the logo for its URL, so a new logo is not hidden behind a cached old one. */
export function logoVersion(svg: string): string {
  return createHash('sha256').update(svg).digest('base64url').slice(0, 10);
}

/** Stores a sanitised logo, or removes it (null). Audited with its size and version, never its content. */
export async function saveOrganisationLogo(db: Database, options: { orgId: string; svg: string | null; actor: { type: 'admin'; id: string } }): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(organisations).set({ logoSvg: options.svg }).where(eq(organisations.id, options.orgId));
    await appendAudit(tx, options.orgId, {
      actorType: options.actor.type,
      actorId: options.actor.id,
      action: options.svg ? 'organisation.logo_changed' : 'organisation.logo_removed',
      subjectType: 'organisation',
      subjectId: options.orgId,
      details: options.svg ? { bytes: Buffer.byteLength(options.svg), version: logoVersion(options.svg) } : {},
    });
  });
}

/** The version of the organisation's current logo, or null when it has none (for the settings page's preview). */
export async function currentLogoVersion(db: Database, orgId: string): Promise<string | null> {
  const [row] = await db.select({ logoSvg: organisations.logoSvg }).from(organisations).where(eq(organisations.id, orgId));
  return row?.logoSvg ? logoVersion(row.logoSvg) : null;
}
