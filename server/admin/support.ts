// Patient support (the 'support' capability): find a patient who phoned in, see whether their sign-in is locked, and
// unlock it. Support sees who the patient is and masked contact points, never messages, consent details or full
// contact values. Searches are POSTed, so what was searched for never lands in a URL or an access log.
import { and, eq, inArray } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { codeThrottles, contactPoints, patients } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { keyedHash } from '../identity/codes';
import { maskContact, normaliseContact } from '../identity/contact';
import { unlockContact } from '../identity/sign-in';
import { isUuid } from '../ids';

export type SupportContact = { id: string; kind: 'email' | 'sms'; masked: string; verified: boolean; lockedUntil: Date | null; failures: number };
export type SupportPatient = { id: string; displayName: string; externalRef: string; contacts: SupportContact[] };

const MAX_RESULTS = 10;

/** By exact email address or mobile number, or exact patient reference; at most ten patients. */
export async function findPatientsForSupport(db: DbOrTx, codeSecret: Buffer, orgId: string, query: string, now: Date): Promise<SupportPatient[]> {
  const q = query.trim();
  if (q.length === 0 || q.length > 254) return [];
  const contact = normaliseContact(q);
  const ids = new Set<string>();
  if (contact) {
    const rows = await db
      .select({ patientId: contactPoints.patientId })
      .from(contactPoints)
      .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.kind, contact.kind), eq(contactPoints.value, contact.value)))
      .limit(MAX_RESULTS);
    for (const r of rows) ids.add(r.patientId);
  }
  const byRef = await db.select({ id: patients.id }).from(patients).where(and(eq(patients.orgId, orgId), eq(patients.externalRef, q))).limit(MAX_RESULTS);
  for (const r of byRef) ids.add(r.id);
  return supportViews(db, codeSecret, orgId, [...ids].slice(0, MAX_RESULTS), now);
}

export async function patientForSupport(db: DbOrTx, codeSecret: Buffer, orgId: string, patientId: string, now: Date): Promise<SupportPatient | undefined> {
  if (!isUuid(patientId)) return undefined;
  const [view] = await supportViews(db, codeSecret, orgId, [patientId], now);
  return view;
}

async function supportViews(db: DbOrTx, codeSecret: Buffer, orgId: string, patientIds: string[], now: Date): Promise<SupportPatient[]> {
  if (patientIds.length === 0) return [];
  const people = await db
    .select({ id: patients.id, displayName: patients.displayName, externalRef: patients.externalRef })
    .from(patients)
    .where(and(eq(patients.orgId, orgId), inArray(patients.id, patientIds)))
    .orderBy(patients.displayName);
  const points = await db
    .select({ id: contactPoints.id, patientId: contactPoints.patientId, kind: contactPoints.kind, value: contactPoints.value, verifiedAt: contactPoints.verifiedAt })
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, orgId), inArray(contactPoints.patientId, patientIds)))
    .orderBy(contactPoints.createdAt);
  // The throttle is keyed by an HMAC of the contact point, so the lock is found the way sign-in finds it.
  const hashes = points.map((p) => keyedHash(codeSecret, orgId, p.kind, p.value));
  const throttles = hashes.length
    ? await db.select().from(codeThrottles).where(and(eq(codeThrottles.orgId, orgId), inArray(codeThrottles.targetHash, hashes)))
    : [];
  const throttleOf = new Map(throttles.map((t) => [t.targetHash, t]));
  return people.map((person) => ({
    ...person,
    contacts: points
      .map((p, i) => ({ p, throttle: throttleOf.get(hashes[i]!) }))
      .filter(({ p }) => p.patientId === person.id)
      .map(({ p, throttle }) => ({
        id: p.id,
        kind: p.kind,
        masked: maskContact({ kind: p.kind, value: p.value }),
        verified: p.verifiedAt !== null,
        lockedUntil: throttle?.lockedUntil && throttle.lockedUntil > now ? throttle.lockedUntil : null,
        failures: throttle?.consecutiveFailures ?? 0,
      })),
  }));
}

/** Clears the failed-code count and lock of one contact point of this organisation (OT4), with an audit event. */
export async function unlockContactForSupport(
  db: Database,
  codeSecret: Buffer,
  options: { orgId: string; contactPointId: string; actor: { type: 'admin'; id: string }; now: Date },
): Promise<{ status: 'unlocked'; patientId: string } | { status: 'not_found' }> {
  if (!isUuid(options.contactPointId)) return { status: 'not_found' };
  return db.transaction(async (tx) => {
    const [point] = await tx
      .select({ patientId: contactPoints.patientId, kind: contactPoints.kind, value: contactPoints.value })
      .from(contactPoints)
      .where(and(eq(contactPoints.orgId, options.orgId), eq(contactPoints.id, options.contactPointId)));
    if (!point) return { status: 'not_found' as const };
    await unlockContact(tx, codeSecret, options.orgId, { kind: point.kind, value: point.value });
    await appendAudit(tx, options.orgId, {
      actorType: 'admin',
      actorId: options.actor.id,
      action: 'support.sign_in_unlocked',
      subjectType: 'patient',
      subjectId: point.patientId,
      details: { contactPointId: options.contactPointId, kind: point.kind },
    });
    return { status: 'unlocked' as const, patientId: point.patientId };
  });
}
