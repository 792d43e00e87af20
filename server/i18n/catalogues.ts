// Every page catalogue, registered with t() (server/i18n/translate.ts): the server renders pages, notices and records
// in any language. Server only in practice (the browser loads just its page's language, ADR 022); imported by the
// server's entry and by the server modules that translate.
import { LOCALES, type Locale } from './locale';
import { registerCatalogue, type UiCatalogue } from './translate';
import { en } from './ui-en';
import { es } from './ui-es';

export const UI_CATALOGUES: Record<Locale, UiCatalogue> = { en, es };
for (const locale of LOCALES) registerCatalogue(locale, UI_CATALOGUES[locale]);

export { translator } from './translate';
