// ICU-lite message formatting: `{name}` placeholders and `{count, plural, =0 {…} one {# thing} other {# things}}`.
// Enough for our catalogues without a framework (ADR 014). Browser-safe.
import { INTL_LOCALES, type Locale } from './locale';

export type Params = Record<string, string | number>;

const pluralRules = new Map<Locale, Intl.PluralRules>();
function pluralCategory(locale: Locale, n: number): string {
  let rules = pluralRules.get(locale);
  if (!rules) {
    rules = new Intl.PluralRules(INTL_LOCALES[locale]);
    pluralRules.set(locale, rules);
  }
  return rules.select(n);
}

// The count in a plural text. Constructing the first Intl.NumberFormat in a page loads the locale's number data: about
// 40 ms of main-thread CPU on this machine (x4 on a phone), inside one hydration step of the inbox and a message page,
// the longest task either had (ADR 025). A whole number below 1000 reads the same in every language we have (en-US,
// es-US: Latin digits, no grouping), so it needs no formatter; anything else gets one per language.
const numberFormats = new Map<Locale, Intl.NumberFormat>();
function formatCount(locale: Locale, n: number): string {
  if (Number.isInteger(n) && n >= 0 && n < 1000) return String(n);
  let format = numberFormats.get(locale);
  if (!format) {
    format = new Intl.NumberFormat(INTL_LOCALES[locale]);
    numberFormats.set(locale, format);
  }
  return format.format(n);
}

/** The index of the `}` that closes the `{` at `open`. */
function closing(template: string, open: number): number {
  let depth = 0;
  for (let i = open; i < template.length; i++) {
    if (template[i] === '{') depth++;
    else if (template[i] === '}' && --depth === 0) return i;
  }
  throw new Error(`Unbalanced braces in message: ${template}`);
}

/** `one {…} other {…}` to its cases. */
function pluralCases(body: string): Map<string, string> {
  const cases = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const open = body.indexOf('{', i);
    if (open === -1) break;
    const selector = body.slice(i, open).trim();
    const close = closing(body, open);
    cases.set(selector, body.slice(open + 1, close));
    i = close + 1;
  }
  return cases;
}

export function formatMessage(locale: Locale, template: string, params: Params = {}): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open === -1) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, open);
    const close = closing(template, open);
    const inner = template.slice(open + 1, close);
    const comma = inner.indexOf(',');
    if (comma === -1) {
      const value = params[inner.trim()];
      out += value === undefined ? `{${inner}}` : String(value);
    } else {
      const name = inner.slice(0, comma).trim();
      const rest = inner.slice(comma + 1);
      const kindEnd = rest.indexOf(',');
      const kind = rest.slice(0, kindEnd).trim();
      if (kind !== 'plural') throw new Error(`Unknown message format "${kind}" in: ${template}`);
      const n = Number(params[name] ?? 0);
      const cases = pluralCases(rest.slice(kindEnd + 1));
      const chosen = cases.get(`=${n}`) ?? cases.get(pluralCategory(locale, n)) ?? cases.get('other') ?? '';
      out += formatMessage(locale, chosen.includes('#') ? chosen.replaceAll('#', formatCount(locale, n)) : chosen, params);
    }
    i = close + 1;
  }
  return out;
}

/** The placeholder names a message uses (for the catalogue test: both languages must use the same ones). */
export function placeholdersOf(template: string): string[] {
  const names = new Set<string>();
  const walk = (t: string) => {
    let i = 0;
    while (i < t.length) {
      const open = t.indexOf('{', i);
      if (open === -1) return;
      const close = closing(t, open);
      const inner = t.slice(open + 1, close);
      const comma = inner.indexOf(',');
      if (comma === -1) names.add(inner.trim());
      else {
        names.add(inner.slice(0, comma).trim());
        const rest = inner.slice(comma + 1);
        for (const body of pluralCases(rest.slice(rest.indexOf(',') + 1)).values()) walk(body);
      }
      i = close + 1;
    }
  };
  walk(template);
  return [...names].sort();
}
