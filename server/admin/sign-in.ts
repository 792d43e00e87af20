// Admin sign-in (ADR 010): email and password, then a second factor (an authenticator app code, or a passkey); or a
// passkey alone. Server functions take `now` so tests can move the clock.
//
// No account enumeration: an unknown email, a wrong password, a disabled admin and a locked one all get the same
// answer, after the same argon2 work. Repeated failures (password or code) lock the account for a while; a passkey
// still works while it is locked, since it cannot be guessed and the lock must not lock its owner out.
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { admins, adminSignInAttempts, sessions } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { keyedHash, randomToken, sha256 } from '../identity/codes';
import { PASSKEY_OPTIONS_LIMIT } from '../identity/passkey-flows';
import { consumeRateLimits, type RateLimit } from '../identity/rate-limit';
import type { KekRing } from '../messages/vault';
import { hasAdminPasskey } from './admin-passkeys';
import { normaliseAdminEmail, passwordNeedsRehash, hashPassword, verifyAgainstStandIn, verifyPassword } from './passwords';
import { createAdminSession } from './sessions';
import { checkTotp, hasConfirmedTotp } from './totp';

/** How long the second step may take after the password: long enough to find the phone. */
export const SIGN_IN_ATTEMPT_TTL_MS = 5 * 60 * 1000;
export const MAX_SECOND_FACTOR_TRIES = 5;
/** Every fifth consecutive failure locks: 15 minutes, then doubling, up to a day. */
export const LOCK_EVERY_FAILURES = 5;
export const LOCK_BASE_MS = 15 * 60 * 1000;
export const LOCK_MAX_MS = 24 * 60 * 60 * 1000;
/** Per client address, whatever the email (EN2): generous, since a clinic's staff share one address. */
export const ADMIN_SIGN_IN_IP_LIMIT: RateLimit = { name: 'admin_sign_in_ip', limit: 100, windowSeconds: 3600 };

export function lockDurationMs(consecutiveFailures: number): number | undefined {
  if (consecutiveFailures <= 0 || consecutiveFailures % LOCK_EVERY_FAILURES !== 0) return undefined;
  return Math.min(LOCK_BASE_MS * 2 ** (consecutiveFailures / LOCK_EVERY_FAILURES - 1), LOCK_MAX_MS);
}

export type SessionContext = { previousToken?: string; userAgent?: string | null };

export type PasswordStepResult =
  | { status: 'second_factor'; attemptToken: string; expiresAt: Date }
  | { status: 'refused' }
  | { status: 'rate_limited'; retryAfterSeconds: number };

/** Counts a failed password or code against the admin (the lock), and audits it. */
export async function recordFailure(
  tx: Tx,
  options: { orgId: string; adminId: string; failuresBefore: number; stage: 'password' | 'totp' | 'password_change' | 'step_up'; reason: string; now: Date },
): Promise<{ locked: boolean }> {
  const { orgId, adminId, now } = options;
  const failures = options.failuresBefore + 1;
  const lockMs = lockDurationMs(failures);
  await tx
    .update(admins)
    .set({ failedSignIns: failures, ...(lockMs ? { lockedUntil: new Date(now.getTime() + lockMs) } : {}) })
    .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)));
  await appendAudit(tx, orgId, {
    actorType: 'system',
    action: 'admin.sign_in.failed',
    subjectType: 'admin',
    subjectId: adminId,
    details: { stage: options.stage, reason: options.reason, consecutiveFailures: failures },
  });
  if (lockMs) {
    await appendAudit(tx, orgId, { actorType: 'system', action: 'admin.sign_in.locked', subjectType: 'admin', subjectId: adminId, details: { lockMinutes: lockMs / 60_000 } });
  }
  return { locked: lockMs !== undefined };
}

async function lockAdmin(tx: Tx, orgId: string, adminId: string) {
  const [row] = await tx
    .select({ id: admins.id, disabledAt: admins.disabledAt, lockedUntil: admins.lockedUntil, failedSignIns: admins.failedSignIns, passwordHash: admins.passwordHash })
    .from(admins)
    .where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)))
    .for('update');
  return row;
}

/** Step one: email and password. A right password opens a short-lived attempt for the second factor, bound to a cookie. */
export async function signInWithPassword(options: {
  db: Database;
  codeSecret: Buffer;
  orgId: string;
  email: string;
  password: string;
  ipAddress: string;
  now: Date;
}): Promise<PasswordStepResult> {
  const { db, codeSecret, orgId, now } = options;
  const rate = await consumeRateLimits(db, [{ limit: ADMIN_SIGN_IN_IP_LIMIT, key: keyedHash(codeSecret, 'ip', options.ipAddress) }], now);
  if (!rate.allowed) return { status: 'rate_limited', retryAfterSeconds: rate.retryAfterSeconds };

  const email = normaliseAdminEmail(options.email);
  const [admin] = email
    ? await db.select({ id: admins.id, passwordHash: admins.passwordHash }).from(admins).where(and(eq(admins.orgId, orgId), eq(admins.email, email)))
    : [];
  // The slow part happens outside the transaction, and for every email alike.
  const passwordOk = admin?.passwordHash ? await verifyPassword(admin.passwordHash, options.password) : await verifyAgainstStandIn(options.password);

  return db.transaction(async (tx) => {
    const refuse = async (reason: string, adminId?: string) => {
      await appendAudit(tx, orgId, {
        actorType: 'system',
        action: 'admin.sign_in.failed',
        subjectType: adminId ? 'admin' : null,
        subjectId: adminId ?? null,
        details: { stage: 'password', reason },
      });
      return { status: 'refused' } as const;
    };
    if (!admin) return refuse('unknown_account');
    const row = await lockAdmin(tx, orgId, admin.id);
    if (!row) return refuse('unknown_account');
    if (row.disabledAt) return refuse('disabled', admin.id);
    if (!row.passwordHash) return refuse('invitation_pending', admin.id);
    if (row.lockedUntil && row.lockedUntil.getTime() > now.getTime()) return refuse('locked', admin.id);
    if (!passwordOk || row.passwordHash !== admin.passwordHash) {
      await recordFailure(tx, { orgId, adminId: admin.id, failuresBefore: row.failedSignIns, stage: 'password', reason: 'wrong_password', now });
      return { status: 'refused' } as const;
    }
    if (!(await hasConfirmedTotp(tx, orgId, admin.id)) && !(await hasAdminPasskey(tx, orgId, admin.id))) return refuse('no_second_factor', admin.id);
    if (passwordNeedsRehash(row.passwordHash)) {
      await tx.update(admins).set({ passwordHash: await hashPassword(options.password) }).where(and(eq(admins.orgId, orgId), eq(admins.id, admin.id)));
    }
    const attemptToken = randomToken();
    const expiresAt = new Date(now.getTime() + SIGN_IN_ATTEMPT_TTL_MS);
    await tx.insert(adminSignInAttempts).values({ orgId, adminId: admin.id, attemptHash: sha256(attemptToken), createdAt: now, expiresAt });
    await appendAudit(tx, orgId, { actorType: 'system', action: 'admin.sign_in.password_accepted', subjectType: 'admin', subjectId: admin.id, details: {} });
    return { status: 'second_factor', attemptToken, expiresAt } as const;
  });
}

/** The open attempt behind a cookie, locked for the rest of the transaction; undefined when it cannot be used. */
async function openAttempt(tx: Tx, orgId: string, attemptToken: string | undefined, now: Date) {
  if (!attemptToken) return undefined;
  const [attempt] = await tx
    .select()
    .from(adminSignInAttempts)
    .where(and(eq(adminSignInAttempts.orgId, orgId), eq(adminSignInAttempts.attemptHash, sha256(attemptToken))))
    .for('update');
  if (!attempt || attempt.consumedAt || attempt.expiresAt.getTime() <= now.getTime() || attempt.failedTries >= MAX_SECOND_FACTOR_TRIES) return undefined;
  return attempt;
}

/** Which second factors the admin behind an attempt cookie has, for the second-step page; undefined when it is over. */
export async function secondFactorChoices(db: Database, options: { orgId: string; attemptToken: string | undefined; now: Date }) {
  if (!options.attemptToken) return undefined;
  const [attempt] = await db
    .select({ adminId: adminSignInAttempts.adminId, consumedAt: adminSignInAttempts.consumedAt, expiresAt: adminSignInAttempts.expiresAt, failedTries: adminSignInAttempts.failedTries })
    .from(adminSignInAttempts)
    .where(and(eq(adminSignInAttempts.orgId, options.orgId), eq(adminSignInAttempts.attemptHash, sha256(options.attemptToken))));
  if (!attempt || attempt.consumedAt || attempt.expiresAt.getTime() <= options.now.getTime() || attempt.failedTries >= MAX_SECOND_FACTOR_TRIES) return undefined;
  return {
    adminId: attempt.adminId,
    totp: await hasConfirmedTotp(db, options.orgId, attempt.adminId),
    passkey: await hasAdminPasskey(db, options.orgId, attempt.adminId),
  };
}

export type SecondFactorResult =
  | { status: 'signed_in'; token: string; adminId: string }
  | { status: 'no_attempt' }
  | { status: 'wrong'; triesLeft: number }
  | { status: 'locked' };

/**
 * Step two with an authenticator code. The attempt and the admin are locked, the code's step is recorded by the
 * replay-proof UPDATE (server/admin/totp.ts), and the session is made, all in one transaction.
 */
export async function signInWithTotp(options: {
  db: Database;
  ring: KekRing;
  orgId: string;
  attemptToken: string | undefined;
  code: string;
  session: SessionContext;
  now: Date;
}): Promise<SecondFactorResult> {
  const { db, ring, orgId, now } = options;
  return db.transaction(async (tx) => {
    const attempt = await openAttempt(tx, orgId, options.attemptToken, now);
    if (!attempt) return { status: 'no_attempt' } as const;
    const admin = await lockAdmin(tx, orgId, attempt.adminId);
    if (!admin || admin.disabledAt) {
      await tx.update(adminSignInAttempts).set({ consumedAt: now }).where(eq(adminSignInAttempts.id, attempt.id));
      await appendAudit(tx, orgId, { actorType: 'system', action: 'admin.sign_in.failed', subjectType: 'admin', subjectId: attempt.adminId, details: { stage: 'totp', reason: 'disabled' } });
      return { status: 'no_attempt' } as const;
    }
    if (admin.lockedUntil && admin.lockedUntil.getTime() > now.getTime()) {
      await appendAudit(tx, orgId, { actorType: 'system', action: 'admin.sign_in.failed', subjectType: 'admin', subjectId: admin.id, details: { stage: 'totp', reason: 'locked' } });
      return { status: 'locked' } as const;
    }
    const check = await checkTotp(tx, ring, { orgId, adminId: admin.id, code: options.code, now });
    if (check.status !== 'accepted') {
      await tx
        .update(adminSignInAttempts)
        .set({ failedTries: sql`${adminSignInAttempts.failedTries} + 1` })
        .where(eq(adminSignInAttempts.id, attempt.id));
      const { locked } = await recordFailure(tx, { orgId, adminId: admin.id, failuresBefore: admin.failedSignIns, stage: 'totp', reason: check.status, now });
      if (locked) return { status: 'locked' } as const;
      return { status: 'wrong', triesLeft: Math.max(0, MAX_SECOND_FACTOR_TRIES - attempt.failedTries - 1) } as const;
    }
    await tx.update(adminSignInAttempts).set({ consumedAt: now }).where(eq(adminSignInAttempts.id, attempt.id));
    await tx.update(admins).set({ failedSignIns: 0, lockedUntil: null }).where(and(eq(admins.orgId, orgId), eq(admins.id, admin.id)));
    const { token } = await createAdminSession(tx, { orgId, adminId: admin.id, method: 'password_totp', ...options.session, now });
    return { status: 'signed_in', token, adminId: admin.id } as const;
  });
}

/**
 * After a verified passkey (admin-passkeys.ts): the session. Used alone (usernameless) or as the second step, when
 * the attempt must be this admin's. A disabled admin is refused; a lock from failed passwords is lifted.
 */
export async function signInWithVerifiedPasskey(options: {
  db: Database;
  orgId: string;
  adminId: string;
  credentialId: string;
  attemptToken?: string;
  session: SessionContext;
  now: Date;
}): Promise<{ status: 'signed_in'; token: string } | { status: 'refused' }> {
  const { db, orgId, adminId, now } = options;
  return db.transaction(async (tx) => {
    const admin = await lockAdmin(tx, orgId, adminId);
    if (!admin || admin.disabledAt || !admin.passwordHash) {
      await appendAudit(tx, orgId, { actorType: 'system', action: 'admin.sign_in.failed', subjectType: 'admin', subjectId: adminId, details: { stage: 'passkey', reason: 'disabled' } });
      return { status: 'refused' } as const;
    }
    if (options.attemptToken) {
      const attempt = await openAttempt(tx, orgId, options.attemptToken, now);
      if (attempt?.adminId === adminId) await tx.update(adminSignInAttempts).set({ consumedAt: now }).where(eq(adminSignInAttempts.id, attempt.id));
    }
    await tx.update(admins).set({ failedSignIns: 0, lockedUntil: null }).where(and(eq(admins.orgId, orgId), eq(admins.id, adminId)));
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: adminId, action: 'admin.passkey.used', subjectType: 'admin_passkey', subjectId: options.credentialId, details: {} });
    const { token } = await createAdminSession(tx, { orgId, adminId, method: 'passkey', ...options.session, now });
    return { status: 'signed_in', token } as const;
  });
}

/** Ends every live session of an admin (disable, password reset), or every one but the current (password change). */
export async function endAdminSessions(tx: Tx, options: { orgId: string; adminId: string; exceptIdHash?: string; now: Date }): Promise<number> {
  const ended = await tx
    .update(sessions)
    .set({ revokedAt: options.now })
    .where(
      and(
        eq(sessions.orgId, options.orgId),
        eq(sessions.subjectType, 'admin'),
        eq(sessions.adminId, options.adminId),
        isNull(sessions.revokedAt),
        options.exceptIdHash ? ne(sessions.idHash, options.exceptIdHash) : undefined,
      ),
    )
    .returning({ idHash: sessions.idHash });
  return ended.length;
}

/** EN2 for admin passkey challenges: the patients' per-address allowance, counted apart. Seconds to wait, or undefined. */
export async function passkeyOptionsWait(db: Database, codeSecret: Buffer, ipAddress: string, now: Date): Promise<number | undefined> {
  const limit = { ...PASSKEY_OPTIONS_LIMIT, name: 'admin_passkey_options_ip' };
  const rate = await consumeRateLimits(db, [{ limit, key: keyedHash(codeSecret, 'ip', ipAddress) }], now);
  return rate.allowed ? undefined : rate.retryAfterSeconds;
}
