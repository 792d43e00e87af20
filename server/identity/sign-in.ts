// Sign-in by one-time code (OT1-OT4, OT6, EN1, EN2). Server functions take `now` so tests can move the clock.
import { randomUUID } from 'node:crypto';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type { Database, DbOrTx, Tx } from '../../db/client';
import { codeThrottles, contactPoints, patients, verifications, type Verification } from '../../db/schema/index';
import { appendAudit, type AuditEvent } from '../audit/chain';
import { CODE_TTL_MS, codeHmac, codeMatches, generateCode, keyedHash, MAX_TRIES_PER_CODE, randomToken, sha256 } from './codes';
import type { ContactInput } from './contact';
import { consumeRateLimits, type RateLimit } from './rate-limit';

// EN2. The organisation cap bounds what one tenant can spend on SMS and email in an hour.
export const CODE_SEND_LIMITS = {
  perIp: { name: 'code_send_ip', limit: 100, windowSeconds: 3600 }, // generous: clinics and hospitals share one address
  perContact: { name: 'code_send_contact', limit: 5, windowSeconds: 3600 },
  perOrganisation: { name: 'code_send_org', limit: 2000, windowSeconds: 3600 },
} satisfies Record<string, RateLimit>;

// OT4: free tries, then a wait that doubles per failure up to a cap, then a lock at 100 that a timer lifts.
export const FREE_FAILURES = 5;
export const MAX_WAIT_MS = 15 * 60 * 1000;
export const LOCK_AFTER_FAILURES = 100;
export const LOCK_MS = 24 * 60 * 60 * 1000;

export type CodePurpose = 'sign_in' | 'step_up' | 'contact_verify';
export type CodeMethod = 'code_email' | 'code_sms' | 'code_dob';

/** What must be sent, when the target is a verified contact point on record. Sent off the response path (EN1). */
/** `locale`: the patient's stored language, which the code email or SMS is written in (issue 9) unless the page chose one. */
export type CodeDelivery = { channel: 'email' | 'sms'; to: string; code: string; contactPointId: string; locale?: string };

export type RequestCodeResult =
  | { status: 'issued'; attemptToken: string; expiresAt: Date; delivery: CodeDelivery | undefined }
  | { status: 'rate_limited'; retryAfterSeconds: number };

export function waitAfterFailures(consecutiveFailures: number): number {
  if (consecutiveFailures < FREE_FAILURES) return 0;
  return Math.min(1000 * 2 ** (consecutiveFailures - FREE_FAILURES), MAX_WAIT_MS);
}

/**
 * Issues a code for `contact`. Known and unknown targets take the same path: a verification row is written
 * either way, and only a verified contact point on record gets a code sent (OT6). The caller answers the same
 * thing in both cases and sends `delivery` after answering.
 */
export async function requestCode(options: {
  db: Database;
  codeSecret: Buffer;
  orgId: string;
  contact: ContactInput;
  ipAddress: string;
  purpose?: CodePurpose;
  patientId?: string;
  now: Date;
}): Promise<RequestCodeResult> {
  const { db, codeSecret, orgId, contact, now } = options;
  const purpose = options.purpose ?? 'sign_in';
  const targetHash = keyedHash(codeSecret, orgId, contact.kind, contact.value);
  return db.transaction(async (tx) => {
    const rate = await consumeRateLimits(
      tx,
      [
        { limit: CODE_SEND_LIMITS.perIp, key: keyedHash(codeSecret, 'ip', options.ipAddress) },
        { limit: CODE_SEND_LIMITS.perContact, key: `${orgId}:${targetHash}` },
        { limit: CODE_SEND_LIMITS.perOrganisation, key: orgId },
      ],
      now,
    );
    if (!rate.allowed) {
      await appendAudit(tx, orgId, { actorType: 'system', action: 'identity.code.rate_limited', details: { limit: rate.limit.name } });
      return { status: 'rate_limited', retryAfterSeconds: rate.retryAfterSeconds } as const;
    }

    const [point] = await tx
      .select({ id: contactPoints.id, patientId: contactPoints.patientId, locale: patients.locale })
      .from(contactPoints)
      .innerJoin(patients, and(eq(patients.orgId, contactPoints.orgId), eq(patients.id, contactPoints.patientId)))
      .where(
        and(
          eq(contactPoints.orgId, orgId),
          eq(contactPoints.kind, contact.kind),
          eq(contactPoints.value, contact.value),
          isNotNull(contactPoints.verifiedAt),
        ),
      );
    // Step-up and contact verification only ever go to the signed-in patient's own contact points.
    const usable = point && (options.patientId === undefined || point.patientId === options.patientId) ? point : undefined;

    const { code, attemptToken, expiresAt } = await issueVerification(
      tx,
      codeSecret,
      { orgId, purpose, targetHash, channel: contact.kind, contactPointId: usable?.id ?? null, patientId: options.patientId ?? null },
      now,
    );

    await appendAudit(tx, orgId, {
      actorType: options.patientId ? 'patient' : 'system',
      actorId: options.patientId ?? null,
      action: 'identity.code.requested',
      subjectType: usable ? 'contact_point' : null,
      subjectId: usable?.id ?? null,
      details: { purpose, channel: contact.kind, sent: usable !== undefined },
    });

    return {
      status: 'issued',
      attemptToken,
      expiresAt,
      delivery: usable ? { channel: contact.kind, to: contact.value, code, contactPointId: usable.id, locale: usable.locale } : undefined,
    } as const;
  });
}

export type VerifyCodeResult =
  | { status: 'verified'; patientId: string; contactPointId: string; method: CodeMethod }
  | { status: 'no_attempt' } // no code asked for in this browser, or it was replaced (OT3)
  | { status: 'used' }
  | { status: 'expired' }
  | { status: 'too_many_tries' }
  | { status: 'wait'; retryAfterSeconds: number }
  | { status: 'locked' }
  | { status: 'wrong'; triesLeft: number };

/**
 * Checks a code against the attempt bound to this browser. Every outcome is committed: a failure counts even
 * though nothing is thrown, and a success consumes the code so a replay finds it used (OT2).
 */
export async function verifyCode(options: {
  db: Database;
  codeSecret: Buffer;
  orgId: string;
  attemptToken: string | undefined;
  code: string;
  purpose?: CodePurpose;
  /**
   * OT5: "code plus date of birth" (YYYY-MM-DD). Checked together with the code, so a wrong date counts as a
   * failed try like a wrong code, and the answer never says which of the two was wrong.
   */
  dateOfBirth?: string;
  now: Date;
}): Promise<VerifyCodeResult> {
  const { db, codeSecret, orgId, code, now } = options;
  const purpose = options.purpose ?? 'sign_in';
  if (!options.attemptToken) return { status: 'no_attempt' };

  return db.transaction(async (tx) => {
    const attempt = await openAttempt(tx, { orgId, attemptToken: options.attemptToken!, purpose, now });
    if (attempt.status !== 'open') return attempt;
    const v = attempt.verification;

    const gate = await openThrottle(tx, orgId, v.targetHash, now);
    if (gate.status !== 'open') return gate;

    const actor = { actorType: 'system' as const, subjectType: v.contactPointId ? 'contact_point' : null, subjectId: v.contactPointId };
    const codeOk = v.contactPointId !== null && /^\d{6}$/.test(code) && codeMatches(codeSecret, v.id, code, v.codeHmac);
    const dobOk = options.dateOfBirth === undefined || (codeOk && (await dateOfBirthMatches(tx, orgId, v.contactPointId!, options.dateOfBirth)));
    const matches = codeOk && dobOk;
    if (!matches) return recordCodeFailure(tx, { orgId, verification: v, failures: gate.failures, actor, purpose, reason: codeOk ? 'date_of_birth' : 'code', now });

    const [point] = await tx
      .select({ patientId: contactPoints.patientId })
      .from(contactPoints)
      .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.id, v.contactPointId!)));
    if (!point) return { status: 'no_attempt' } as const; // the contact point was removed meanwhile
    await recordCodeSuccess(tx, orgId, v, now);
    const method: CodeMethod = options.dateOfBirth !== undefined ? 'code_dob' : v.channel === 'sms' ? 'code_sms' : 'code_email';
    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: point.patientId,
      action: 'identity.code.verified',
      subjectType: 'contact_point',
      subjectId: v.contactPointId,
      details: { purpose, method },
    });
    return { status: 'verified', patientId: point.patientId, contactPointId: v.contactPointId!, method } as const;
  });
}

/**
 * Writes a fresh code for a target, replacing any earlier one for the same target and purpose (OT1-OT3): the code is
 * stored only as an HMAC bound to the row id, the attempt cookie only as a hash, and it lives CODE_TTL_MS.
 */
export async function issueVerification(
  tx: Tx,
  codeSecret: Buffer,
  row: Pick<Verification, 'orgId' | 'purpose' | 'targetHash' | 'channel' | 'contactPointId' | 'patientId'>,
  now: Date,
): Promise<{ id: string; code: string; attemptToken: string; expiresAt: Date }> {
  const id = randomUUID();
  const code = generateCode();
  const attemptToken = randomToken();
  const expiresAt = new Date(now.getTime() + CODE_TTL_MS);
  const values = {
    ...row,
    id,
    codeHmac: codeHmac(codeSecret, id, code),
    attemptHash: sha256(attemptToken),
    failedTries: 0,
    createdAt: now,
    expiresAt,
    consumedAt: null,
  };
  await tx
    .insert(verifications)
    .values(values)
    .onConflictDoUpdate({ target: [verifications.orgId, verifications.targetHash, verifications.purpose], set: values });
  return { id, code, attemptToken, expiresAt };
}

/**
 * The code asked for in this browser (OT3), locked for the rest of the transaction, if it can still be tried: not
 * used (OT2), not expired, fewer than MAX_TRIES_PER_CODE failures (OT4). `belongs` narrows whose attempt it may be.
 */
export async function openAttempt(
  tx: Tx,
  options: { orgId: string; attemptToken: string; purpose: CodePurpose; now: Date; belongs?: (v: Verification) => boolean },
): Promise<{ status: 'open'; verification: Verification } | { status: 'no_attempt' | 'used' | 'expired' | 'too_many_tries' }> {
  const [v] = await tx
    .select()
    .from(verifications)
    .where(and(eq(verifications.orgId, options.orgId), eq(verifications.attemptHash, sha256(options.attemptToken)), eq(verifications.purpose, options.purpose)))
    .for('update');
  if (!v || (options.belongs && !options.belongs(v))) return { status: 'no_attempt' };
  if (v.consumedAt) return { status: 'used' };
  if (v.expiresAt.getTime() <= options.now.getTime()) return { status: 'expired' };
  if (v.failedTries >= MAX_TRIES_PER_CODE) return { status: 'too_many_tries' };
  return { status: 'open', verification: v };
}

/**
 * OT4, shared by every code flow: locks the target's throttle row and says whether a try may be made now. A timed
 * lock that has run out starts the count afresh.
 */
export async function openThrottle(
  tx: Tx,
  orgId: string,
  targetHash: string,
  now: Date,
): Promise<{ status: 'open'; failures: number } | { status: 'locked' } | { status: 'wait'; retryAfterSeconds: number }> {
  await tx.insert(codeThrottles).values({ orgId, targetHash }).onConflictDoNothing();
  const [throttle] = await tx
    .select()
    .from(codeThrottles)
    .where(and(eq(codeThrottles.orgId, orgId), eq(codeThrottles.targetHash, targetHash)))
    .for('update');
  let failures = throttle?.consecutiveFailures ?? 0;
  if (throttle?.lockedUntil) {
    if (throttle.lockedUntil.getTime() > now.getTime()) return { status: 'locked' };
    failures = 0; // the timed unlock: a fresh start
  }
  if (throttle?.nextTryAt && throttle.nextTryAt.getTime() > now.getTime()) {
    return { status: 'wait', retryAfterSeconds: Math.ceil((throttle.nextTryAt.getTime() - now.getTime()) / 1000) };
  }
  return { status: 'open', failures };
}

/** A wrong try: counted on the code (5 per code) and on the target (the increasing wait, the lock at 100), and audited. */
export async function recordCodeFailure(
  tx: Tx,
  options: {
    orgId: string;
    verification: Pick<Verification, 'id' | 'targetHash' | 'failedTries'>;
    failures: number;
    actor: Pick<AuditEvent, 'actorType' | 'actorId' | 'subjectType' | 'subjectId'>;
    purpose: CodePurpose;
    reason: string;
    now: Date;
  },
): Promise<{ status: 'locked' } | { status: 'wrong'; triesLeft: number }> {
  const { orgId, verification: v, actor, purpose, now } = options;
  const failures = options.failures + 1;
  const locked = failures >= LOCK_AFTER_FAILURES;
  const wait = waitAfterFailures(failures);
  await tx
    .update(verifications)
    .set({ failedTries: sql`${verifications.failedTries} + 1` })
    .where(eq(verifications.id, v.id));
  await tx
    .update(codeThrottles)
    .set({
      consecutiveFailures: failures,
      nextTryAt: wait > 0 ? new Date(now.getTime() + wait) : null,
      lockedUntil: locked ? new Date(now.getTime() + LOCK_MS) : null,
    })
    .where(and(eq(codeThrottles.orgId, orgId), eq(codeThrottles.targetHash, v.targetHash)));
  await appendAudit(tx, orgId, { ...actor, action: 'identity.code.failed', details: { purpose, consecutiveFailures: failures, reason: options.reason } });
  if (locked) {
    await appendAudit(tx, orgId, { ...actor, action: 'identity.code.locked', details: { purpose, lockHours: LOCK_MS / 3_600_000 } });
    return { status: 'locked' };
  }
  return { status: 'wrong', triesLeft: Math.max(0, MAX_TRIES_PER_CODE - (v.failedTries + 1)) };
}

/** A right code: used up (OT2, so a replay finds it used) and the target's failure count reset (OT4). */
export async function recordCodeSuccess(tx: Tx, orgId: string, v: Pick<Verification, 'id' | 'targetHash'>, now: Date): Promise<void> {
  await tx.update(verifications).set({ consumedAt: now }).where(eq(verifications.id, v.id));
  await tx
    .update(codeThrottles)
    .set({ consecutiveFailures: 0, nextTryAt: null, lockedUntil: null })
    .where(and(eq(codeThrottles.orgId, orgId), eq(codeThrottles.targetHash, v.targetHash)));
}

async function dateOfBirthMatches(tx: Tx, orgId: string, contactPointId: string, dateOfBirth: string): Promise<boolean> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(dateOfBirth)) return false;
  const [row] = await tx
    .select({ dateOfBirth: patients.dateOfBirth })
    .from(contactPoints)
    .innerJoin(patients, and(eq(patients.orgId, contactPoints.orgId), eq(patients.id, contactPoints.patientId)))
    .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.id, contactPointId)));
  // A patient with no date of birth on record can never pass this check: the organisation must supply one.
  return row?.dateOfBirth != null && row.dateOfBirth === dateOfBirth;
}

/** Support's unlock (server/admin/support.ts) and tests use this; the timed unlock needs nothing. */
export async function unlockContact(db: DbOrTx, codeSecret: Buffer, orgId: string, contact: ContactInput): Promise<void> {
  const targetHash = keyedHash(codeSecret, orgId, contact.kind, contact.value);
  await db
    .update(codeThrottles)
    .set({ consecutiveFailures: 0, nextTryAt: null, lockedUntil: null })
    .where(and(eq(codeThrottles.orgId, orgId), eq(codeThrottles.targetHash, targetHash)));
}
