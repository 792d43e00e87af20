// requireAdmin: every admin loader and action starts here (EN3). It throws the redirect to sign-in, the 404 for an
// unknown organisation, or the 403 for a role that may not do this; otherwise it returns who is signed in.
import type { DbOrTx } from '../../db/client';
import { adminSessionCookieName, readCookie, type CookieSettings } from '../identity/cookies';
import { redirectTo, requireOrganisation } from '../identity/guards';
import type { OrganisationBranding } from '../orgs/organisations';
import { can, type AdminCapability } from './roles';
import { getAdminSession, type ActiveAdminSession, type SessionAdmin } from './sessions';

export type SignedInAdmin = { org: OrganisationBranding; session: ActiveAdminSession; admin: SessionAdmin };

export function forbidden(): Response {
  return new Response('Your role does not allow this page.', { status: 403, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

export async function optionalAdmin(options: { request: Request; db: DbOrTx; cookies: CookieSettings; org: OrganisationBranding; now: Date }) {
  const token = readCookie(options.request, adminSessionCookieName(options.cookies));
  const found = await getAdminSession(options.db, options.org.id, token, options.now);
  return found ? { org: options.org, ...found } : undefined;
}

/** The signed-in admin of this organisation, allowed `capability`; or a redirect to admin sign-in, or 403. */
export async function requireAdmin(options: {
  request: Request;
  db: DbOrTx;
  cookies: CookieSettings;
  slug: string | undefined;
  capability: AdminCapability;
  now: Date;
}): Promise<SignedInAdmin> {
  const org = await requireOrganisation(options.db, options.slug);
  const signedIn = await optionalAdmin({ ...options, org });
  if (!signedIn) throw redirectTo(`/admin/${org.slug}/sign-in`);
  if (!can(signedIn.admin.role, options.capability)) throw forbidden();
  return signedIn;
}
