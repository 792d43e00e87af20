// requirePatient: loaders read top to bottom; this throws the redirect or the 404 (STYLE.md, Epic Stack habit).
import { and, eq, isNotNull } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { contactPoints, patients } from '../../db/schema/index';
import { getOrganisationBranding, type OrganisationBranding } from '../orgs/organisations';
import { attemptCookieName, clearCookie, readCookie, returnCookieName, serializeCookie, sessionCookieName, type CookieSettings } from './cookies';
import { DEFAULT_LOCALE } from '../i18n/locale';
import { chosenLocale, localeCookie, patientLocale, setPatientLocale } from '../i18n/request';
import { decodeReturnTo } from './return-to';
import { createPatientSession, getPatientSession, type ActiveSession, type VerificationMethod } from './sessions';


export type SignedInPatient = {
  org: OrganisationBranding;
  session: ActiveSession;
  patient: { id: string; displayName: string };
};

export function notFound(): Response {
  return new Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

export function redirectTo(location: string, headers: HeadersInit = {}): Response {
  const all = new Headers(headers); // keeps several Set-Cookie headers apart
  all.set('Location', location);
  return new Response(null, { status: 303, headers: all });
}

export async function requireOrganisation(db: DbOrTx, slug: string | undefined): Promise<OrganisationBranding> {
  const org = await getOrganisationBranding(db, slug ?? '');
  if (!org) throw notFound();
  return org;
}

export async function optionalPatient(options: { request: Request; db: DbOrTx; cookies: CookieSettings; org: OrganisationBranding; now: Date }) {
  const token = readCookie(options.request, sessionCookieName(options.cookies));
  const session = await getPatientSession(options.db, options.org.id, token, options.now);
  if (!session) return undefined;
  const [patient] = await options.db
    .select({ id: patients.id, displayName: patients.displayName })
    .from(patients)
    .where(and(eq(patients.orgId, options.org.id), eq(patients.id, session.patientId!)));
  return patient ? { org: options.org, session, patient } : undefined;
}

/** The signed-in patient of this organisation, or a redirect to its sign-in page. */
export async function requirePatient(options: { request: Request; db: DbOrTx; cookies: CookieSettings; slug: string | undefined; now: Date }): Promise<SignedInPatient> {
  const org = await requireOrganisation(options.db, options.slug);
  const signedIn = await optionalPatient({ ...options, org });
  if (!signedIn) throw redirectTo(`/o/${org.slug}/sign-in`);
  return signedIn;
}

/** The patient's verified contact points, for choosing where a step-up code goes (OT6). */
export async function verifiedContactsOf(db: DbOrTx, orgId: string, patientId: string) {
  return db
    .select({ id: contactPoints.id, kind: contactPoints.kind, value: contactPoints.value })
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.patientId, patientId), isNotNull(contactPoints.verifiedAt)))
    .orderBy(contactPoints.createdAt);
}

/**
 * After a successful verification: a new session (the browser's previous one ends, SE1), its cookie, the attempt
 * cookie cleared, and a redirect to `location`.
 */
export async function signedInRedirect(options: {
  db: Database;
  request: Request;
  cookies: CookieSettings;
  orgId: string;
  patientId: string;
  method: VerificationMethod;
  location: string;
  /** Sign-in (not step-up): go back to the page that asked for sign-in, if one did and it is still in this organisation. */
  followReturnCookie?: { slug: string };
  now: Date;
}): Promise<Response> {
  const { request, cookies } = options;
  const session = await options.db.transaction((tx) =>
    createPatientSession(tx, {
      orgId: options.orgId,
      patientId: options.patientId,
      method: options.method,
      previousToken: readCookie(request, sessionCookieName(cookies)),
      userAgent: request.headers.get('user-agent'),
      now: options.now,
    }),
  );
  const headers = new Headers();
  headers.append('Set-Cookie', serializeCookie(sessionCookieName(cookies), session.token, cookies));
  headers.append('Set-Cookie', clearCookie(attemptCookieName(cookies), cookies));
  // Issue 9: a language chosen on this browser before signing in becomes the patient's (notices follow it); without
  // one, a stored language other than the default becomes this browser's (the default 'en' may never have been
  // chosen by anyone, so it does not override the browser's Accept-Language).
  const chosen = chosenLocale(request, cookies);
  if (chosen) await setPatientLocale(options.db, options.orgId, options.patientId, chosen);
  else {
    const stored = await patientLocale(options.db, options.orgId, options.patientId);
    if (stored !== DEFAULT_LOCALE) headers.append('Set-Cookie', localeCookie(stored, cookies));
  }
  const returnCookie = readCookie(request, returnCookieName(cookies));
  if (returnCookie !== undefined) headers.append('Set-Cookie', clearCookie(returnCookieName(cookies), cookies));
  const back = options.followReturnCookie ? decodeReturnTo(options.followReturnCookie.slug, returnCookie) : undefined;
  return redirectTo(back ?? options.location, headers);
}
