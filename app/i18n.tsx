// The page side of languages (issue 9, item 3): the locale comes from the root loader, and useT() gives the
// t(key, params) of server/i18n/translate.ts in that language. The catalogues are plain data shared with the server;
// the browser loads only the page's own (ADR 022): entry.client awaits loadCatalogue() before hydrating.
import { Form, useLocation, useRouteLoaderData } from '@remix-run/react';
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { isLocale, LOCALE_NAMES, LOCALES, type Locale } from '../server/i18n/locale';
export { INTL_LOCALES } from '../server/i18n/locale';
import { cataloguesVersion, hasCatalogue, registerCatalogue, subscribeCatalogues, translator, type Translate, type UiCatalogue } from '../server/i18n/translate';

export { formatDate, formatDateTime, formatList, formatShortDateTime, translator, type Translate, type UiKey } from '../server/i18n/translate';
export type { Locale };

export function useLocale(): Locale {
  const data = useRouteLoaderData('root') as { locale?: string } | undefined;
  return isLocale(data?.locale) ? data.locale : 'en';
}

/** t() for a route's `meta` function, which runs outside React: the root loader's locale from `matches`. */
export function metaT(matches: readonly { id: string; data?: unknown }[]): Translate {
  const locale = (matches.find((m) => m.id === 'root')?.data as { locale?: string } | undefined)?.locale;
  return translator(isLocale(locale) ? locale : 'en');
}

// One chunk per language (a dynamic import each), fetched only by a page in that language; the service worker
// precaches them like every build file. A new language gets a line here (tsc asks for it).
const CATALOGUE_CHUNKS: Record<Locale, () => Promise<UiCatalogue>> = {
  en: () => import('../server/i18n/ui-en').then((m) => m.en),
  es: () => import('../server/i18n/ui-es').then((m) => m.es),
};

export async function loadCatalogue(locale: Locale): Promise<void> {
  if (!hasCatalogue(locale)) registerCatalogue(locale, await CATALOGUE_CHUNKS[locale]());
}

export function useT(): Translate {
  const locale = useLocale();
  // The page's language is loaded before hydration; it can change without a reload (signing in with a stored
  // language sets it), and then its words are fetched and the page re-renders when they arrive.
  const version = useSyncExternalStore(subscribeCatalogues, cataloguesVersion, cataloguesVersion);
  useEffect(() => {
    if (!hasCatalogue(locale)) void loadCatalogue(locale).catch(() => undefined);
  }, [locale]);
  // `version` is a dependency on purpose: a newly registered catalogue gives a new t().
  return useMemo(() => translator(locale), [locale, version]);
}

// A page opened from a signed link has the token in its path: that path is never copied into the page (CX4: every
// refused link shows the same page), and the switcher goes back to it through the Referer instead.
const LINK_PAGE = /^(\/o\/[a-z0-9-]+)\/(?:p|u|r|m)\//;

/**
 * "Language / Idioma": one button per language, in a plain POST form, so it works without JavaScript and by keyboard.
 * The switcher goes back to the page it was on (Referer, else the path in the form body); nothing is added to any URL.
 */
export function LanguageSwitcher() {
  const locale = useLocale();
  const location = useLocation();
  return (
    <Form method="post" action="/language" reloadDocument className="language-switcher no-print" aria-label="Language / Idioma">
      <input type="hidden" name="returnTo" value={LINK_PAGE.exec(location.pathname)?.[1] ?? `${location.pathname}${location.search}`} />
      <span className="language-switcher__label" aria-hidden="true">
        Language / Idioma:
      </span>
      {LOCALES.map((l) => (
        <button key={l} className="language-switcher__button" type="submit" name="locale" value={l} lang={l} aria-current={l === locale ? 'true' : undefined}>
          {LOCALE_NAMES[l]}
        </button>
      ))}
    </Form>
  );
}
