// Which language a page, notice or code email is in (issue 9, item 3). Browser-safe: no Node APIs, no database, so
// the routes' components can import it as well as the server.
export const LOCALES = ['en', 'es'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** The names the switcher shows, each in its own language, so a reader finds theirs whatever the page is in. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', es: 'Español' };

/** The formatting locale for Intl: US conventions, since the patients are in the United States. */
export const INTL_LOCALES: Record<Locale, string> = { en: 'en-US', es: 'es-US' };

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** A stored or submitted language tag to one we speak: 'es-MX' → 'es'; anything else → undefined. */
export function toLocale(tag: string | null | undefined): Locale | undefined {
  if (!tag) return undefined;
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  return isLocale(primary) ? primary : undefined;
}

/**
 * Accept-Language (RFC 9110 12.5.4): the highest q-value we speak wins; equal q-values keep the header's order;
 * q=0 means "not this one". Nothing we speak: English.
 */
export function negotiateLocale(header: string | null | undefined): Locale {
  if (!header) return DEFAULT_LOCALE;
  const ranges = header
    .split(',')
    .slice(0, 50)
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const quality = q ? Number(q.slice(2)) : 1;
      return { tag: tag.trim(), quality: Number.isFinite(quality) ? quality : 0, index };
    })
    .filter((r) => r.tag && r.quality > 0)
    .sort((a, b) => b.quality - a.quality || a.index - b.index);
  for (const range of ranges) {
    const locale = toLocale(range.tag);
    if (locale) return locale;
  }
  return DEFAULT_LOCALE;
}

