// Password reset by a code sent to the admin's email (ADR 010), made like patient sign-in codes: six CSPRNG digits
// kept only as an HMAC bound to the row (OT1), ten minutes and once (OT2), only in the browser that asked (OT3),
// five tries (OT4). An unknown address gets a row too and the same answer, and no mail (EN1). A reset sets the
// password only: the second factor is still asked for at the next sign-in, and every session of the admin ends.
import { randomUUID } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { adminPasswordResets, admins } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { CODE_TTL_MS, codeHmac, codeMatches, generateCode, keyedHash, MAX_TRIES_PER_CODE, randomToken, sha256 } from '../identity/codes';
import { sendToContact, type CodeTransports } from '../identity/code-delivery';
import { consumeRateLimits, type RateLimit } from '../identity/rate-limit';
import { normaliseAdminEmail } from './passwords';
import { endAdminSessions } from './sign-in';

export const RESET_LIMITS = {
  perIp: { name: 'admin_reset_ip', limit: 30, windowSeconds: 3600 },
  perEmail: { name: 'admin_reset_email', limit: 5, windowSeconds: 3600 },
} satisfies Record<string, RateLimit>;

export type ResetDelivery = { to: string; code: string; adminId: string };

export type RequestResetResult =
  | { status: 'issued'; attemptToken: string; delivery: ResetDelivery | undefined }
  | { status: 'invalid_email' }
  | { status: 'rate_limited'; retryAfterSeconds: number };

export async function requestPasswordReset(options: { db: Database; codeSecret: Buffer; orgId: string; email: string; ipAddress: string; now: Date }): Promise<RequestResetResult> {
  const { db, codeSecret, orgId, now } = options;
  const email = normaliseAdminEmail(options.email);
  if (!email) return { status: 'invalid_email' };
  return db.transaction(async (tx) => {
    const rate = await consumeRateLimits(
      tx,
      [
        { limit: RESET_LIMITS.perIp, key: keyedHash(codeSecret, 'ip', options.ipAddress) },
        { limit: RESET_LIMITS.perEmail, key: keyedHash(codeSecret, orgId, 'admin-email', email) },
      ],
      now,
    );
    if (!rate.allowed) return { status: 'rate_limited', retryAfterSeconds: rate.retryAfterSeconds } as const;
    const [admin] = await tx
      .select({ id: admins.id })
      .from(admins)
      .where(and(eq(admins.orgId, orgId), eq(admins.email, email), isNull(admins.disabledAt), sql`${admins.passwordHash} is not null`));
    // Asking again replaces the earlier code.
    if (admin) await tx.delete(adminPasswordResets).where(and(eq(adminPasswordResets.orgId, orgId), eq(adminPasswordResets.adminId, admin.id), isNull(adminPasswordResets.consumedAt)));
    const id = randomUUID();
    const code = generateCode();
    const attemptToken = randomToken();
    await tx.insert(adminPasswordResets).values({
      id,
      orgId,
      adminId: admin?.id ?? null,
      codeHmac: codeHmac(codeSecret, id, code),
      attemptHash: sha256(attemptToken),
      createdAt: now,
      expiresAt: new Date(now.getTime() + CODE_TTL_MS),
    });
    await appendAudit(tx, orgId, {
      actorType: 'system',
      action: 'admin.password.reset_requested',
      subjectType: admin ? 'admin' : null,
      subjectId: admin?.id ?? null,
      details: { sent: admin !== undefined },
    });
    return { status: 'issued', attemptToken, delivery: admin ? { to: email, code, adminId: admin.id } : undefined } as const;
  });
}

export async function deliverResetCode(transports: CodeTransports, orgName: string, delivery: ResetDelivery): Promise<void> {
  const text = [
    `Your code to choose a new ${orgName} admin console password is ${delivery.code}`,
    '',
    'It works once, for 10 minutes, in the browser where you asked for it.',
    'If you did not ask for it, you can ignore this email: your password stays as it is.',
  ].join('\n');
  await sendToContact(
    transports,
    { channel: 'email', to: delivery.to, subject: `Your ${orgName} password reset code`, text, sms: '' },
    { ids: { adminId: delivery.adminId }, sent: 'admin reset code sent', failed: 'admin reset code not sent' },
  );
}

export type ResetResult =
  | { status: 'reset' }
  | { status: 'no_attempt' }
  | { status: 'expired' }
  | { status: 'used' }
  | { status: 'too_many_tries' }
  | { status: 'wrong'; triesLeft: number };

/** Checks the code from the email and sets the new password (already hashed by the caller, after its strength check). */
export async function resetPassword(options: {
  db: Database;
  codeSecret: Buffer;
  orgId: string;
  attemptToken: string | undefined;
  code: string;
  newPasswordHash: string;
  now: Date;
}): Promise<ResetResult> {
  const { db, codeSecret, orgId, now } = options;
  if (!options.attemptToken) return { status: 'no_attempt' };
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(adminPasswordResets)
      .where(and(eq(adminPasswordResets.orgId, orgId), eq(adminPasswordResets.attemptHash, sha256(options.attemptToken!))))
      .for('update');
    if (!row) return { status: 'no_attempt' } as const;
    if (row.consumedAt) return { status: 'used' } as const;
    if (row.expiresAt.getTime() <= now.getTime()) return { status: 'expired' } as const;
    if (row.failedTries >= MAX_TRIES_PER_CODE) return { status: 'too_many_tries' } as const;
    const code = options.code.replace(/\s+/g, '');
    const ok = row.adminId !== null && /^\d{6}$/.test(code) && codeMatches(codeSecret, row.id, code, row.codeHmac);
    if (!ok) {
      await tx.update(adminPasswordResets).set({ failedTries: row.failedTries + 1 }).where(eq(adminPasswordResets.id, row.id));
      await appendAudit(tx, orgId, {
        actorType: 'system',
        action: 'admin.password.reset_failed',
        subjectType: row.adminId ? 'admin' : null,
        subjectId: row.adminId,
        details: { reason: 'wrong_code', tries: row.failedTries + 1 },
      });
      return { status: 'wrong', triesLeft: Math.max(0, MAX_TRIES_PER_CODE - row.failedTries - 1) } as const;
    }
    const [admin] = await tx
      .update(admins)
      .set({ passwordHash: options.newPasswordHash, failedSignIns: 0, lockedUntil: null })
      .where(and(eq(admins.orgId, orgId), eq(admins.id, row.adminId!), isNull(admins.disabledAt)))
      .returning({ id: admins.id });
    await tx.update(adminPasswordResets).set({ consumedAt: now }).where(eq(adminPasswordResets.id, row.id));
    if (!admin) return { status: 'no_attempt' } as const; // disabled meanwhile
    const ended = await endAdminSessions(tx, { orgId, adminId: admin.id, now });
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: admin.id, action: 'admin.password.reset', subjectType: 'admin', subjectId: admin.id, details: { sessionsEnded: ended } });
    return { status: 'reset' } as const;
  });
}
