// The language switcher's POST (issue 9, item 3).
import type { DbOrTx } from '../../db/client';
import type { CookieSettings } from '../identity/cookies';
import { optionalPatient } from '../identity/guards';
import { getOrganisationBranding } from '../orgs/organisations';
import { toLocale } from './locale';
import { localeCookie, setPatientLocale } from './request';

/** Only a path on this site: no scheme, no host, no `//` or backslash tricks, no control characters. */
export function safeLocalPath(value: string): string {
  return /^\/(?![/\\])[\x21-\x7e]{0,1999}$/.test(value) && !value.includes('\\') ? value : '/';
}

/**
 * The switcher's POST: the cookie for this browser, and for a patient signed in to the organisation whose page this
 * was, the stored language too (notices and code emails follow it). Answers with a redirect back to the page.
 */
export async function changeLanguage(options: { request: Request; db: DbOrTx; cookies: CookieSettings; locale: string; returnTo: string; now: Date }): Promise<Response> {
  const back = withoutLangParameter(safeLocalPath(options.returnTo));
  const locale = toLocale(options.locale);
  const headers = new Headers({ Location: back });
  if (!locale) return new Response(null, { status: 303, headers });
  headers.append('Set-Cookie', localeCookie(locale, options.cookies));
  const slug = /^\/o\/([a-z0-9-]{1,63})(?:[/?]|$)/.exec(back)?.[1];
  if (slug) {
    const org = await getOrganisationBranding(options.db, slug);
    const signedIn = org ? await optionalPatient({ request: options.request, db: options.db, cookies: options.cookies, org, now: options.now }) : undefined;
    if (signedIn) await setPatientLocale(options.db, signedIn.org.id, signedIn.patient.id, locale);
  }
  return new Response(null, { status: 303, headers });
}

/** `?lang=` outranks the cookie (pageLocale), so it must not survive a switch to the other language. */
function withoutLangParameter(path: string): string {
  const url = new URL(path, 'http://localhost');
  url.searchParams.delete('lang');
  return `${url.pathname}${url.search}`;
}
