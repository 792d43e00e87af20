import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { and, asc, eq } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { decrypt, generateKey, readKey, readMessage, readPrivateKey, revokeKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, orgSigningKeys, patientPgpKeys } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import {
  buildPgpMime,
  ensureOrgSigningKey,
  loadOrgSigningKey,
  OrgSigningKeyMissingError,
  PGP_KEY_ERROR_MESSAGES,
  PGP_KEY_MAX_BYTES,
  pgpKeyFor,
  removePatientPgpKey,
  savePatientPgpKey,
  validatePatientKey,
} from '../../server/delivery/pgp';
import { listMail, readRawMail } from '../../server/delivery/dev-mailbox';
import { startMailCatcher } from '../../server/delivery/mail-catcher';
import { createSmtpTransport } from '../../server/delivery/transport';
import { kekRing, open, VaultError } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';

const run = promisify(execFile);
const handle = testDatabase();
const db = handle.db;
const ring = kekRing(Buffer.alloc(32, 7));
const HOUR_MS = 60 * 60 * 1000;

// A throwaway GnuPG home for the whole file: the recipient's key lives there, as it would on the patient's computer.
let gnupgHome: string;
const gpg = (args: string[]) => run('gpg', ['--batch', '--no-tty', ...args], { env: { ...process.env, GNUPGHOME: gnupgHome }, maxBuffer: 8 * 1024 * 1024 });

beforeAll(() => {
  gnupgHome = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-gpg-'));
  fs.chmodSync(gnupgHome, 0o700);
});
afterAll(async () => {
  await run('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } }).catch(() => undefined);
  fs.rmSync(gnupgHome, { recursive: true, force: true });
  await handle.close();
});

const openpgpKey = (options: { keyExpirationTime?: number; date?: Date; subkeys?: { sign?: boolean }[] } = {}) =>
  generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Pat', email: 'pat@example.com' }], format: 'armored', ...options });

describe('validatePatientKey', () => {
  const now = new Date();

  it('accepts a public key, normalises it to the key alone, and reports its fingerprint and expiry', async () => {
    const { publicKey } = await openpgpKey({ keyExpirationTime: 30 * 24 * 3600 });
    const result = await validatePatientKey(`Here is my key:\n\n${publicKey}\nThanks!\n`, now);
    if (!result.ok) throw new Error(result.error);
    expect(result.fingerprint).toBe((await readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase());
    expect(result.armored).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(result.armored).not.toContain('Thanks');
    expect(result.expiresAt!.getTime()).toBeGreaterThan(now.getTime() + 29 * 24 * HOUR_MS);
    const forever = await validatePatientKey((await openpgpKey()).publicKey, now);
    expect(forever).toMatchObject({ ok: true, expiresAt: null });
  });

  it('refuses with a stable code and a plain message: garbage, private, sign-only, expired, revoked, too large, several keys', async () => {
    const { privateKey, publicKey } = await openpgpKey();
    const signOnly = await openpgpKey({ subkeys: [{ sign: true }] });
    const expired = await openpgpKey({ date: new Date(now.getTime() - 10 * 24 * HOUR_MS), keyExpirationTime: 24 * 3600 });
    const revoked = await revokeKey({ key: await readPrivateKey({ armoredKey: privateKey }), format: 'armored' });
    const other = await openpgpKey();
    // A private key under a public armor header is still refused as private.
    const relabelled = privateKey.replace(/PRIVATE KEY BLOCK/g, 'PUBLIC KEY BLOCK');
    const cases: [string, string, string][] = [
      ['garbage', 'hello, this is not a key', 'unreadable'],
      ['empty armor', '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----', 'unreadable'],
      ['private key', privateKey, 'private_key'],
      ['private key, relabelled', relabelled, 'private_key'],
      ['sign-only key', signOnly.publicKey, 'no_encryption_key'],
      ['expired key', expired.publicKey, 'expired'],
      ['revoked key', revoked.publicKey, 'revoked'],
      ['too large', publicKey + '\n'.repeat(PGP_KEY_MAX_BYTES), 'too_large'],
      ['two keys', publicKey + '\n' + other.publicKey, 'unreadable'],
    ];
    for (const [label, input, code] of cases) {
      const result = await validatePatientKey(input, now);
      expect({ label, result }).toEqual({ label, result: { ok: false, error: code, message: PGP_KEY_ERROR_MESSAGES[code as keyof typeof PGP_KEY_ERROR_MESSAGES] } });
    }
    // The plain messages never leak a library's wording.
    for (const message of Object.values(PGP_KEY_ERROR_MESSAGES)) expect(message).not.toMatch(/packet|undefined|Error/);
  });

  it('an expiring key is valid until its expiry and not at it', async () => {
    const { publicKey } = await openpgpKey({ keyExpirationTime: 3600 });
    const result = await validatePatientKey(publicKey, now);
    if (!result.ok) throw new Error(result.error);
    expect((await validatePatientKey(publicKey, new Date(result.expiresAt!.getTime() - 1000))).ok).toBe(true);
    expect(await validatePatientKey(publicKey, result.expiresAt!)).toMatchObject({ ok: false, error: 'expired' });
  });
});

describe('patient keys in the database', () => {
  it('a key from a computer whose clock runs a little ahead is accepted, and used once our clock passes its creation', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    const now = new Date();
    const ahead = await openpgpKey({ date: new Date(now.getTime() + 2 * 60_000) });
    const saved = await savePatientPgpKey(db, { orgId: org.id, patientId: patient.id, armored: ahead.publicKey, now });
    expect(saved.status).toBe('saved');
    expect(await pgpKeyFor(db, org.id, patient.id, now)).toBeUndefined();
    expect(await pgpKeyFor(db, org.id, patient.id, new Date(now.getTime() + 3 * 60_000))).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    const farAhead = await openpgpKey({ date: new Date(now.getTime() + 24 * HOUR_MS) });
    expect(await validatePatientKey(farAhead.publicKey, now)).toMatchObject({ ok: false, error: 'no_encryption_key' });
  });

  it('save, replace, remove: audited with fingerprints only, scoped to the patient; pgpKeyFor honours expiry', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    const { patient: other } = await createTestPatient(handle, org.id);
    const now = new Date();
    const first = await openpgpKey({ keyExpirationTime: 3600 });
    const second = await openpgpKey();

    const bad = await savePatientPgpKey(db, { orgId: org.id, patientId: patient.id, armored: first.privateKey, now });
    expect(bad).toMatchObject({ status: 'invalid', error: 'private_key' });
    expect(await db.select().from(patientPgpKeys).where(eq(patientPgpKeys.patientId, patient.id))).toEqual([]);

    const saved = await savePatientPgpKey(db, { orgId: org.id, patientId: patient.id, armored: first.publicKey, now });
    if (saved.status !== 'saved') throw new Error(saved.error);
    expect(await pgpKeyFor(db, org.id, patient.id, now)).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    expect(await pgpKeyFor(db, org.id, patient.id, new Date(now.getTime() + 2 * HOUR_MS))).toBeUndefined();
    expect(await pgpKeyFor(db, org.id, other.id, now)).toBeUndefined();

    const replaced = await savePatientPgpKey(db, { orgId: org.id, patientId: patient.id, armored: second.publicKey, now });
    if (replaced.status !== 'saved') throw new Error(replaced.error);
    expect(replaced.replaced).toBe(saved.fingerprint);
    expect(await pgpKeyFor(db, org.id, patient.id, new Date(now.getTime() + 2 * HOUR_MS))).toContain('BEGIN PGP PUBLIC KEY BLOCK');

    // EN3: another patient cannot remove it, even knowing the fingerprint.
    expect(await removePatientPgpKey(db, { orgId: org.id, patientId: other.id, fingerprint: replaced.fingerprint })).toEqual({ status: 'not_found' });
    expect(await removePatientPgpKey(db, { orgId: org.id, patientId: patient.id, fingerprint: saved.fingerprint })).toEqual({ status: 'not_found' });
    expect(await removePatientPgpKey(db, { orgId: org.id, patientId: patient.id, fingerprint: replaced.fingerprint })).toEqual({ status: 'removed' });
    expect(await pgpKeyFor(db, org.id, patient.id, now)).toBeUndefined();

    const events = await db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id)).orderBy(asc(auditEvents.seq));
    expect(events.map((e) => [e.action, e.details])).toEqual([
      ['pgp_key.added', { fingerprint: saved.fingerprint }],
      ['pgp_key.removed', { fingerprint: saved.fingerprint }],
      ['pgp_key.added', { fingerprint: replaced.fingerprint }],
      ['pgp_key.removed', { fingerprint: replaced.fingerprint }],
    ]);
    expect((await verifyAuditChain(db, org.id)).ok).toBe(true);
  });
});

describe('organisation signing key', () => {
  it('is stored sealed: the row never holds the private key in clear, and it opens only for its organisation', async () => {
    const org = await createTestOrganisation(handle, 'Sealed Clinic');
    await expect(loadOrgSigningKey(db, ring, org.id)).rejects.toBeInstanceOf(OrgSigningKeyMissingError);
    const info = await ensureOrgSigningKey(db, ring, org, new Date());
    const [row] = await db.select().from(orgSigningKeys).where(eq(orgSigningKeys.orgId, org.id));
    expect(JSON.stringify(row)).not.toContain('PRIVATE KEY');
    expect(row!.armoredPublicKey).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    expect(() => open(ring, { orgId: org.id, purpose: 'message-content' }, row!.sealedPrivateKey)).toThrow(VaultError);
    const other = await createTestOrganisation(handle);
    expect(() => open(ring, { orgId: other.id, purpose: 'org-signing-key' }, row!.sealedPrivateKey)).toThrow(VaultError);

    const key = await loadOrgSigningKey(db, ring, org.id);
    expect(key.isPrivate() && key.isDecrypted()).toBe(true);
    expect(key.getFingerprint().toUpperCase()).toBe(info.fingerprint);
    expect(key.getUserIDs()).toEqual(['Sealed Clinic (secure messages)']);
    // A second call finds the same key.
    expect((await ensureOrgSigningKey(db, ring, org, new Date())).fingerprint).toBe(info.fingerprint);
  });

  it('two concurrent first calls end with one key', async () => {
    const org = await createTestOrganisation(handle);
    const now = new Date();
    const [a, b] = await Promise.all([ensureOrgSigningKey(db, ring, org, now), ensureOrgSigningKey(db, ring, org, now)]);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(await db.select().from(orgSigningKeys).where(and(eq(orgSigningKeys.orgId, org.id)))).toHaveLength(1);
    expect((await loadOrgSigningKey(db, ring, org.id)).getFingerprint().toUpperCase()).toBe(a.fingerprint);
  });
});

describe('PGP/MIME', () => {
  it('PGP: a PGP/MIME delivery decrypts and its signature verifies in GnuPG', async () => {
    // The patient's side: a key made by GnuPG itself (Ed25519 primary, Curve25519 encryption subkey by default).
    await gpg(['--passphrase', '', '--quick-gen-key', 'Pat <pat@example.com>', 'default', 'default', 'never']);
    const { stdout: recipientArmored } = await gpg(['--armor', '--export', 'pat@example.com']);
    const { stdout: colons } = await gpg(['--with-colons', '--list-keys', 'pat@example.com']);
    const gpgFingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1];
    const now = new Date();
    const checked = await validatePatientKey(recipientArmored, now);
    if (!checked.ok) throw new Error(checked.error);
    expect(checked.fingerprint).toBe(gpgFingerprint);

    const org = await createTestOrganisation(handle, 'Riverside Clinic');
    const orgKey = await ensureOrgSigningKey(db, ring, org, now);
    const innerSubject = 'Your biopsy results from Dr Okafor';
    const text = `Dear Pat,\n\nYour results are normal. Café visit optional.\n${'A long line that goes on and on '.repeat(6)}\n=equals and trailing space \n.`;
    const html = '<p>Dear Pat,</p><p>Your results are <strong>normal</strong>. Café visit optional.</p>';
    const raw = await buildPgpMime({
      from: 'Riverside Clinic <no-reply@riverside.example>',
      to: 'pat@example.com',
      subject: 'Secure message from Riverside Clinic',
      innerSubject,
      text,
      html,
      messageId: 'delivery-1234@carepost.test',
      headers: { 'List-Unsubscribe': '<https://portal.example/u/token>, <mailto:unsubscribe@portal.example?subject=token>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      recipientKey: checked.armored,
      signingKey: await loadOrgSigningKey(db, ring, org.id),
      date: now,
    });

    // RFC 5322 with CRLF only, the outer shape of RFC 3156, and nothing of the content outside the encryption.
    expect(raw).not.toMatch(/[^\r]\n/);
    expect(raw.split('\r\n').every((line) => line.length <= 998)).toBe(true);
    const [outerHeaders, outerBody] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n'))];
    expect(outerHeaders).toMatch(/^Subject: Secure message from Riverside Clinic\r$/m);
    expect(outerHeaders).toMatch(/^Message-ID: <delivery-1234@carepost\.test>\r$/m);
    expect(outerHeaders).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    expect(outerHeaders).toContain('List-Unsubscribe: <https://portal.example/u/token>,');
    expect(outerHeaders).toMatch(/^Content-Type: multipart\/encrypted; protocol="application\/pgp-encrypted";/m);
    expect(outerHeaders).not.toMatch(/biopsy|Okafor/i);
    expect(raw).not.toMatch(/biopsy|Okafor|normal|Café/i);
    expect(outerBody).toMatch(/\r\nContent-Type: application\/pgp-encrypted\r\n[^]*\r\n\r\nVersion: 1\r\n/);
    expect(outerBody).toMatch(/\r\nContent-Type: application\/octet-stream; name="encrypted.asc"\r\n/);

    // What a mail client sees: a multipart/encrypted with the version part and the armored part.
    const outer = await simpleParser(raw);
    expect(outer.subject).toBe('Secure message from Riverside Clinic');
    expect(outer.messageId).toBe('<delivery-1234@carepost.test>');

    // Through the real SMTP transport to a real SMTP server, as the engine hands it off (OutgoingMail.raw).
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-pgpmime-'));
    const catcher = await startMailCatcher({ dataDir: work });
    const transport = createSmtpTransport(catcher.url, { pool: false });
    let arrived: string;
    try {
      await transport.send({ from: 'no-reply@riverside.example', to: 'pat@example.com', subject: '', text: '', raw });
      const [received] = await listMail(work);
      arrived = readRawMail(work, received!.id)!.toString('utf8');
    } finally {
      await transport.close?.();
      await catcher.close();
    }
    expect(arrived).toContain(raw);

    // The patient's side again: GnuPG, knowing the organisation's public key, decrypts and verifies what arrived.
    try {
      fs.writeFileSync(path.join(work, 'org.asc'), orgKey.armoredPublicKey);
      await gpg(['--import', path.join(work, 'org.asc')]);
      const armored = /-----BEGIN PGP MESSAGE-----[^]*?-----END PGP MESSAGE-----/.exec(arrived)![0];
      fs.writeFileSync(path.join(work, 'encrypted.asc'), armored);
      const { stdout: status } = await gpg(['--status-fd', '1', '--output', path.join(work, 'plain.eml'), '--decrypt', path.join(work, 'encrypted.asc')]);
      expect(status).toContain('[GNUPG:] DECRYPTION_OKAY');
      expect(status).toMatch(new RegExp(`^\\[GNUPG:\\] GOODSIG ${orgKey.fingerprint.slice(-16)} `, 'm'));
      expect(status).toMatch(new RegExp(`^\\[GNUPG:\\] VALIDSIG ${orgKey.fingerprint} .* ${orgKey.fingerprint}$`, 'm'));
      expect(status).not.toMatch(/BADSIG|ERRSIG|DECRYPTION_FAILED/);

      // The decrypted MIME entity: protected headers with the real subject, the text and the HTML alternatives.
      const plain = fs.readFileSync(path.join(work, 'plain.eml'));
      expect(plain.toString('utf8')).toContain('Dear Pat,');
      expect(plain.toString('utf8')).toMatch(/^Content-Type: multipart\/alternative; boundary="[^"]+"; protected-headers="v1"\r\n/);
      const inner = await simpleParser(plain);
      expect(inner.subject).toBe(innerSubject);
      expect(inner.messageId).toBe('<delivery-1234@carepost.test>');
      expect(inner.text?.replace(/\r\n/g, '\n').trimEnd()).toBe(text.trimEnd());
      expect(inner.html).toContain('<strong>normal</strong>. Café');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('a text-only message with a non-ASCII subject and sender is one signed text/plain entity; header injection is refused', async () => {
    const recipient = await openpgpKey();
    const org = await createTestOrganisation(handle, 'Clínica Río');
    await ensureOrgSigningKey(db, ring, org, new Date());
    const raw = await buildPgpMime({
      from: 'Clínica Río <no-reply@rio.example>',
      to: 'pat@example.com',
      subject: 'Mensaje seguro de Clínica Río',
      innerSubject: 'Resultados de análisis',
      text: 'Hola',
      messageId: '<d-1@carepost.test>',
      recipientKey: recipient.publicKey,
      signingKey: await loadOrgSigningKey(db, ring, org.id),
      date: new Date(),
    });
    expect(raw).toMatch(/^[\x00-\x7f]*$/);
    const outer = await simpleParser(raw);
    expect(outer.subject).toBe('Mensaje seguro de Clínica Río');
    expect(outer.from?.value[0]).toEqual({ name: 'Clínica Río', address: 'no-reply@rio.example' });
    const orgPublic = await readKey({ armoredKey: (await ensureOrgSigningKey(db, ring, org, new Date())).armoredPublicKey });
    const opened = await decrypt({
      message: await readMessage({ armoredMessage: /-----BEGIN PGP MESSAGE-----[^]*?-----END PGP MESSAGE-----/.exec(raw)![0] }),
      decryptionKeys: await readPrivateKey({ armoredKey: recipient.privateKey }),
      verificationKeys: orgPublic,
      expectSigned: true,
    });
    expect(String(opened.data)).toMatch(/^Content-Type: text\/plain; charset="utf-8"; protected-headers="v1"\r?\nSubject: =\?UTF-8\?B\?/);
    const inner = await simpleParser(String(opened.data));
    expect(inner.subject).toBe('Resultados de análisis');
    expect(inner.text?.trim()).toBe('Hola');
    await expect(
      buildPgpMime({
        from: 'a@example.com',
        to: 'b@example.com',
        subject: 'x\r\nBcc: evil@example.com',
        innerSubject: 'y',
        text: 't',
        messageId: 'm@x',
        recipientKey: recipient.publicKey,
        signingKey: await loadOrgSigningKey(db, ring, org.id),
        date: new Date(),
      }),
    ).rejects.toThrow(/line break/);
  });
});
