export { changeLanguage } from '../../server/i18n/switch';
import type { AppLoadContext } from '@remix-run/node';
import { pageLocale } from '../../server/i18n/request';
import { translator } from '../../server/i18n/catalogues';

export { chosenLocale, localeCookie, pageLocale, patientLocale, requestLocale, setPatientLocale } from '../../server/i18n/request';
export { translator };

/** The locale and t() of the page a loader or action answers: what the root loader decides (see pageLocale). */
export function pageT(request: Request, context: AppLoadContext) {
  const locale = pageLocale(request, context.identity.cookies);
  return { locale, t: translator(locale) };
}
export { catalogueChunk } from '../../server/i18n/catalogue-chunks';
export { translateServerErrors, translateServerText } from '../../server/i18n/server-texts';
export { toLocale } from '../../server/i18n/locale';
