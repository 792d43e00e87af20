import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node';
import { adminSessionCookieName, endAdminSession, optionalAdmin } from '../services/all.server';
import { clearCookie, redirectTo, requireOrganisation } from '../services/all.server';

// GET never changes anything: only the POST from the sign-out button (or the idle timer) signs out (CX1).
export async function loader({ params, context }: LoaderFunctionArgs) {
  const org = await requireOrganisation(context.db, params.slug);
  throw redirectTo(`/admin/${org.slug}`);
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const now = new Date();
  const org = await requireOrganisation(context.db, params.slug);
  const cookies = context.identity.cookies;
  const signedIn = await optionalAdmin({ request, db: context.db, cookies, org, now });
  const timedOut = (await request.formData()).get('reason') === 'timeout';
  if (signedIn) await context.db.transaction((tx) => endAdminSession(tx, signedIn.session, now));
  // SE3, PW2: the session row is ended; the browser drops the cookie, its caches and its storage for this site.
  throw redirectTo(`/admin/${org.slug}/sign-in?notice=${timedOut ? 'timeout' : 'signed-out'}`, {
    'Set-Cookie': clearCookie(adminSessionCookieName(cookies), cookies),
    'Clear-Site-Data': '"cache", "cookies", "storage"',
    'X-Remix-Reload-Document': 'true',
  });
}
