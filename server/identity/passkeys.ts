// Patient passkeys (PK1-PK7) on @simplewebauthn/server. Server functions take `now` so tests can move the clock.
// The library does the cryptography; this module owns the challenge store, the ownership checks, the counter
// and backup-flag rules, and the audit trail. Every outcome is committed, so a failed ceremony still uses up
// its challenge (PK1) and leaves an audit event.
import { createHash, randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { decodeAttestationObject, decodeClientDataJSON, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import { and, asc, eq, lt, lte } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { passkeys, webauthnChallenges, type WebauthnChallenge } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { isUuid } from '../ids';

export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
/** PK1 asks for at least 16 random bytes; 32 costs nothing more. */
export const CHALLENGE_BYTES = 32;
export const PASSKEY_NAME_MAX_LENGTH = 60;
/** The WebAuthn limit on a credential id is 1023 bytes; its base64url is at most 1364 characters. */
export const MAX_CREDENTIAL_ID_LENGTH = 1364;

export const BASE64URL = /^[A-Za-z0-9_-]+$/;
const TRANSPORTS: readonly AuthenticatorTransportFuture[] = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'];

/** Why the WebAuthn checks refused a response: a reason code for the audit log and the caller, never a message. */
export type PasskeyCheckFailure =
  | 'malformed'
  | 'type'
  | 'challenge'
  | 'origin'
  | 'rp_id'
  | 'user_presence'
  | 'user_verification'
  | 'signature';

export type PasskeyListing = {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  backupEligible: boolean;
  backupState: boolean;
};

/**
 * The WebAuthn user handle for a patient: an opaque, stable 32 bytes derived from the organisation and patient
 * ids. It carries no contact point or name, and it is the same at every registration, so one authenticator keeps
 * one credential per patient.
 */
export function userHandleFor(orgId: string, patientId: string): Uint8Array<ArrayBuffer> {
  const digest = createHash('sha256').update(`carepost:webauthn-user:${orgId}:${patientId}`).digest();
  return new Uint8Array(digest);
}

/** A patient-chosen label: trimmed, 1 to 60 characters, no control characters. */
export function normalisePasskeyName(value: string): string | undefined {
  const name = value.trim().replace(/\s+/g, ' ');
  if (name.length === 0 || name.length > PASSKEY_NAME_MAX_LENGTH) return undefined;
  if (/\p{Cc}/u.test(name)) return undefined;
  return name;
}

export function toTransports(values: readonly string[] | undefined): AuthenticatorTransportFuture[] {
  return (values ?? []).filter((t): t is AuthenticatorTransportFuture => (TRANSPORTS as readonly string[]).includes(t));
}

function listing(row: typeof passkeys.$inferSelect): PasskeyListing {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    backupEligible: row.backupEligible,
    backupState: row.backupState,
  };
}

async function storeChallenge(
  db: Database,
  values: { orgId: string; purpose: WebauthnChallenge['purpose']; patientId: string | null; challenge: string; now: Date },
): Promise<{ challengeId: string; expiresAt: Date }> {
  const expiresAt = new Date(values.now.getTime() + CHALLENGE_TTL_MS);
  const [row] = await db
    .insert(webauthnChallenges)
    .values({ orgId: values.orgId, purpose: values.purpose, patientId: values.patientId, challenge: values.challenge, createdAt: values.now, expiresAt })
    .returning({ id: webauthnChallenges.id });
  return { challengeId: row!.id, expiresAt };
}

/**
 * PK1: a challenge answers one ceremony. It is deleted whatever happens next, and only then checked, so a
 * challenge presented for the wrong purpose, patient or after its expiry is gone as well.
 */
async function consumeChallenge(
  tx: Tx,
  options: { orgId: string; challengeId: string; purpose: WebauthnChallenge['purpose']; now: Date },
): Promise<WebauthnChallenge | undefined> {
  if (!isUuid(options.challengeId)) return undefined;
  const [row] = await tx
    .delete(webauthnChallenges)
    .where(and(eq(webauthnChallenges.id, options.challengeId), eq(webauthnChallenges.orgId, options.orgId)))
    .returning();
  if (!row || row.purpose !== options.purpose) return undefined;
  if (row.expiresAt.getTime() <= options.now.getTime()) return undefined;
  return row;
}

type Flags = { up: boolean; uv: boolean; be: boolean; bs: boolean };
type Inspected = { ok: true; flags: Flags; counter: number } | { ok: false; reason: PasskeyCheckFailure };

/**
 * PK2, PK3: the checks on what the browser and authenticator said, made here so each refusal has a stable reason
 * code. The library then makes the same checks again along with the signature; it stays the final word. Admin
 * passkeys (server/admin/admin-passkeys.ts) use the same checks.
 */
export function inspectCeremony(
  clientDataJSON: unknown,
  authData: Uint8Array<ArrayBuffer>,
  expected: { type: 'webauthn.create' | 'webauthn.get'; challenge: string; origins: readonly string[]; rpId: string },
): Inspected {
  if (typeof clientDataJSON !== 'string' || !BASE64URL.test(clientDataJSON)) return { ok: false, reason: 'malformed' };
  let client: ReturnType<typeof decodeClientDataJSON>;
  let parsed: ReturnType<typeof parseAuthenticatorData>;
  try {
    client = decodeClientDataJSON(clientDataJSON);
    parsed = parseAuthenticatorData(authData);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (client.type !== expected.type) return { ok: false, reason: 'type' };
  if (client.challenge !== expected.challenge) return { ok: false, reason: 'challenge' };
  // The exact allow-list; and never inside another site's frame.
  if (!expected.origins.includes(client.origin) || client.crossOrigin === true) return { ok: false, reason: 'origin' };
  const rpIdHash = createHash('sha256').update(expected.rpId).digest();
  if (!rpIdHash.equals(Buffer.from(parsed.rpIdHash))) return { ok: false, reason: 'rp_id' };
  if (!parsed.flags.up) return { ok: false, reason: 'user_presence' };
  if (!parsed.flags.uv) return { ok: false, reason: 'user_verification' }; // PK3
  const { up, uv, be, bs } = parsed.flags;
  return { ok: true, flags: { up, uv, be, bs }, counter: parsed.counter };
}

export function fromBase64url(value: unknown): Uint8Array<ArrayBuffer> | undefined {
  if (typeof value !== 'string' || !BASE64URL.test(value)) return undefined;
  return new Uint8Array(Buffer.from(value, 'base64url'));
}

// ---------------------------------------------------------------------------------------------------------------
// Registration

/**
 * Options for navigator.credentials.create(). The route must have checked a fresh verification first (PK7).
 * The challenge is kept server-side; the caller keeps `challengeId` (in the session or a short-lived cookie).
 */
export async function startPasskeyRegistration(options: {
  db: Database;
  orgId: string;
  patient: { id: string; displayName: string };
  rp: { id: string; name: string };
  now: Date;
}): Promise<{ challengeId: string; expiresAt: Date; options: PublicKeyCredentialCreationOptionsJSON }> {
  const { db, orgId, patient, rp, now } = options;
  const existing = await db
    .select({ id: passkeys.id, transports: passkeys.transports })
    .from(passkeys)
    .where(and(eq(passkeys.orgId, orgId), eq(passkeys.patientId, patient.id)));
  const creationOptions = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userID: userHandleFor(orgId, patient.id),
    userName: patient.displayName,
    userDisplayName: patient.displayName,
    challenge: new Uint8Array(randomBytes(CHALLENGE_BYTES)),
    timeout: CHALLENGE_TTL_MS,
    attestationType: 'none',
    // One credential per authenticator per patient: the browser refuses to make a second one.
    excludeCredentials: existing.map((p) => ({ id: p.id, transports: toTransports(p.transports) })),
    // A discoverable credential allows usernameless sign-in; PK3 wants the user verified every time.
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
  });
  const stored = await storeChallenge(db, { orgId, purpose: 'registration', patientId: patient.id, challenge: creationOptions.challenge, now });
  return { ...stored, options: creationOptions };
}

export type FinishPasskeyRegistrationResult =
  | { status: 'added'; passkey: PasskeyListing }
  | { status: 'name_invalid' }
  | { status: 'challenge_invalid' }
  | { status: 'already_registered' }
  | { status: 'backup_flags_invalid' }
  | { status: 'verification_failed'; reason: PasskeyCheckFailure };

export async function finishPasskeyRegistration(options: {
  db: Database;
  orgId: string;
  patientId: string;
  challengeId: string;
  response: RegistrationResponseJSON;
  expectedOrigins: string[];
  rpId: string;
  name: string;
  now: Date;
}): Promise<FinishPasskeyRegistrationResult> {
  const { db, orgId, patientId, response, expectedOrigins, rpId, now } = options;
  if (expectedOrigins.length === 0) throw new Error('finishPasskeyRegistration: expectedOrigins is empty');
  // A form error, checked before the challenge is spent so the patient can correct it.
  const name = normalisePasskeyName(options.name);
  if (!name) return { status: 'name_invalid' };

  return db.transaction(async (tx) => {
    const fail = async (result: Exclude<FinishPasskeyRegistrationResult, { status: 'added' }>) => {
      await appendAudit(tx, orgId, {
        actorType: 'patient',
        actorId: patientId,
        action: 'identity.passkey.failed',
        subjectType: 'patient',
        subjectId: patientId,
        details: { ceremony: 'registration', reason: 'reason' in result ? result.reason : result.status },
      });
      return result;
    };

    const challenge = await consumeChallenge(tx, { orgId, challengeId: options.challengeId, purpose: 'registration', now });
    // The challenge was issued to this patient in this organisation, and to no one else.
    if (!challenge || challenge.patientId !== patientId) return fail({ status: 'challenge_invalid' });

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
    const inspected = inspectCeremony(response.response.clientDataJSON, authData, {
      type: 'webauthn.create',
      challenge: challenge.challenge,
      origins: expectedOrigins,
      rpId,
    });
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
      .insert(passkeys)
      .values({
        id: info.credential.id,
        orgId,
        patientId,
        publicKey: info.credential.publicKey,
        counter: info.credential.counter,
        transports: toTransports(response.response.transports),
        backupEligible: info.credentialDeviceType === 'multiDevice',
        backupState: info.credentialBackedUp,
        aaguid: info.aaguid,
        name,
        createdAt: now,
      })
      .onConflictDoNothing({ target: passkeys.id })
      .returning();
    // Already on record, for this patient or anyone else: a credential is never moved or shared.
    if (!row) return fail({ status: 'already_registered' });

    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: patientId,
      action: 'identity.passkey.added',
      subjectType: 'passkey',
      subjectId: row.id,
      details: { backupEligible: row.backupEligible, backupState: row.backupState, aaguid: row.aaguid },
    });
    return { status: 'added', passkey: listing(row) } as const;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Authentication

/**
 * Options for navigator.credentials.get(). Without a patient, allowCredentials is empty and the authenticator
 * offers its discoverable credentials (usernameless sign-in); with one, only that patient's passkeys count.
 */
export async function startPasskeyAuthentication(options: {
  db: Database;
  orgId: string;
  patientId?: string;
  rpId: string;
  now: Date;
}): Promise<{ challengeId: string; expiresAt: Date; options: PublicKeyCredentialRequestOptionsJSON }> {
  const { db, orgId, patientId, rpId, now } = options;
  const allowed = patientId
    ? await db
        .select({ id: passkeys.id, transports: passkeys.transports })
        .from(passkeys)
        .where(and(eq(passkeys.orgId, orgId), eq(passkeys.patientId, patientId)))
    : [];
  const requestOptions = await generateAuthenticationOptions({
    rpID: rpId,
    allowCredentials: allowed.map((p) => ({ id: p.id, transports: toTransports(p.transports) })),
    challenge: new Uint8Array(randomBytes(CHALLENGE_BYTES)),
    timeout: CHALLENGE_TTL_MS,
    userVerification: 'required', // PK3
  });
  const stored = await storeChallenge(db, { orgId, purpose: 'authentication', patientId: patientId ?? null, challenge: requestOptions.challenge, now });
  return { ...stored, options: requestOptions };
}

export type FinishPasskeyAuthenticationResult =
  | { status: 'verified'; patientId: string; credentialId: string }
  | { status: 'challenge_invalid' }
  | { status: 'unknown_credential' }
  | { status: 'user_handle_mismatch' }
  | { status: 'backup_flags_invalid' }
  | { status: 'counter_alarm' }
  | { status: 'verification_failed'; reason: PasskeyCheckFailure };

export async function finishPasskeyAuthentication(options: {
  db: Database;
  orgId: string;
  challengeId: string;
  response: AuthenticationResponseJSON;
  expectedOrigins: string[];
  rpId: string;
  now: Date;
}): Promise<FinishPasskeyAuthenticationResult> {
  const { db, orgId, response, expectedOrigins, rpId, now } = options;
  if (expectedOrigins.length === 0) throw new Error('finishPasskeyAuthentication: expectedOrigins is empty');

  return db.transaction(async (tx) => {
    // Before the credential is known to be ours, the log names it only by an id from our own table.
    let subject: { credentialId: string; patientId: string } | undefined;
    const fail = async (result: Exclude<FinishPasskeyAuthenticationResult, { status: 'verified' }>) => {
      await appendAudit(tx, orgId, {
        actorType: 'system',
        action: 'identity.passkey.failed',
        subjectType: subject ? 'passkey' : null,
        subjectId: subject?.credentialId ?? null,
        details: {
          ceremony: 'authentication',
          reason: 'reason' in result ? result.reason : result.status,
          ...(subject ? { patientId: subject.patientId } : {}),
        },
      });
      return result;
    };

    const challenge = await consumeChallenge(tx, { orgId, challengeId: options.challengeId, purpose: 'authentication', now });
    if (!challenge) return fail({ status: 'challenge_invalid' });

    const credentialId = response?.id;
    if (typeof credentialId !== 'string' || !BASE64URL.test(credentialId) || credentialId.length > MAX_CREDENTIAL_ID_LENGTH) {
      return fail({ status: 'verification_failed', reason: 'malformed' });
    }
    // Within this organisation only: another organisation's credential is unknown here (EN3).
    const [credential] = await tx.select().from(passkeys).where(and(eq(passkeys.id, credentialId), eq(passkeys.orgId, orgId)));
    if (!credential) return fail({ status: 'unknown_credential' });
    subject = { credentialId: credential.id, patientId: credential.patientId };
    // A ceremony started for one patient accepts only that patient's passkeys.
    if (challenge.patientId !== null && challenge.patientId !== credential.patientId) return fail({ status: 'unknown_credential' });

    // PK6: the user handle the authenticator returns must be the one this credential was made for. Usernameless
    // sign-in names the user only through it, so there it must be present (WebAuthn L3, 7.2 step 6).
    const userHandle = response.response?.userHandle;
    if (userHandle !== undefined && userHandle !== null && userHandle !== '') {
      const presented = typeof userHandle === 'string' && /^[A-Za-z0-9_-]+={0,2}$/.test(userHandle) ? Buffer.from(userHandle, 'base64url') : undefined;
      if (!presented || !presented.equals(userHandleFor(orgId, credential.patientId))) return fail({ status: 'user_handle_mismatch' });
    } else if (challenge.patientId === null) {
      return fail({ status: 'user_handle_mismatch' });
    }

    const authData = fromBase64url(response.response?.authenticatorData);
    if (!authData || typeof response.response.signature !== 'string') return fail({ status: 'verification_failed', reason: 'malformed' });
    const inspected = inspectCeremony(response.response.clientDataJSON, authData, {
      type: 'webauthn.get',
      challenge: challenge.challenge,
      origins: expectedOrigins,
      rpId,
    });
    if (!inspected.ok) return fail({ status: 'verification_failed', reason: inspected.reason });
    // PK5: backed up but not eligible for backup is impossible; eligibility is fixed at registration.
    if ((inspected.flags.bs && !inspected.flags.be) || inspected.flags.be !== credential.backupEligible) {
      return fail({ status: 'backup_flags_invalid' });
    }

    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: expectedOrigins,
        expectedRPID: rpId,
        expectedType: 'webauthn.get',
        requireUserVerification: true, // PK3
        // The counter is checked below, against the stored value, in the same statement that advances it (PK4).
        // Handing the library zero turns its own earlier, non-atomic check off, and means a counter alarm is only
        // ever raised for an assertion whose signature is genuine.
        credential: { id: credential.id, publicKey: credential.publicKey as Uint8Array<ArrayBuffer>, counter: 0 },
      });
    } catch {
      return fail({ status: 'verification_failed', reason: 'signature' });
    }
    if (!verified.verified) return fail({ status: 'verification_failed', reason: 'signature' });

    // PK4: the counter must move forward, unless the authenticator does not count at all (both zero). The
    // condition is part of the UPDATE, so two uses racing cannot both store their counter.
    const newCounter = verified.authenticationInfo.newCounter;
    const [advanced] = await tx
      .update(passkeys)
      .set({ counter: newCounter, backupState: inspected.flags.bs, lastUsedAt: now })
      .where(
        and(
          eq(passkeys.id, credential.id),
          eq(passkeys.orgId, orgId),
          newCounter === 0 ? eq(passkeys.counter, 0) : lt(passkeys.counter, newCounter),
        ),
      )
      .returning({ id: passkeys.id });
    if (!advanced) {
      const [current] = await tx.select({ counter: passkeys.counter }).from(passkeys).where(eq(passkeys.id, credential.id));
      if (!current) return fail({ status: 'unknown_credential' }); // removed meanwhile
      await appendAudit(tx, orgId, {
        actorType: 'system',
        action: 'identity.passkey.counter_alarm',
        subjectType: 'passkey',
        subjectId: credential.id,
        details: { patientId: credential.patientId, storedCounter: current.counter, presentedCounter: newCounter },
      });
      return fail({ status: 'counter_alarm' });
    }

    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: credential.patientId,
      action: 'identity.passkey.used',
      subjectType: 'passkey',
      subjectId: credential.id,
      details: { usernameless: challenge.patientId === null, counter: newCounter, backupState: inspected.flags.bs },
    });
    return { status: 'verified', patientId: credential.patientId, credentialId: credential.id } as const;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Managing passkeys (PK7): always by organisation and patient, never by id alone.

export async function listPasskeys(options: { db: Database; orgId: string; patientId: string }): Promise<PasskeyListing[]> {
  const rows = await options.db
    .select()
    .from(passkeys)
    .where(and(eq(passkeys.orgId, options.orgId), eq(passkeys.patientId, options.patientId)))
    .orderBy(asc(passkeys.createdAt), asc(passkeys.id));
  return rows.map(listing);
}

export type RenamePasskeyResult = { status: 'renamed'; passkey: PasskeyListing } | { status: 'name_invalid' } | { status: 'not_found' };

export async function renamePasskey(options: {
  db: Database;
  orgId: string;
  patientId: string;
  passkeyId: string;
  name: string;
}): Promise<RenamePasskeyResult> {
  const { db, orgId, patientId, passkeyId } = options;
  const name = normalisePasskeyName(options.name);
  if (!name) return { status: 'name_invalid' };
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(passkeys)
      .set({ name })
      .where(and(eq(passkeys.id, passkeyId), eq(passkeys.orgId, orgId), eq(passkeys.patientId, patientId)))
      .returning();
    if (!row) return { status: 'not_found' } as const;
    // The name is the patient's own words, so it stays out of the log.
    await appendAudit(tx, orgId, { actorType: 'patient', actorId: patientId, action: 'identity.passkey.renamed', subjectType: 'passkey', subjectId: row.id });
    return { status: 'renamed', passkey: listing(row) } as const;
  });
}

export type RemovePasskeyResult = { status: 'removed' } | { status: 'not_found' };

export async function removePasskey(options: { db: Database; orgId: string; patientId: string; passkeyId: string }): Promise<RemovePasskeyResult> {
  const { db, orgId, patientId, passkeyId } = options;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .delete(passkeys)
      .where(and(eq(passkeys.id, passkeyId), eq(passkeys.orgId, orgId), eq(passkeys.patientId, patientId)))
      .returning({ id: passkeys.id });
    if (!row) return { status: 'not_found' } as const;
    await appendAudit(tx, orgId, { actorType: 'patient', actorId: patientId, action: 'identity.passkey.removed', subjectType: 'passkey', subjectId: row.id });
    return { status: 'removed' } as const;
  });
}

/** Challenges nobody came back for. Harmless while they wait (they expire), so a periodic sweep is enough. */
export async function purgeExpiredWebauthnChallenges(options: { db: Database; now: Date }): Promise<number> {
  const gone = await options.db
    .delete(webauthnChallenges)
    .where(lte(webauthnChallenges.expiresAt, options.now))
    .returning({ id: webauthnChallenges.id });
  return gone.length;
}
