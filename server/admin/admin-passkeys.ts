// Admin passkeys on @simplewebauthn/server, with the same checks as patients' (PK1-PK6, server/identity/passkeys.ts,
// whose ceremony inspection this reuses) and tables of their own. A passkey with user verification is something
// the admin has and something they are or know, so it satisfies both sign-in factors (ADR 010).
import { createHash, randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { decodeAttestationObject } from '@simplewebauthn/server/helpers';
import { and, asc, eq, lt } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { adminPasskeys, adminWebauthnChallenges, type AdminWebauthnChallenge } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { isUuid } from '../ids';
import {
  BASE64URL,
  CHALLENGE_BYTES,
  CHALLENGE_TTL_MS,
  fromBase64url,
  inspectCeremony,
  MAX_CREDENTIAL_ID_LENGTH,
  normalisePasskeyName,
  toTransports,
  type PasskeyCheckFailure,
} from '../identity/passkeys';

export type AdminPasskeyListing = { id: string; name: string; createdAt: Date; lastUsedAt: Date | null };

/** Opaque and stable per admin, and never equal to a patient's handle (a different prefix). */
export function adminUserHandle(orgId: string, adminId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(`carepost:webauthn-admin:${orgId}:${adminId}`).digest());
}

async function storeChallenge(db: Database, values: { orgId: string; purpose: AdminWebauthnChallenge['purpose']; adminId: string | null; challenge: string; now: Date }) {
  const expiresAt = new Date(values.now.getTime() + CHALLENGE_TTL_MS);
  const [row] = await db
    .insert(adminWebauthnChallenges)
    .values({ orgId: values.orgId, purpose: values.purpose, adminId: values.adminId, challenge: values.challenge, createdAt: values.now, expiresAt })
    .returning({ id: adminWebauthnChallenges.id });
  return { challengeId: row!.id, expiresAt };
}

/** PK1: deleted first, then checked, so a challenge answers one ceremony whatever the outcome. */
async function consumeChallenge(tx: Tx, options: { orgId: string; challengeId: string; purpose: AdminWebauthnChallenge['purpose']; now: Date }) {
  if (!isUuid(options.challengeId)) return undefined;
  const [row] = await tx
    .delete(adminWebauthnChallenges)
    .where(and(eq(adminWebauthnChallenges.id, options.challengeId), eq(adminWebauthnChallenges.orgId, options.orgId)))
    .returning();
  if (!row || row.purpose !== options.purpose || row.expiresAt.getTime() <= options.now.getTime()) return undefined;
  return row;
}

export async function startAdminPasskeyRegistration(options: {
  db: Database;
  orgId: string;
  admin: { id: string; email: string; name: string };
  rp: { id: string; name: string };
  now: Date;
}): Promise<{ challengeId: string; options: PublicKeyCredentialCreationOptionsJSON }> {
  const { db, orgId, admin, now } = options;
  const existing = await db
    .select({ id: adminPasskeys.id, transports: adminPasskeys.transports })
    .from(adminPasskeys)
    .where(and(eq(adminPasskeys.orgId, orgId), eq(adminPasskeys.adminId, admin.id)));
  const creation = await generateRegistrationOptions({
    rpName: options.rp.name,
    rpID: options.rp.id,
    userID: adminUserHandle(orgId, admin.id),
    // The admin's work address identifies the account in the authenticator's list; it is not PHI.
    userName: admin.email,
    userDisplayName: admin.name,
    challenge: new Uint8Array(randomBytes(CHALLENGE_BYTES)),
    timeout: CHALLENGE_TTL_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.id, transports: toTransports(p.transports) })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
  });
  const stored = await storeChallenge(db, { orgId, purpose: 'registration', adminId: admin.id, challenge: creation.challenge, now });
  return { challengeId: stored.challengeId, options: creation };
}

export type FinishAdminRegistration =
  | { status: 'added'; passkey: AdminPasskeyListing }
  | { status: 'name_invalid' }
  | { status: 'challenge_invalid' }
  | { status: 'already_registered' }
  | { status: 'backup_flags_invalid' }
  | { status: 'verification_failed'; reason: PasskeyCheckFailure };

export async function finishAdminPasskeyRegistration(options: {
  db: Database;
  orgId: string;
  adminId: string;
  challengeId: string;
  response: RegistrationResponseJSON;
  expectedOrigins: string[];
  rpId: string;
  name: string;
  now: Date;
}): Promise<FinishAdminRegistration> {
  const { db, orgId, adminId, response, expectedOrigins, rpId, now } = options;
  if (expectedOrigins.length === 0) throw new Error('finishAdminPasskeyRegistration: expectedOrigins is empty');
  const name = normalisePasskeyName(options.name);
  if (!name) return { status: 'name_invalid' };

  return db.transaction(async (tx) => {
    const fail = async (result: Exclude<FinishAdminRegistration, { status: 'added' }>) => {
      await appendAudit(tx, orgId, {
        actorType: 'admin',
        actorId: adminId,
        action: 'admin.passkey.failed',
        subjectType: 'admin',
        subjectId: adminId,
        details: { ceremony: 'registration', reason: 'reason' in result ? result.reason : result.status },
      });
      return result;
    };
    const challenge = await consumeChallenge(tx, { orgId, challengeId: options.challengeId, purpose: 'registration', now });
    if (!challenge || challenge.adminId !== adminId) return fail({ status: 'challenge_invalid' });

    const attestationObject = fromBase64url(response?.response?.attestationObject);
    if (!attestationObject || typeof response.id !== 'string' || response.id.length > MAX_CREDENTIAL_ID_LENGTH) {
      return fail({ status: 'verification_failed', reason: 'malformed' });
    }
    let authData: Uint8Array<ArrayBuffer>;
    try {
      authData = new Uint8Array(decodeAttestationObject(attestationObject).get('authData'));
    } catch {
      return fail({ status: 'verification_failed', reason: 'malformed' });
    }
    const inspected = inspectCeremony(response.response.clientDataJSON, authData, { type: 'webauthn.create', challenge: challenge.challenge, origins: expectedOrigins, rpId });
    if (!inspected.ok) return fail({ status: 'verification_failed', reason: inspected.reason });
    if (inspected.flags.bs && !inspected.flags.be) return fail({ status: 'backup_flags_invalid' }); // PK5

    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: expectedOrigins,
        expectedRPID: rpId,
        expectedType: 'webauthn.create',
        requireUserPresence: true,
        requireUserVerification: true, // PK3
      });
    } catch {
      return fail({ status: 'verification_failed', reason: 'signature' });
    }
    if (!verified.verified) return fail({ status: 'verification_failed', reason: 'signature' });
    const info = verified.registrationInfo;
    if (info.credential.id.length > MAX_CREDENTIAL_ID_LENGTH) return fail({ status: 'verification_failed', reason: 'malformed' });

    const [row] = await tx
      .insert(adminPasskeys)
      .values({
        id: info.credential.id,
        orgId,
        adminId,
        publicKey: info.credential.publicKey,
        counter: info.credential.counter,
        transports: toTransports(response.response.transports),
        backupEligible: info.credentialDeviceType === 'multiDevice',
        backupState: info.credentialBackedUp,
        aaguid: info.aaguid,
        name,
        createdAt: now,
      })
      .onConflictDoNothing({ target: adminPasskeys.id })
      .returning();
    if (!row) return fail({ status: 'already_registered' });
    await appendAudit(tx, orgId, {
      actorType: 'admin',
      actorId: adminId,
      action: 'admin.passkey.added',
      subjectType: 'admin_passkey',
      subjectId: row.id,
      details: { backupEligible: row.backupEligible, backupState: row.backupState, aaguid: row.aaguid },
    });
    return { status: 'added', passkey: { id: row.id, name: row.name, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt } } as const;
  });
}

/**
 * Options for navigator.credentials.get(). With an admin (the second step after a password), only that admin's
 * passkeys; without one, the device offers its discoverable passkeys for this site (usernameless).
 */
export async function startAdminPasskeyAuthentication(options: {
  db: Database;
  orgId: string;
  adminId?: string;
  rpId: string;
  now: Date;
}): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
  const { db, orgId, adminId, now } = options;
  const allowed = adminId
    ? await db
        .select({ id: adminPasskeys.id, transports: adminPasskeys.transports })
        .from(adminPasskeys)
        .where(and(eq(adminPasskeys.orgId, orgId), eq(adminPasskeys.adminId, adminId)))
    : [];
  const request = await generateAuthenticationOptions({
    rpID: options.rpId,
    allowCredentials: allowed.map((p) => ({ id: p.id, transports: toTransports(p.transports) })),
    challenge: new Uint8Array(randomBytes(CHALLENGE_BYTES)),
    timeout: CHALLENGE_TTL_MS,
    userVerification: 'required', // PK3
  });
  const stored = await storeChallenge(db, { orgId, purpose: 'authentication', adminId: adminId ?? null, challenge: request.challenge, now });
  return { challengeId: stored.challengeId, options: request };
}

export type FinishAdminAuthentication =
  | { status: 'verified'; adminId: string; credentialId: string }
  | { status: 'challenge_invalid' }
  | { status: 'unknown_credential' }
  | { status: 'user_handle_mismatch' }
  | { status: 'backup_flags_invalid' }
  | { status: 'counter_alarm' }
  | { status: 'verification_failed'; reason: PasskeyCheckFailure };

export async function finishAdminPasskeyAuthentication(options: {
  db: Database;
  orgId: string;
  challengeId: string;
  response: AuthenticationResponseJSON;
  expectedOrigins: string[];
  rpId: string;
  now: Date;
}): Promise<FinishAdminAuthentication> {
  const { db, orgId, response, expectedOrigins, rpId, now } = options;
  if (expectedOrigins.length === 0) throw new Error('finishAdminPasskeyAuthentication: expectedOrigins is empty');

  return db.transaction(async (tx) => {
    let subject: { credentialId: string; adminId: string } | undefined;
    const fail = async (result: Exclude<FinishAdminAuthentication, { status: 'verified' }>) => {
      await appendAudit(tx, orgId, {
        actorType: 'system',
        action: 'admin.sign_in.failed',
        subjectType: subject ? 'admin' : null,
        subjectId: subject?.adminId ?? null,
        details: { stage: 'passkey', reason: 'reason' in result ? result.reason : result.status },
      });
      return result;
    };
    const challenge = await consumeChallenge(tx, { orgId, challengeId: options.challengeId, purpose: 'authentication', now });
    if (!challenge) return fail({ status: 'challenge_invalid' });

    const credentialId = response?.id;
    if (typeof credentialId !== 'string' || !BASE64URL.test(credentialId) || credentialId.length > MAX_CREDENTIAL_ID_LENGTH) {
      return fail({ status: 'verification_failed', reason: 'malformed' });
    }
    // This organisation's admin passkeys only: a patient's passkey, or another organisation's admin's, is unknown (EN3).
    const [credential] = await tx.select().from(adminPasskeys).where(and(eq(adminPasskeys.id, credentialId), eq(adminPasskeys.orgId, orgId)));
    if (!credential) return fail({ status: 'unknown_credential' });
    subject = { credentialId: credential.id, adminId: credential.adminId };
    if (challenge.adminId !== null && challenge.adminId !== credential.adminId) return fail({ status: 'unknown_credential' });

    // PK6: the user handle must be the one this credential was made for; usernameless sign-in needs it.
    const userHandle = response.response?.userHandle;
    if (userHandle !== undefined && userHandle !== null && userHandle !== '') {
      const presented = typeof userHandle === 'string' && /^[A-Za-z0-9_-]+={0,2}$/.test(userHandle) ? Buffer.from(userHandle, 'base64url') : undefined;
      if (!presented || !presented.equals(adminUserHandle(orgId, credential.adminId))) return fail({ status: 'user_handle_mismatch' });
    } else if (challenge.adminId === null) {
      return fail({ status: 'user_handle_mismatch' });
    }

    const authData = fromBase64url(response.response?.authenticatorData);
    if (!authData || typeof response.response.signature !== 'string') return fail({ status: 'verification_failed', reason: 'malformed' });
    const inspected = inspectCeremony(response.response.clientDataJSON, authData, { type: 'webauthn.get', challenge: challenge.challenge, origins: expectedOrigins, rpId });
    if (!inspected.ok) return fail({ status: 'verification_failed', reason: inspected.reason });
    if ((inspected.flags.bs && !inspected.flags.be) || inspected.flags.be !== credential.backupEligible) return fail({ status: 'backup_flags_invalid' }); // PK5

    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: expectedOrigins,
        expectedRPID: rpId,
        expectedType: 'webauthn.get',
        requireUserVerification: true, // PK3
        // The counter is checked atomically below (PK4), as for patients.
        credential: { id: credential.id, publicKey: credential.publicKey as Uint8Array<ArrayBuffer>, counter: 0 },
      });
    } catch {
      return fail({ status: 'verification_failed', reason: 'signature' });
    }
    if (!verified.verified) return fail({ status: 'verification_failed', reason: 'signature' });

    const newCounter = verified.authenticationInfo.newCounter;
    const [advanced] = await tx
      .update(adminPasskeys)
      .set({ counter: newCounter, backupState: inspected.flags.bs, lastUsedAt: now })
      .where(and(eq(adminPasskeys.id, credential.id), eq(adminPasskeys.orgId, orgId), newCounter === 0 ? eq(adminPasskeys.counter, 0) : lt(adminPasskeys.counter, newCounter)))
      .returning({ id: adminPasskeys.id });
    if (!advanced) {
      await appendAudit(tx, orgId, {
        actorType: 'system',
        action: 'admin.passkey.counter_alarm',
        subjectType: 'admin_passkey',
        subjectId: credential.id,
        details: { adminId: credential.adminId, storedCounter: credential.counter, presentedCounter: newCounter },
      });
      return fail({ status: 'counter_alarm' });
    }
    return { status: 'verified', adminId: credential.adminId, credentialId: credential.id } as const;
  });
}

export async function listAdminPasskeys(db: Database, orgId: string, adminId: string): Promise<AdminPasskeyListing[]> {
  return db
    .select({ id: adminPasskeys.id, name: adminPasskeys.name, createdAt: adminPasskeys.createdAt, lastUsedAt: adminPasskeys.lastUsedAt })
    .from(adminPasskeys)
    .where(and(eq(adminPasskeys.orgId, orgId), eq(adminPasskeys.adminId, adminId)))
    .orderBy(asc(adminPasskeys.createdAt), asc(adminPasskeys.id));
}

/** An admin removes one of their own passkeys; by organisation, admin and id, never by id alone (EN3). */
export async function removeAdminPasskey(db: Database, options: { orgId: string; adminId: string; passkeyId: string }): Promise<'removed' | 'not_found'> {
  const { orgId, adminId, passkeyId } = options;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .delete(adminPasskeys)
      .where(and(eq(adminPasskeys.id, passkeyId), eq(adminPasskeys.orgId, orgId), eq(adminPasskeys.adminId, adminId)))
      .returning({ id: adminPasskeys.id });
    if (!row) return 'not_found' as const;
    await appendAudit(tx, orgId, { actorType: 'admin', actorId: adminId, action: 'admin.passkey.removed', subjectType: 'admin_passkey', subjectId: row.id });
    return 'removed' as const;
  });
}

export async function hasAdminPasskey(db: Database | Tx, orgId: string, adminId: string): Promise<boolean> {
  const [row] = await db.select({ id: adminPasskeys.id }).from(adminPasskeys).where(and(eq(adminPasskeys.orgId, orgId), eq(adminPasskeys.adminId, adminId))).limit(1);
  return row !== undefined;
}
