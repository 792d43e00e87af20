import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node';
import { clearCookie, endPatientSession, optionalPatient, redirectTo, requireOrganisation, sessionCookieName } from '../services/all.server';
import { pageT } from '../services/all.server';

// GET never changes anything: only the POST from the sign-out button signs out (CX1).
export async function loader({ params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  throw redirectTo(`/o/${org.slug}/account`);
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const org = await requireOrganisation(context.db, params.slug);
  const signedIn = await optionalPatient({ request, db: context.db, cookies: context.identity.cookies, org, now });
  const timedOut = (await request.formData()).get('reason') === 'timeout';
  if (signedIn) await context.db.transaction((tx) => endPatientSession(tx, signedIn.session, now));
  // Clear-Site-Data drops the language cookie with the rest, so the page after it is told the language (not sensitive).
  const { locale } = pageT(request, context);
  const query = new URLSearchParams({ ...(timedOut ? { reason: 'timeout' } : {}), ...(locale !== 'en' ? { lang: locale } : {}) }).toString();
  // SE3, PW2: the server row is gone; the browser drops the cookie, its caches and its storage for this site.
  throw redirectTo(`/o/${org.slug}/signed-out${query ? `?${query}` : ''}`, {
    'Set-Cookie': clearCookie(sessionCookieName(context.identity.cookies), context.identity.cookies),
    'Clear-Site-Data': '"cache", "cookies", "storage"',
    // PW2: a full page load, so no loader data of the page signed out from (a message) stays in memory or the DOM.
    'X-Remix-Reload-Document': 'true',
  });
}
