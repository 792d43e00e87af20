import { and, asc, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEvents, passkeys, webauthnChallenges } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import {
  CHALLENGE_TTL_MS,
  finishPasskeyAuthentication,
  finishPasskeyRegistration,
  listPasskeys,
  removePasskey,
  renamePasskey,
  startPasskeyAuthentication,
  startPasskeyRegistration,
  userHandleFor,
} from '../../server/identity/passkeys';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';
import { SoftAuthenticator, type Knobs } from '../support/soft-authenticator';

const handle = testDatabase();
afterAll(() => handle.close());
const db = handle.db;

const RP = { id: 'portal.example.test', name: 'Test Clinic' };
const ORIGIN = 'https://portal.example.test';
const ORIGINS = [ORIGIN, 'https://other-portal.example.test'];
const at = (base: Date, ms: number) => new Date(base.getTime() + ms);

type TestPatient = { id: string; displayName: string };

async function setup() {
  const org = await createTestOrganisation(handle);
  const { patient, email } = await createTestPatient(handle, org.id);
  return { org, patient, email };
}

async function register(
  orgId: string,
  patient: TestPatient,
  options: { authenticator?: SoftAuthenticator; knobs?: Knobs; name?: string; now?: Date; finishAt?: Date } = {},
) {
  const authenticator = options.authenticator ?? new SoftAuthenticator();
  const now = options.now ?? new Date();
  const started = await startPasskeyRegistration({ db, orgId, patient, rp: RP, now });
  const response = authenticator.register(started.options, options.knobs);
  const result = await finishPasskeyRegistration({
    db,
    orgId,
    patientId: patient.id,
    challengeId: started.challengeId,
    response,
    expectedOrigins: ORIGINS,
    rpId: RP.id,
    name: options.name ?? 'My phone',
    now: options.finishAt ?? now,
  });
  return { authenticator, started, response, result };
}

async function registered(orgId: string, patient: TestPatient, authenticator = new SoftAuthenticator()) {
  const { result } = await register(orgId, patient, { authenticator });
  if (result.status !== 'added') throw new Error(`expected a passkey, got ${result.status}`);
  return authenticator;
}

async function signIn(
  orgId: string,
  authenticator: SoftAuthenticator,
  options: { patientId?: string; knobs?: Knobs; now?: Date; finishAt?: Date } = {},
) {
  const now = options.now ?? new Date();
  const started = await startPasskeyAuthentication({ db, orgId, patientId: options.patientId, rpId: RP.id, now });
  const response = authenticator.authenticate(started.options, options.knobs);
  const result = await finishPasskeyAuthentication({
    db,
    orgId,
    challengeId: started.challengeId,
    response,
    expectedOrigins: ORIGINS,
    rpId: RP.id,
    now: options.finishAt ?? now,
  });
  return { started, response, result };
}

async function actions(orgId: string) {
  const rows = await db.select().from(auditEvents).where(eq(auditEvents.orgId, orgId)).orderBy(asc(auditEvents.seq));
  return rows;
}

async function expectChainOk(orgId: string) {
  const report = await verifyAuditChain(db, orgId);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
}

describe('passkeys', () => {
  it('PK2, PK3: a patient registers a passkey, then signs in with it, named and usernameless', async () => {
    const { org, patient, email } = await setup();
    const authenticator = new SoftAuthenticator();
    const { started, result } = await register(org.id, patient, { authenticator });
    const creation = started.options;
    expect(creation.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(creation.rp).toEqual({ id: RP.id, name: RP.name });
    expect(creation.attestation).toBe('none');
    // The user handle is opaque and stable: derived from the patient id, never the email.
    expect(creation.user.id).toBe(Buffer.from(userHandleFor(org.id, patient.id)).toString('base64url'));
    expect(JSON.stringify(creation)).not.toContain(email);
    expect(creation.excludeCredentials).toEqual([]);

    expect(result).toMatchObject({ status: 'added', passkey: { id: authenticator.id, name: 'My phone', backupEligible: false, backupState: false } });
    const [row] = await db.select().from(passkeys).where(eq(passkeys.id, authenticator.id));
    expect(row).toMatchObject({ orgId: org.id, patientId: patient.id, counter: 0, transports: ['internal', 'hybrid'], lastUsedAt: null });
    expect(Buffer.from(row!.publicKey).equals(authenticator.cosePublicKey())).toBe(true);
    expect(row!.aaguid).toBe('00000000-0000-0000-0000-000000000000');

    // The same authenticator is excluded next time.
    const again = await startPasskeyRegistration({ db, orgId: org.id, patient, rp: RP, now: new Date() });
    expect(again.options.excludeCredentials).toEqual([{ id: authenticator.id, type: 'public-key', transports: ['internal', 'hybrid'] }]);
    expect(again.options.user.id).toBe(creation.user.id);

    const named = await signIn(org.id, authenticator, { patientId: patient.id });
    expect(named.started.options.allowCredentials).toEqual([{ id: authenticator.id, type: 'public-key', transports: ['internal', 'hybrid'] }]);
    expect(named.started.options.userVerification).toBe('required');
    expect(named.result).toEqual({ status: 'verified', patientId: patient.id, credentialId: authenticator.id });

    const usernameless = await signIn(org.id, authenticator);
    expect(usernameless.started.options.allowCredentials).toEqual([]);
    expect(usernameless.result).toEqual({ status: 'verified', patientId: patient.id, credentialId: authenticator.id });

    const [after] = await db.select().from(passkeys).where(eq(passkeys.id, authenticator.id));
    expect(after!.counter).toBe(2);
    expect(after!.lastUsedAt).toBeInstanceOf(Date);

    const events = await actions(org.id);
    expect(events.map((e) => e.action)).toEqual(['identity.passkey.added', 'identity.passkey.used', 'identity.passkey.used']);
    expect(events[1]).toMatchObject({ actorType: 'patient', actorId: patient.id, subjectType: 'passkey', subjectId: authenticator.id });
    expect(JSON.stringify(events)).not.toContain(email);
    await expectChainOk(org.id);
  });

  it('PK1: a challenge is 32 random bytes, kept only server-side, and used once', async () => {
    const { org, patient } = await setup();
    const authenticator = await registered(org.id, patient);
    const now = new Date();
    const first = await startPasskeyAuthentication({ db, orgId: org.id, rpId: RP.id, now });
    const second = await startPasskeyAuthentication({ db, orgId: org.id, rpId: RP.id, now });
    expect(Buffer.from(first.options.challenge, 'base64url')).toHaveLength(32);
    expect(first.options.challenge).not.toBe(second.options.challenge);
    expect(first.expiresAt).toEqual(at(now, CHALLENGE_TTL_MS));
    const [stored] = await db.select().from(webauthnChallenges).where(eq(webauthnChallenges.id, first.challengeId));
    expect(stored).toMatchObject({ orgId: org.id, purpose: 'authentication', patientId: null, challenge: first.options.challenge });

    const response = authenticator.authenticate(first.options);
    const finish = () =>
      finishPasskeyAuthentication({ db, orgId: org.id, challengeId: first.challengeId, response, expectedOrigins: ORIGINS, rpId: RP.id, now });
    expect((await finish()).status).toBe('verified');
    expect(await db.select().from(webauthnChallenges).where(eq(webauthnChallenges.id, first.challengeId))).toEqual([]);
    expect(await finish()).toEqual({ status: 'challenge_invalid' }); // the replay

    // A refused response uses the challenge up as well.
    const wrong = authenticator.authenticate(second.options, { origin: 'https://evil.example' });
    const refused = await finishPasskeyAuthentication({ db, orgId: org.id, challengeId: second.challengeId, response: wrong, expectedOrigins: ORIGINS, rpId: RP.id, now });
    expect(refused).toMatchObject({ status: 'verification_failed', reason: 'origin' });
    const retry = authenticator.authenticate(second.options);
    expect(
      await finishPasskeyAuthentication({ db, orgId: org.id, challengeId: second.challengeId, response: retry, expectedOrigins: ORIGINS, rpId: RP.id, now }),
    ).toEqual({ status: 'challenge_invalid' });

    // A registration challenge does not answer a sign-in, a made-up id is just invalid, and both are audited.
    const reg = await startPasskeyRegistration({ db, orgId: org.id, patient, rp: RP, now });
    const crossed = authenticator.authenticate({ challenge: reg.options.challenge });
    expect(
      await finishPasskeyAuthentication({ db, orgId: org.id, challengeId: reg.challengeId, response: crossed, expectedOrigins: ORIGINS, rpId: RP.id, now }),
    ).toEqual({ status: 'challenge_invalid' });
    expect(
      await finishPasskeyAuthentication({ db, orgId: org.id, challengeId: 'not-a-uuid', response: crossed, expectedOrigins: ORIGINS, rpId: RP.id, now }),
    ).toEqual({ status: 'challenge_invalid' });

    // Registration replays are refused the same way.
    const { started, response: regResponse, result } = await register(org.id, patient);
    expect(result.status).toBe('added');
    const replay = await finishPasskeyRegistration({
      db, orgId: org.id, patientId: patient.id, challengeId: started.challengeId, response: regResponse, expectedOrigins: ORIGINS, rpId: RP.id, name: 'Again', now,
    });
    expect(replay).toEqual({ status: 'challenge_invalid' });

    const failures = (await actions(org.id)).filter((e) => e.action === 'identity.passkey.failed');
    expect(failures.map((e) => e.details)).toEqual([
      { ceremony: 'authentication', reason: 'challenge_invalid' },
      expect.objectContaining({ ceremony: 'authentication', reason: 'origin' }),
      { ceremony: 'authentication', reason: 'challenge_invalid' },
      { ceremony: 'authentication', reason: 'challenge_invalid' },
      { ceremony: 'authentication', reason: 'challenge_invalid' },
      { ceremony: 'registration', reason: 'challenge_invalid' },
    ]);
    expect(JSON.stringify(failures)).not.toContain(first.options.challenge);
    await expectChainOk(org.id);
  });

  it('PK1: a challenge expires after five minutes', async () => {
    const { org, patient } = await setup();
    const authenticator = await registered(org.id, patient);
    const now = new Date();
    expect((await signIn(org.id, authenticator, { now, finishAt: at(now, CHALLENGE_TTL_MS - 1000) })).result.status).toBe('verified');
    expect((await signIn(org.id, authenticator, { now, finishAt: at(now, CHALLENGE_TTL_MS) })).result).toEqual({ status: 'challenge_invalid' });

    const late = await register(org.id, patient, { now, finishAt: at(now, CHALLENGE_TTL_MS + 1) });
    expect(late.result).toEqual({ status: 'challenge_invalid' });
    expect(await listPasskeys({ db, orgId: org.id, patientId: patient.id })).toHaveLength(1);
    await expectChainOk(org.id);
  });

  it('PK1: five simultaneous uses of one challenge: exactly one succeeds', async () => {
    const { org, patient } = await setup();
    const authenticator = await registered(org.id, patient);
    const now = new Date();
    const started = await startPasskeyAuthentication({ db, orgId: org.id, rpId: RP.id, now });
    const response = authenticator.authenticate(started.options);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        finishPasskeyAuthentication({ db, orgId: org.id, challengeId: started.challengeId, response, expectedOrigins: ORIGINS, rpId: RP.id, now }),
      ),
    );
    expect(results.filter((r) => r.status === 'verified')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'challenge_invalid')).toHaveLength(4);
    await expectChainOk(org.id);
  });

  it('PK2: a wrong origin is refused: only the exact allow-list counts', async () => {
    const { org, patient } = await setup();
    for (const origin of ['https://evil.example', 'http://portal.example.test', 'https://portal.example.test:8443', 'https://x.portal.example.test']) {
      const { result } = await register(org.id, patient, { knobs: { origin } });
      expect(result).toEqual({ status: 'verification_failed', reason: 'origin' });
    }
    expect(await listPasskeys({ db, orgId: org.id, patientId: patient.id })).toEqual([]);

    const authenticator = await registered(org.id, patient);
    for (const origin of ['https://evil.example', 'https://portal.example.test/', 'https://PORTAL.example.test']) {
      expect((await signIn(org.id, authenticator, { knobs: { origin } })).result).toEqual({ status: 'verification_failed', reason: 'origin' });
    }
    // The second allowed origin works.
    expect((await signIn(org.id, authenticator, { knobs: { origin: 'https://other-portal.example.test' } })).result.status).toBe('verified');
    await expectChainOk(org.id);
  });

  it('PK2: a wrong rpId is refused, at registration and at sign-in', async () => {
    const { org, patient } = await setup();
    expect((await register(org.id, patient, { knobs: { rpId: 'evil.example' } })).result).toEqual({ status: 'verification_failed', reason: 'rp_id' });
    const authenticator = await registered(org.id, patient);
    for (const rpId of ['evil.example', 'example.test', 'x.portal.example.test']) {
      expect((await signIn(org.id, authenticator, { knobs: { rpId } })).result).toEqual({ status: 'verification_failed', reason: 'rp_id' });
    }
    await expectChainOk(org.id);
  });

  it('PK2: the type, the challenge, user presence and the signature are all checked', async () => {
    const { org, patient } = await setup();
    expect((await register(org.id, patient, { knobs: { type: 'webauthn.get' } })).result).toEqual({ status: 'verification_failed', reason: 'type' });
    expect((await register(org.id, patient, { knobs: { up: false } })).result).toEqual({ status: 'verification_failed', reason: 'user_presence' });
    const authenticator = await registered(org.id, patient);

    expect((await signIn(org.id, authenticator, { knobs: { type: 'webauthn.create' } })).result).toEqual({ status: 'verification_failed', reason: 'type' });
    const otherChallenge = Buffer.alloc(32, 7).toString('base64url');
    expect((await signIn(org.id, authenticator, { knobs: { challenge: otherChallenge } })).result).toEqual({ status: 'verification_failed', reason: 'challenge' });
    expect((await signIn(org.id, authenticator, { knobs: { up: false } })).result).toEqual({ status: 'verification_failed', reason: 'user_presence' });

    // Another key signing for this credential id.
    const impostor = new SoftAuthenticator();
    Object.defineProperty(impostor, 'credentialId', { value: authenticator.credentialId });
    impostor.userHandle = authenticator.userHandle;
    expect((await signIn(org.id, impostor, { knobs: { signCount: 99 } })).result).toEqual({ status: 'verification_failed', reason: 'signature' });
    const [row] = await db.select().from(passkeys).where(eq(passkeys.id, authenticator.id));
    expect(row!.counter).toBe(0); // a forged assertion moves nothing
    await expectChainOk(org.id);
  });

  it('PK3: user verification is required, at registration and at sign-in', async () => {
    const { org, patient } = await setup();
    const { result } = await register(org.id, patient, { knobs: { uv: false } });
    expect(result).toEqual({ status: 'verification_failed', reason: 'user_verification' });
    expect(await listPasskeys({ db, orgId: org.id, patientId: patient.id })).toEqual([]);

    const authenticator = await registered(org.id, patient);
    expect((await signIn(org.id, authenticator, { knobs: { uv: false } })).result).toEqual({ status: 'verification_failed', reason: 'user_verification' });
    expect((await signIn(org.id, authenticator, { patientId: patient.id, knobs: { uv: false } })).result).toEqual({
      status: 'verification_failed',
      reason: 'user_verification',
    });
    await expectChainOk(org.id);
  });

  it('PK4: a counter that goes backwards is refused and audited; a forward one is stored', async () => {
    const { org, patient } = await setup();
    const authenticator = await registered(org.id, patient);
    expect((await signIn(org.id, authenticator, { knobs: { signCount: 10 } })).result.status).toBe('verified');
    const counterOf = async () => (await db.select().from(passkeys).where(eq(passkeys.id, authenticator.id)))[0]!.counter;
    expect(await counterOf()).toBe(10);

    for (const signCount of [5, 10, 0]) {
      expect((await signIn(org.id, authenticator, { knobs: { signCount } })).result).toEqual({ status: 'counter_alarm' });
      expect(await counterOf()).toBe(10);
    }
    const alarms = (await actions(org.id)).filter((e) => e.action === 'identity.passkey.counter_alarm');
    expect(alarms.map((e) => e.details)).toEqual([
      { patientId: patient.id, storedCounter: 10, presentedCounter: 5 },
      { patientId: patient.id, storedCounter: 10, presentedCounter: 10 },
      { patientId: patient.id, storedCounter: 10, presentedCounter: 0 },
    ]);
    expect(alarms[0]).toMatchObject({ subjectType: 'passkey', subjectId: authenticator.id });

    expect((await signIn(org.id, authenticator, { knobs: { signCount: 11 } })).result.status).toBe('verified');
    expect(await counterOf()).toBe(11);
    expect((await signIn(org.id, authenticator, { knobs: { signCount: 4_000_000_000 } })).result.status).toBe('verified');
    expect(await counterOf()).toBe(4_000_000_000);
    await expectChainOk(org.id);
  });

  it('PK4: an authenticator that always reports 0 keeps working', async () => {
    const { org, patient } = await setup();
    const authenticator = await registered(org.id, patient, new SoftAuthenticator({ counting: false }));
    for (let i = 0; i < 3; i++) expect((await signIn(org.id, authenticator)).result.status).toBe('verified');
    expect((await db.select().from(passkeys).where(eq(passkeys.id, authenticator.id)))[0]!.counter).toBe(0);
  });

  it('PK4: two sign-ins racing with the same counter: only one stores it', async () => {
    const { org, patient } = await setup();
    const authenticator = await registered(org.id, patient);
    const now = new Date();
    const a = await startPasskeyAuthentication({ db, orgId: org.id, rpId: RP.id, now });
    const b = await startPasskeyAuthentication({ db, orgId: org.id, rpId: RP.id, now });
    const finish = (started: typeof a) =>
      finishPasskeyAuthentication({
        db, orgId: org.id, challengeId: started.challengeId, response: authenticator.authenticate(started.options, { signCount: 7 }), expectedOrigins: ORIGINS, rpId: RP.id, now,
      });
    const results = await Promise.all([finish(a), finish(b)]);
    expect(results.map((r) => r.status).sort()).toEqual(['counter_alarm', 'verified']);
    await expectChainOk(org.id);
  });

  it('PK5: the backup-state flag without the backup-eligible flag is refused', async () => {
    const { org, patient } = await setup();
    expect((await register(org.id, patient, { knobs: { be: false, bs: true } })).result).toEqual({ status: 'backup_flags_invalid' });
    expect(await listPasskeys({ db, orgId: org.id, patientId: patient.id })).toEqual([]);

    const single = await registered(org.id, patient);
    expect((await signIn(org.id, single, { knobs: { be: false, bs: true } })).result).toEqual({ status: 'backup_flags_invalid' });
    // Eligibility is fixed when the credential is made.
    expect((await signIn(org.id, single, { knobs: { be: true, bs: true } })).result).toEqual({ status: 'backup_flags_invalid' });

    // A synced passkey: eligible and backed up, and the state is kept up to date.
    const synced = new SoftAuthenticator({ backedUp: true });
    const { result } = await register(org.id, patient, { authenticator: synced, name: 'Synced' });
    expect(result).toMatchObject({ status: 'added', passkey: { backupEligible: true, backupState: true } });
    expect((await signIn(org.id, synced, { knobs: { bs: false } })).result.status).toBe('verified');
    expect((await db.select().from(passkeys).where(eq(passkeys.id, synced.id)))[0]!.backupState).toBe(false);
    expect((await signIn(org.id, synced, { knobs: { be: false, bs: false } })).result).toEqual({ status: 'backup_flags_invalid' });
    await expectChainOk(org.id);
  });

  it("PK6: a credential presented with another patient's user handle is refused", async () => {
    const { org, patient } = await setup();
    const { patient: other } = await createTestPatient(handle, org.id);
    const mine = await registered(org.id, patient);
    const theirs = await registered(org.id, other);
    expect(theirs.userHandle).not.toBe(mine.userHandle);

    expect((await signIn(org.id, mine, { knobs: { userHandle: theirs.userHandle } })).result).toEqual({ status: 'user_handle_mismatch' });
    expect((await signIn(org.id, mine, { patientId: patient.id, knobs: { userHandle: theirs.userHandle } })).result).toEqual({
      status: 'user_handle_mismatch',
    });
    expect((await signIn(org.id, mine, { knobs: { userHandle: 'bm90LWEtaGFuZGxl' } })).result).toEqual({ status: 'user_handle_mismatch' });
    // Usernameless sign-in names the patient only through the user handle, so it must be there.
    expect((await signIn(org.id, mine, { knobs: { userHandle: null } })).result).toEqual({ status: 'user_handle_mismatch' });
    // When the patient was named first, the authenticator may leave it out.
    expect((await signIn(org.id, mine, { patientId: patient.id, knobs: { userHandle: null } })).result.status).toBe('verified');
    // A ceremony started for one patient does not accept another patient's passkey.
    expect((await signIn(org.id, mine, { patientId: other.id })).result).toEqual({ status: 'unknown_credential' });

    const failures = (await actions(org.id)).filter((e) => e.action === 'identity.passkey.failed');
    expect(failures[0]).toMatchObject({ actorType: 'system', subjectType: 'passkey', subjectId: mine.id, details: { ceremony: 'authentication', reason: 'user_handle_mismatch', patientId: patient.id } });
    await expectChainOk(org.id);
  });

  it('PK6, EN3: a credential from another organisation is refused, and cannot be registered twice', async () => {
    const { org, patient } = await setup();
    const mine = await registered(org.id, patient);
    const otherOrg = await createTestOrganisation(handle, 'Other Clinic');
    const { patient: elsewhere } = await createTestPatient(handle, otherOrg.id);

    expect((await signIn(otherOrg.id, mine)).result).toEqual({ status: 'unknown_credential' });
    expect((await signIn(otherOrg.id, mine, { patientId: elsewhere.id })).result).toEqual({ status: 'unknown_credential' });
    // The same authenticator credential offered to another organisation's patient is not taken over.
    const ownHandle = mine.userHandle;
    expect((await register(otherOrg.id, elsewhere, { authenticator: mine })).result).toEqual({ status: 'already_registered' });
    mine.userHandle = ownHandle;
    expect((await db.select().from(passkeys).where(eq(passkeys.id, mine.id)))[0]).toMatchObject({ orgId: org.id, patientId: patient.id });
    // A registration challenge belongs to its patient.
    const started = await startPasskeyRegistration({ db, orgId: org.id, patient, rp: RP, now: new Date() });
    const hijack = await finishPasskeyRegistration({
      db, orgId: otherOrg.id, patientId: elsewhere.id, challengeId: started.challengeId, response: new SoftAuthenticator().register(started.options),
      expectedOrigins: ORIGINS, rpId: RP.id, name: 'Hijack', now: new Date(),
    });
    expect(hijack).toEqual({ status: 'challenge_invalid' });

    expect((await signIn(org.id, mine)).result.status).toBe('verified');
    const otherEvents = await actions(otherOrg.id);
    expect(otherEvents.filter((e) => e.action === 'identity.passkey.failed').map((e) => e.details)).toEqual([
      { ceremony: 'authentication', reason: 'unknown_credential' },
      { ceremony: 'authentication', reason: 'unknown_credential' },
      { ceremony: 'registration', reason: 'already_registered' },
      { ceremony: 'registration', reason: 'challenge_invalid' },
    ]);
    await expectChainOk(org.id);
    await expectChainOk(otherOrg.id);
  });

  it('PK7: a patient lists, renames and removes their own passkeys, and only theirs', async () => {
    const { org, patient } = await setup();
    const { patient: other } = await createTestPatient(handle, org.id);
    const phone = await registered(org.id, patient);
    const laptop = new SoftAuthenticator();
    await register(org.id, patient, { authenticator: laptop, name: '  Work   laptop ' });

    const listed = await listPasskeys({ db, orgId: org.id, patientId: patient.id });
    expect(listed.map((p) => [p.id, p.name])).toEqual([
      [phone.id, 'My phone'],
      [laptop.id, 'Work laptop'],
    ]);
    expect(await listPasskeys({ db, orgId: org.id, patientId: other.id })).toEqual([]);

    // Another patient cannot touch it.
    expect(await renamePasskey({ db, orgId: org.id, patientId: other.id, passkeyId: phone.id, name: 'Mine now' })).toEqual({ status: 'not_found' });
    expect(await removePasskey({ db, orgId: org.id, patientId: other.id, passkeyId: phone.id })).toEqual({ status: 'not_found' });
    const otherOrg = await createTestOrganisation(handle);
    expect(await removePasskey({ db, orgId: otherOrg.id, patientId: patient.id, passkeyId: phone.id })).toEqual({ status: 'not_found' });
    expect((await listPasskeys({ db, orgId: org.id, patientId: patient.id })).map((p) => p.name)).toEqual(['My phone', 'Work laptop']);

    expect(await renamePasskey({ db, orgId: org.id, patientId: patient.id, passkeyId: phone.id, name: 'x'.repeat(61) })).toEqual({ status: 'name_invalid' });
    expect(await renamePasskey({ db, orgId: org.id, patientId: patient.id, passkeyId: phone.id, name: '   ' })).toEqual({ status: 'name_invalid' });
    expect(await renamePasskey({ db, orgId: org.id, patientId: patient.id, passkeyId: phone.id, name: 'Pixel (personal)' })).toMatchObject({
      status: 'renamed',
      passkey: { id: phone.id, name: 'Pixel (personal)' },
    });
    expect(await removePasskey({ db, orgId: org.id, patientId: patient.id, passkeyId: laptop.id })).toEqual({ status: 'removed' });
    expect(await removePasskey({ db, orgId: org.id, patientId: patient.id, passkeyId: laptop.id })).toEqual({ status: 'not_found' });
    expect((await listPasskeys({ db, orgId: org.id, patientId: patient.id })).map((p) => p.name)).toEqual(['Pixel (personal)']);

    // A removed passkey signs no one in.
    expect((await signIn(org.id, laptop)).result).toEqual({ status: 'unknown_credential' });
    expect((await signIn(org.id, phone)).result.status).toBe('verified');

    const events = await actions(org.id);
    const managed = events.filter((e) => e.action === 'identity.passkey.renamed' || e.action === 'identity.passkey.removed');
    expect(managed.map((e) => [e.action, e.actorId, e.subjectId])).toEqual([
      ['identity.passkey.renamed', patient.id, phone.id],
      ['identity.passkey.removed', patient.id, laptop.id],
    ]);
    expect(JSON.stringify(events)).not.toContain('Pixel');
    await expectChainOk(org.id);
  });

  it('a name is required and at most 60 characters; a bad one does not spend the challenge', async () => {
    const { org, patient } = await setup();
    const authenticator = new SoftAuthenticator();
    const started = await startPasskeyRegistration({ db, orgId: org.id, patient, rp: RP, now: new Date() });
    const response = authenticator.register(started.options);
    const base = { db, orgId: org.id, patientId: patient.id, challengeId: started.challengeId, response, expectedOrigins: ORIGINS, rpId: RP.id, now: new Date() };
    expect(await finishPasskeyRegistration({ ...base, name: 'y'.repeat(61) })).toEqual({ status: 'name_invalid' });
    expect(await finishPasskeyRegistration({ ...base, name: 'y'.repeat(60) })).toMatchObject({ status: 'added' });
    const rows = await db.select().from(passkeys).where(and(eq(passkeys.orgId, org.id), eq(passkeys.patientId, patient.id)));
    expect(rows.map((r) => r.name)).toEqual(['y'.repeat(60)]);
  });
});
