// The language of one request: the switcher's cookie (an explicit choice on this device) first, then the browser's
// Accept-Language. A signed-in patient's stored language reaches the cookie at sign-in (server/identity/guards.ts),
// and the switcher writes both, so pages, notices and code emails agree.
import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { patients } from '../../db/schema/index';
import { readCookie, type CookieSettings } from '../identity/cookies';
import { DEFAULT_LOCALE, isLocale, negotiateLocale, toLocale, type Locale } from './locale';

const LOCALE_COOKIE_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

export function localeCookieName(settings: CookieSettings): string {
  return settings.secure ? '__Host-carepost_lang' : 'carepost_lang';
}

/** The language chosen with the switcher on this browser, if any. */
export function chosenLocale(request: Request, settings: CookieSettings): Locale | undefined {
  const value = readCookie(request, localeCookieName(settings));
  return isLocale(value) ? value : undefined;
}

export function requestLocale(request: Request, settings: CookieSettings): Locale {
  return chosenLocale(request, settings) ?? negotiateLocale(request.headers.get('accept-language'));
}

/** A preference, not a secret: long-lived, but still HttpOnly, SameSite=Lax and Secure in production like the rest. */
export function localeCookie(locale: Locale, settings: CookieSettings): string {
  const parts = [`${localeCookieName(settings)}=${locale}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${LOCALE_COOKIE_MAX_AGE_SECONDS}`];
  if (settings.secure) parts.push('Secure');
  return parts.join('; ');
}

/** The language notices and code emails to this patient are written in. */
export async function patientLocale(db: DbOrTx, orgId: string, patientId: string): Promise<Locale> {
  const [row] = await db.select({ locale: patients.locale }).from(patients).where(and(eq(patients.orgId, orgId), eq(patients.id, patientId)));
  return toLocale(row?.locale) ?? DEFAULT_LOCALE;
}

export async function setPatientLocale(db: DbOrTx, orgId: string, patientId: string, locale: Locale): Promise<void> {
  await db.update(patients).set({ locale }).where(and(eq(patients.orgId, orgId), eq(patients.id, patientId)));
}

/**
 * The language a page is rendered in, as the root loader decides it: `?lang=` (the signed-out page, after
 * Clear-Site-Data dropped the cookie), the switcher's cookie, then Accept-Language.
 */
export function pageLocale(request: Request, settings: CookieSettings): Locale {
  return toLocale(new URL(request.url).searchParams.get('lang')) ?? requestLocale(request, settings);
}
