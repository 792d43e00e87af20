// Authenticator apps for admins (RFC 6238, otplib 13; ADR 010). The secret is sealed in the vault, bound to the
// organisation and the admin. A code is accepted for the current 30-second step or one step either side (clock
// drift), and only by an UPDATE that moves the stored last step forward: a code used once, or any older one, is
// refused, also when two requests bring the same code at the same moment (only one UPDATE can move it).
import { and, eq, isNotNull, isNull, lt } from 'drizzle-orm';
import { generate, generateSecret, generateURI, verify } from 'otplib';
import type { DbOrTx, Tx } from '../../db/client';
import { adminTotpFactors } from '../../db/schema/index';
import { open, seal, type KekRing, type SealContext } from '../messages/vault';

export const TOTP_PERIOD_SECONDS = 30;
/** One step either side of now. */
export const TOTP_TOLERANCE_SECONDS = TOTP_PERIOD_SECONDS;

const sealContext = (orgId: string, adminId: string): SealContext => ({ orgId, purpose: `admin-totp:${adminId}` });

/** 20 random bytes (160 bits, RFC 4226's recommendation), as the 32 base32 characters authenticator apps take. */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** "ABCD EFGH ..." for typing into an app by hand. */
export function groupedSecret(secret: string): string {
  return secret.match(/.{1,4}/g)?.join(' ') ?? secret;
}

/** The otpauth:// URI an app reads (as a QR code or pasted): issuer and label only, nothing else about the admin. */
export function otpauthUri(options: { issuer: string; email: string; secret: string }): string {
  return generateURI({ issuer: options.issuer, label: options.email, secret: options.secret, period: TOTP_PERIOD_SECONDS, digits: 6, algorithm: 'sha1' });
}

/** The code an app shows at `now` (tests and the seed's documentation only). */
export async function totpCode(secret: string, now: Date): Promise<string> {
  return generate({ secret, epoch: Math.floor(now.getTime() / 1000), period: TOTP_PERIOD_SECONDS });
}

/** The time step a code belongs to, if it is right for now or one step either side. */
export async function matchTotp(secret: string, code: string, now: Date): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verify({
    secret,
    token: code,
    epoch: Math.floor(now.getTime() / 1000),
    epochTolerance: TOTP_TOLERANCE_SECONDS,
    period: TOTP_PERIOD_SECONDS,
  });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

export function sealAdminTotpSecret(ring: KekRing, orgId: string, adminId: string, secret: string) {
  return seal(ring, sealContext(orgId, adminId), secret);
}

/** Writes a new, unconfirmed factor for an enrolment, replacing an earlier unconfirmed one; never a confirmed one. */
export async function storePendingTotp(tx: Tx, ring: KekRing, options: { orgId: string; adminId: string; secret: string; now: Date }): Promise<boolean> {
  const { orgId, adminId, now } = options;
  const sealed = sealAdminTotpSecret(ring, orgId, adminId, options.secret);
  const rows = await tx
    .insert(adminTotpFactors)
    .values({ orgId, adminId, secret: sealed, lastStep: 0, createdAt: now, confirmedAt: null })
    .onConflictDoUpdate({
      target: [adminTotpFactors.orgId, adminTotpFactors.adminId],
      set: { secret: sealed, lastStep: 0, createdAt: now },
      setWhere: isNull(adminTotpFactors.confirmedAt),
    })
    .returning({ adminId: adminTotpFactors.adminId });
  return rows.length === 1;
}

/** The factor's secret in clear, for showing during enrolment or checking a code. */
export async function openTotpSecret(db: DbOrTx, ring: KekRing, options: { orgId: string; adminId: string; confirmed: boolean }): Promise<string | undefined> {
  const [row] = await db
    .select({ secret: adminTotpFactors.secret })
    .from(adminTotpFactors)
    .where(
      and(
        eq(adminTotpFactors.orgId, options.orgId),
        eq(adminTotpFactors.adminId, options.adminId),
        options.confirmed ? isNotNull(adminTotpFactors.confirmedAt) : isNull(adminTotpFactors.confirmedAt),
      ),
    );
  return row ? open(ring, sealContext(options.orgId, options.adminId), row.secret).toString('utf8') : undefined;
}

export async function hasConfirmedTotp(db: DbOrTx, orgId: string, adminId: string): Promise<boolean> {
  const [row] = await db
    .select({ adminId: adminTotpFactors.adminId })
    .from(adminTotpFactors)
    .where(and(eq(adminTotpFactors.orgId, orgId), eq(adminTotpFactors.adminId, adminId), isNotNull(adminTotpFactors.confirmedAt)));
  return row !== undefined;
}

export type TotpCheck = { status: 'accepted'; step: number } | { status: 'wrong' } | { status: 'replayed' } | { status: 'no_factor' };

/**
 * Checks a code against the admin's factor and, if right, records its step in the same statement that checks the
 * step is new. `enrolment`: the unconfirmed factor of an invitation, confirmed by this code.
 */
export async function checkTotp(
  tx: Tx,
  ring: KekRing,
  options: { orgId: string; adminId: string; code: string; enrolment?: boolean; now: Date },
): Promise<TotpCheck> {
  const { orgId, adminId, now } = options;
  const enrolment = options.enrolment ?? false;
  const secret = await openTotpSecret(tx, ring, { orgId, adminId, confirmed: !enrolment });
  if (!secret) return { status: 'no_factor' };
  const step = await matchTotp(secret, options.code.replace(/\s+/g, ''), now);
  if (step === undefined) return { status: 'wrong' };
  const [moved] = await tx
    .update(adminTotpFactors)
    .set(enrolment ? { lastStep: step, confirmedAt: now } : { lastStep: step })
    .where(
      and(
        eq(adminTotpFactors.orgId, orgId),
        eq(adminTotpFactors.adminId, adminId),
        lt(adminTotpFactors.lastStep, step),
        enrolment ? isNull(adminTotpFactors.confirmedAt) : isNotNull(adminTotpFactors.confirmedAt),
      ),
    )
    .returning({ lastStep: adminTotpFactors.lastStep });
  return moved ? { status: 'accepted', step } : { status: 'replayed' };
}
