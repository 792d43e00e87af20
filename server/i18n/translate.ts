// t(key, params) over the page catalogues. Browser-safe: pages import it through app/i18n.tsx.
// The catalogues are registered, not imported (ADR 022): the server registers every language at start
// (server/i18n/catalogues.ts), a page only its own, loaded by app/entry.client.tsx before hydration, so a patient's
// phone downloads and evaluates one language's words, not all of them.
import { formatMessage, type Params } from './format';
import { DEFAULT_LOCALE, INTL_LOCALES, LOCALES, type Locale } from './locale';
import type { UiKey } from './ui-en';

export type { UiKey };
export type UiCatalogue = Record<UiKey, string>;
export type Translate = (key: UiKey, params?: Params) => string;

const catalogues: Partial<Record<Locale, UiCatalogue>> = {};
const listeners = new Set<() => void>();
let version = 0;

export function registerCatalogue(locale: Locale, catalogue: UiCatalogue): void {
  if (catalogues[locale] === catalogue) return;
  catalogues[locale] = catalogue;
  version++;
  for (const listener of listeners) listener();
}

export function hasCatalogue(locale: Locale): boolean {
  return catalogues[locale] !== undefined;
}

/** For useSyncExternalStore: pages re-render when a language they asked for has arrived. */
export function subscribeCatalogues(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function cataloguesVersion(): number {
  return version;
}

export function translator(locale: Locale): Translate {
  // A language not loaded yet (a page whose language changed without a reload, for the moment its words take to
  // arrive) speaks one that is, rather than showing keys.
  const catalogue = catalogues[locale] ?? catalogues[DEFAULT_LOCALE] ?? LOCALES.map((l) => catalogues[l]).find((c) => c !== undefined);
  if (!catalogue) throw new Error(`no page catalogue is loaded (asked for ${locale})`);
  return (key, params) => formatMessage(locale, catalogue[key] ?? key, params);
}

// One formatter per (locale, zone, style): building an Intl.DateTimeFormat costs about 100 µs, using one about 1 µs,
// and a page of 25 messages formats 25 dates (bench:inbox).
const formats = new Map<string, Intl.DateTimeFormat>();
function formatter(locale: Locale, timeZone: string, style: 'date' | 'dateTime' | 'shortDateTime'): Intl.DateTimeFormat {
  const key = `${locale}|${timeZone}|${style}`;
  let format = formats.get(key);
  if (!format) {
    const options: Intl.DateTimeFormatOptions =
      style === 'date'
        ? { dateStyle: 'long', timeZone }
        : style === 'dateTime'
          ? { year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone, timeZoneName: 'short' }
          : { dateStyle: 'medium', timeStyle: 'short', timeZone };
    format = new Intl.DateTimeFormat(INTL_LOCALES[locale], options);
    if (formats.size < 1500) formats.set(key, format);
  }
  return format;
}

/** "March 3, 2027" / "3 de marzo de 2027", in the patient's time zone. */
export function formatDate(iso: string | Date, locale: Locale, timeZone = 'UTC'): string {
  return formatter(locale, timeZone, 'date').format(new Date(iso));
}

/** "March 3, 2027 at 9:05 AM EST" / "3 de marzo de 2027, 9:05 a. m. EST". */
export function formatDateTime(iso: string | Date, locale: Locale, timeZone = 'UTC'): string {
  return formatter(locale, timeZone, 'dateTime').format(new Date(iso));
}

/** "Mar 3, 2027, 9:05 AM" / "3 mar 2027, 9:05 a. m.". */
export function formatShortDateTime(iso: string | Date, locale: Locale, timeZone = 'UTC'): string {
  return formatter(locale, timeZone, 'shortDateTime').format(new Date(iso));
}

/** "email, text message and message in this portal" / "correo electrónico, mensaje de texto y …". */
export function formatList(words: string[], locale: Locale): string {
  // English keeps the house form without the serial comma ("email, text message and portal").
  if (locale === 'en') return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
  return new Intl.ListFormat(INTL_LOCALES[locale], { style: 'long', type: 'conjunction' }).format(words);
}
