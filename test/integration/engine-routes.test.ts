// Route choice in the engine (issue 5, item 5), end to end: PGP/MIME when the patient has a key, the content over
// required TLS when the domain takes it, a PHI-free notice otherwise, and never the content in clear (TR1, TR2).
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import * as openpgp from 'openpgp';
// The DKIM verifier alone: mailauth's main entry loads its BIMI code, whose bundled undici needs Node 22.
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contactPoints, deliveries, orgSigningKeys } from '../../db/schema/index';
import { generateOrgDkimKey } from '../../server/delivery/dkim-keys';
import { savePatientPgpKey } from '../../server/delivery/pgp';
import { addTlsEnforcedDomain, createMxTransport, createProbe, type MxRecord, type MxResolver } from '../../server/delivery/tls';
import { createSmtpTransport } from '../../server/delivery/transport';
import { runPass, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage } from '../../server/engine/enqueue';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { createTestPatient } from '../support/identity';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { makeCertificate } from '../support/tls-certs';

const handle = testDatabase(8);
const db = handle.db;
const vault = kekRing(Buffer.alloc(32, 5));
let relay: Awaited<ReturnType<typeof startSink>>;
let good: SmtpSink;
let plain: SmtpSink;
let deps: EngineDeps;
const PHI = `HbA1c ${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const cert = await makeCertificate('mx.good.test');
  [relay, good, plain] = await Promise.all([startSink(), startSmtpSink({ tls: cert }), startSmtpSink()]);
  const resolver: MxResolver = async (domain) => {
    const at = (host: string, port: number): MxRecord => ({ host, port, address: '127.0.0.1' });
    if (domain.startsWith('good-')) return [at('mx.good.test', good.port)];
    if (domain.startsWith('plain-')) return [at('mx.plain.test', plain.port)];
    return [];
  };
  deps = {
    db,
    vault,
    links: linkKeyring(Buffer.alloc(32, 6)),
    publicUrl: new URL('https://portal.example.com'),
    mailFrom: 'no-reply@carepost.test',
    messageIdDomain: 'carepost.test',
    mail: createSmtpTransport(relay.url, { pool: false }),
    sms: undefined,
    logger: createLogger({ level: 'silent' }),
    workerId: 'routes',
    tls: { probe: createProbe({ resolver, ca: cert.cert, timeoutMs: 5000 }), transport: createMxTransport({ resolver, ca: cert.cert, timeoutMs: 5000 }) },
  };
});
afterAll(async () => {
  await Promise.all([relay.close(), good.close(), plain.close()]);
  await handle.close();
});

async function patientAt(orgId: string, domain: string) {
  const { patient, email } = await createTestPatient(handle, orgId);
  const address = email.replace('@example.com', `@${domain}`);
  await db.update(contactPoints).set({ value: address }).where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.patientId, patient.id)));
  return { patient, address };
}

async function send(orgId: string, patientId: string) {
  const r = await db.transaction((tx) =>
    enqueueMessage(tx, vault, { orgId, category: 'treatment', content: { subject: 'Your results', text: `Result: ${PHI}` }, recipients: [{ patientId, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }),
  );
  if (!r.ok) throw new Error('not enqueued');
  while ((await runPass({ ...deps, orgIds: [orgId] }, { batchSize: 10, concurrency: 2 })) > 0) {
    /* drain */
  }
  const [row] = await db.select().from(deliveries).where(eq(deliveries.messageId, r.messageId));
  return row!;
}

describe('route choice', () => {
  it('PGP: a patient with a key gets PGP/MIME through the relay; it decrypts and the organisation signature verifies', async () => {
    const org = await createTestOrganisation(handle);
    const { patient, address } = await patientAt(org.id, 'nomx.test');
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: address }], format: 'armored' });
    expect((await savePatientPgpKey(db, { orgId: org.id, patientId: patient.id, armored: publicKey, now: new Date(Date.now() + 1000) })).status).toBe('saved');
    const row = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'sent', route: 'pgp' });
    const mail = relay.received.find((m) => m.messageId === row.messageIdHeader)!;
    expect(mail.raw).toContain('multipart/encrypted');
    expect(mail.raw).not.toContain(PHI);
    expect(mail.raw).not.toContain('Your results');
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(mail.raw)![0];
    const [signing] = await db.select().from(orgSigningKeys).where(eq(orgSigningKeys.orgId, org.id));
    const { data, signatures } = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: armored }),
      decryptionKeys: await openpgp.readPrivateKey({ armoredKey: privateKey }),
      verificationKeys: await openpgp.readKey({ armoredKey: signing!.armoredPublicKey }),
    });
    expect(String(data)).toContain(PHI);
    await expect(signatures[0]!.verified).resolves.toBe(true);
  });

  it('TR1: a domain that takes TLS gets the content over TLS directly; nothing goes to the relay', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await patientAt(org.id, `good-${randomBytes(3).toString('hex')}.test`);
    const before = relay.received.length;
    const row = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'sent', route: 'tls' });
    const got = good.received.find((m) => [row.messageIdHeader, row.messageIdHeader!.slice(1, -1)].includes(m.parsed.messageId ?? ""))!;
    expect(got.secure).toBe(true);
    expect(got.parsed.text).toContain(PHI);
    expect(relay.received.length).toBe(before);
  });

  it('TR1: a domain without TLS gets only a PHI-free notice through the relay; its own server sees nothing', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await patientAt(org.id, `plain-${randomBytes(3).toString('hex')}.test`);
    const plainData = plain.dataCalls;
    const row = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'sent', route: 'portal_notice' });
    expect(plain.dataCalls).toBe(plainData);
    const notice = relay.received.find((m) => m.messageId === row.messageIdHeader)!;
    expect(notice.raw).not.toContain(PHI);
    expect(plain.clientBytes().toString('latin1')).not.toContain(PHI);
  });

  it('TR2: a TLS-enforced domain without TLS gets nothing at all, not even a notice: the delivery waits and retries', async () => {
    const org = await createTestOrganisation(handle);
    const domain = `plain-${randomBytes(3).toString('hex')}.test`;
    const { patient } = await patientAt(org.id, domain);
    await addTlsEnforcedDomain(db, org.id, domain, new Date());
    const relayBefore = relay.received.length;
    const row = await send(org.id, patient.id);
    expect(row).toMatchObject({ status: 'queued', lastError: 'tls_required_unavailable', reason: 'transient_failure' });
    expect(relay.received.length).toBe(relayBefore);
  });
});

describe('EM3: an organisation\'s own DKIM key', () => {
  it('EM3: the notice and the PGP/MIME mail of an organisation with a key verify with d=<its domain>; another organisation\'s mail does not carry it', async () => {
    const org = await createTestOrganisation(handle);
    const domain = `clinic-${randomBytes(3).toString('hex')}.test`;
    const made = await generateOrgDkimKey(db, vault, { orgId: org.id, domain, selector: 'cp1', actor: { type: 'admin', id: 'test' }, now: new Date() });
    if (made.status !== 'generated') throw new Error('no key');
    const dns = async (name: string, type: string) => (type === 'TXT' && name === made.key.dnsName ? [[made.key.dnsRecord]] : []);

    const { patient } = await patientAt(org.id, `plain-${randomBytes(3).toString('hex')}.test`);
    const notice = await send(org.id, patient.id);
    expect(notice.route).toBe('portal_notice');
    const noticeMail = relay.received.find((m) => m.messageId === notice.messageIdHeader)!;
    const noticeVerdict = await dkimVerify(Buffer.from(noticeMail.raw), { resolver: dns });
    expect(noticeVerdict.results.map((r) => [r.signingDomain, r.status.result])).toEqual([[domain, 'pass']]);

    const other = await patientAt(org.id, 'nomx.test');
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: other.address }], format: 'armored' });
    await savePatientPgpKey(db, { orgId: org.id, patientId: other.patient.id, armored: publicKey, now: new Date(Date.now() + 1000) });
    const pgp = await send(org.id, other.patient.id);
    expect(pgp.route).toBe('pgp');
    const pgpMail = relay.received.find((m) => m.messageId === pgp.messageIdHeader)!;
    expect((await dkimVerify(Buffer.from(pgpMail.raw), { resolver: dns })).results[0]!.status.result).toBe('pass');

    // The control: an organisation without a key sends unsigned mail through the same unsigned relay transport.
    const plainOrg = await createTestOrganisation(handle);
    const third = await patientAt(plainOrg.id, `plain-${randomBytes(3).toString('hex')}.test`);
    const unsigned = await send(plainOrg.id, third.patient.id);
    expect(relay.received.find((m) => m.messageId === unsigned.messageIdHeader)!.raw).not.toMatch(/^DKIM-Signature:/im);
  });
});
