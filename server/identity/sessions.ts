// Patient sessions are database rows; the cookie carries a random 256-bit id and the table only its SHA-256 (SE1).
import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { sessions, type Session } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import type { Tx } from '../../db/client';
import { randomToken, sha256 } from './codes';

export const PATIENT_IDLE_MS = 15 * 60 * 1000; // SE2
export const PATIENT_ABSOLUTE_MS = 12 * 60 * 60 * 1000; // SE2
/** last_seen_at is written at most this often, so reading a page is not always a write. */
const TOUCH_EVERY_MS = 30 * 1000;

export type VerificationMethod = 'code_email' | 'code_sms' | 'code_dob' | 'passkey';

export type ActiveSession = Pick<Session, 'orgId' | 'patientId' | 'verificationMethod' | 'verifiedAt' | 'createdAt' | 'lastSeenAt' | 'expiresAt'> & {
  idHash: string;
  idleExpiresAt: Date;
};

/**
 * SE1: a fresh session at every sign-in. The session the browser had before, if any, is ended in the same
 * transaction, so an id fixed before sign-in is worthless after it.
 */
export async function createPatientSession(
  tx: Tx,
  options: { orgId: string; patientId: string; method: VerificationMethod; previousToken?: string; userAgent?: string | null; now: Date },
): Promise<{ token: string; expiresAt: Date }> {
  const { orgId, patientId, method } = options;
  const created = await insertSession(tx, { ...options, subject: { type: 'patient', id: patientId }, absoluteMs: PATIENT_ABSOLUTE_MS });
  await appendAudit(tx, orgId, { actorType: 'patient', actorId: patientId, action: 'identity.sign_in.succeeded', subjectType: 'patient', subjectId: patientId, details: { method } });
  return created;
}

/**
 * A new session row for a patient or an admin; the browser's previous session, if any, ends in the same transaction,
 * so an id fixed before sign-in is worthless after it (SE1). Only the token's SHA-256 is stored.
 */
export async function insertSession(
  tx: Tx,
  options: { orgId: string; subject: { type: 'patient' | 'admin'; id: string }; method: string; previousToken?: string; userAgent?: string | null; absoluteMs: number; now: Date },
): Promise<{ token: string; expiresAt: Date }> {
  const { orgId, subject, now } = options;
  if (options.previousToken) {
    await tx.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.idHash, sha256(options.previousToken)), isNull(sessions.revokedAt)));
  }
  const token = randomToken(32);
  const expiresAt = new Date(now.getTime() + options.absoluteMs);
  await tx.insert(sessions).values({
    idHash: sha256(token),
    orgId,
    subjectType: subject.type,
    patientId: subject.type === 'patient' ? subject.id : null,
    adminId: subject.type === 'admin' ? subject.id : null,
    verificationMethod: options.method,
    verifiedAt: now,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
    userAgent: describeUserAgent(options.userAgent),
  });
  return { token, expiresAt };
}

/**
 * The live session for a cookie in this organisation, or undefined. Past its idle or absolute timeout a
 * session is ended on the server, whatever the cookie says (SE2). Another organisation's session is not
 * a session here (EN3).
 */
export async function getPatientSession(db: DbOrTx, orgId: string, token: string | undefined, now: Date): Promise<ActiveSession | undefined> {
  if (!token || token.length > 100) return undefined;
  const idHash = sha256(token);
  const [row] = await db
    .select()
    .from(sessions)
    .where(and(eq(sessions.idHash, idHash), eq(sessions.orgId, orgId), eq(sessions.subjectType, 'patient'), isNull(sessions.revokedAt)));
  if (!row || !row.patientId) return undefined;
  const idleExpiresAt = new Date(row.lastSeenAt.getTime() + PATIENT_IDLE_MS);
  if (row.expiresAt.getTime() <= now.getTime() || idleExpiresAt.getTime() <= now.getTime()) {
    await db.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.idHash, idHash), isNull(sessions.revokedAt)));
    return undefined;
  }
  let lastSeenAt = row.lastSeenAt;
  if (now.getTime() - row.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    lastSeenAt = now;
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.idHash, idHash));
  }
  return {
    idHash,
    orgId: row.orgId,
    patientId: row.patientId,
    verificationMethod: row.verificationMethod,
    verifiedAt: row.verifiedAt,
    createdAt: row.createdAt,
    lastSeenAt,
    expiresAt: row.expiresAt,
    idleExpiresAt: new Date(lastSeenAt.getTime() + PATIENT_IDLE_MS),
  };
}

/** SE3: sign-out ends the row on the server; the cookie alone is worth nothing afterwards. */
export async function endPatientSession(tx: Tx, session: ActiveSession, now: Date): Promise<void> {
  await tx.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.idHash, session.idHash), isNull(sessions.revokedAt)));
  await appendAudit(tx, session.orgId, { actorType: 'patient', actorId: session.patientId, action: 'identity.sign_out', subjectType: 'patient', subjectId: session.patientId, details: { scope: 'this_session' } });
}

/** "Sign out everywhere": every live session of this patient in this organisation. */
export async function endAllPatientSessions(tx: Tx, orgId: string, patientId: string, now: Date): Promise<number> {
  const ended = await tx
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.orgId, orgId), eq(sessions.patientId, patientId), isNull(sessions.revokedAt)))
    .returning({ idHash: sessions.idHash });
  await appendAudit(tx, orgId, { actorType: 'patient', actorId: patientId, action: 'identity.sign_out', subjectType: 'patient', subjectId: patientId, details: { scope: 'everywhere', sessions: ended.length } });
  return ended.length;
}

export type SessionListing = { current: boolean; createdAt: Date; lastSeenAt: Date; method: string; device: string };

export async function listPatientSessions(db: DbOrTx, orgId: string, patientId: string, currentIdHash: string, now: Date): Promise<SessionListing[]> {
  const rows = await db
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.orgId, orgId),
        eq(sessions.patientId, patientId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, now),
        gt(sessions.lastSeenAt, new Date(now.getTime() - PATIENT_IDLE_MS)),
      ),
    )
    .orderBy(desc(sessions.lastSeenAt));
  return rows.map((r) => ({
    current: r.idHash === currentIdHash,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    method: r.verificationMethod,
    device: r.userAgent ?? 'Unknown browser',
  }));
}

/** "Chrome on Android": enough to recognise a device in the list, nothing more. */
export function describeUserAgent(ua: string | null | undefined): string | null {
  if (!ua) return null;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\/|Chromium\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'A browser';
  const system = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'an unknown system';
  return `${browser} on ${system}`;
}
