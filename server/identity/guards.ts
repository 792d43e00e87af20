// requirePatient: loaders read top to bottom; this throws the redirect or the 404 (STYLE.md, Epic Stack habit).
import { and, eq, isNotNull } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { contactPoints, patients } from '../../db/schema/index';
import { getOrganisationBranding, type OrganisationBranding } from '../orgs/organisations';
import { readCookie, sessionCookieName, type CookieSettings } from './cookies';
import { getPatientSession, type ActiveSession } from './sessions';


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
