// The encrypted-email page over real HTTP, against the real app and Postgres.
import { and, asc, eq } from 'drizzle-orm';
import { generateKey, readKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, patientPgpKeys } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import { formatFingerprint } from '../../server/delivery/pgp';
import { createPatientSession } from '../../server/identity/sessions';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
const ORIGIN = 'http://localhost:3999';

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Encryption Clinic');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

async function sessionFor(patientId: string, verifiedAt = new Date()) {
  const { token } = await db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId, method: 'code_email', now: verifiedAt }));
  return `carepost_session=${token}`;
}

const page = (cookie: string) => dev.fetch(`/o/${org.slug}/encryption`, { headers: { cookie } });

const post = (cookie: string, fields: Record<string, string>) =>
  dev.fetch(`/o/${org.slug}/encryption`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: ORIGIN,
      'sec-fetch-site': 'same-origin',
      'x-forwarded-host': 'localhost:3999',
      cookie,
    },
    body: new URLSearchParams(fields).toString(),
  });

async function newKey() {
  const { publicKey, privateKey } = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Pat', email: 'pat@example.com' }] });
  return { publicKey, privateKey, fingerprint: (await readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase() };
}

const storedKeys = (patientId: string) => db.select().from(patientPgpKeys).where(and(eq(patientPgpKeys.orgId, org.id), eq(patientPgpKeys.patientId, patientId)));
const pgpAudit = async (patientId: string) =>
  (await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.actorId, patientId))).orderBy(asc(auditEvents.seq)))
    .filter((e) => e.action.startsWith('pgp_key.'))
    .map((e) => [e.action, e.details]);

describe('encrypted email page', () => {
  it('SE5: adding or removing a key needs a recent verification; a stale session is offered the step-up first', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const stale = await sessionFor(patient.id, new Date(Date.now() - 10 * 60_000));
    const view = await page(stale);
    expect(view.status).toBe(200);
    const html = await view.text();
    expect(html).toContain('Confirm it is you');
    expect(html).toContain(`/o/${org.slug}/verify?returnTo=%2Fo%2F${org.slug}%2Fencryption`);
    expect(html).not.toContain('<textarea');

    const { publicKey, fingerprint } = await newKey();
    const verifyAt = `/o/${org.slug}/verify?returnTo=%2Fo%2F${org.slug}%2Fencryption`;
    const save = await post(stale, { intent: 'save', publicKey });
    expect(save.status).toBe(303);
    expect(save.headers.get('location')).toBe(verifyAt);
    const remove = await post(stale, { intent: 'remove', fingerprint });
    expect(remove.status).toBe(303);
    expect(remove.headers.get('location')).toBe(verifyAt);
    expect(await storedKeys(patient.id)).toEqual([]);

    // Not signed in at all: sign in first.
    const anonymous = await dev.fetch(`/o/${org.slug}/encryption`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toContain(`/o/${org.slug}/sign-in`);
  });

  it('a bad key gets a 400 with a readable error tied to the field, and nothing is stored', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    const garbage = await post(cookie, { intent: 'save', publicKey: 'not a key at all' });
    expect(garbage.status).toBe(400);
    const html = await garbage.text();
    expect(html).toMatch(/<textarea[^>]*aria-describedby="publicKey-hint publicKey-error"[^>]*aria-invalid="true"/);
    expect(html).toMatch(/<div role="alert"><p id="publicKey-error" class="field__error">/);
    expect(html).toContain('This does not look like one OpenPGP public key.');
    expect(html).toContain('not a key at all'); // kept in the box to correct it

    const { privateKey } = await newKey();
    const secret = await post(cookie, { intent: 'save', publicKey: privateKey });
    expect(secret.status).toBe(400);
    const secretHtml = await secret.text();
    expect(secretHtml).toContain('This is a private key');
    expect(secretHtml).not.toContain('PRIVATE KEY BLOCK'); // never echoed back into the page
    expect(await post(cookie, { intent: 'save', publicKey: '  ' }).then((r) => r.status)).toBe(400);

    expect(await storedKeys(patient.id)).toEqual([]);
    expect(await pgpAudit(patient.id)).toEqual([]);
  });

  it('add, then replace, then remove: each shown on the page and audited with the fingerprint only', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    const first = await newKey();
    const second = await newKey();

    const added = await post(cookie, { intent: 'save', publicKey: first.publicKey });
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe(`/o/${org.slug}/encryption?done=added`);
    const shown = await dev.fetch(`/o/${org.slug}/encryption?done=added`, { headers: { cookie } });
    expect(shown.headers.get('cache-control')).toBe('no-store'); // PW1
    const html = await shown.text();
    expect(html).toContain(formatFingerprint(first.fingerprint));
    expect(html).toContain('Does not expire');
    expect(html).toContain('Email from Encryption Clinic to you will now be encrypted to this key.');

    const replaced = await post(cookie, { intent: 'save', publicKey: second.publicKey });
    expect(replaced.headers.get('location')).toBe(`/o/${org.slug}/encryption?done=replaced`);
    const [row] = await storedKeys(patient.id);
    expect(row!.fingerprint).toBe(second.fingerprint);
    expect(row!.armoredKey).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);

    // A stale page naming the old key removes nothing.
    expect((await post(cookie, { intent: 'remove', fingerprint: first.fingerprint })).status).toBe(404);
    const removed = await post(cookie, { intent: 'remove', fingerprint: second.fingerprint });
    expect(removed.headers.get('location')).toBe(`/o/${org.slug}/encryption?done=removed`);
    expect(await storedKeys(patient.id)).toEqual([]);
    expect(await (await page(cookie)).text()).toContain('You have not added a key.');

    expect(await pgpAudit(patient.id)).toEqual([
      ['pgp_key.added', { fingerprint: first.fingerprint }],
      ['pgp_key.removed', { fingerprint: first.fingerprint }],
      ['pgp_key.added', { fingerprint: second.fingerprint }],
      ['pgp_key.removed', { fingerprint: second.fingerprint }],
    ]);
    expect((await verifyAuditChain(db, org.id)).ok).toBe(true);
  });

  it("EN3: one patient's session never sees or removes another patient's key", async () => {
    const { patient: owner } = await createTestPatient(handle, org.id);
    const { patient: intruder } = await createTestPatient(handle, org.id);
    const ownerCookie = await sessionFor(owner.id);
    const intruderCookie = await sessionFor(intruder.id);
    const ownerKey = await newKey();
    expect((await post(ownerCookie, { intent: 'save', publicKey: ownerKey.publicKey })).status).toBe(303);

    const seen = await (await page(intruderCookie)).text();
    expect(seen).not.toContain(ownerKey.fingerprint);
    expect(seen).not.toContain(formatFingerprint(ownerKey.fingerprint));
    expect(seen).toContain('You have not added a key.');

    expect((await post(intruderCookie, { intent: 'remove', fingerprint: ownerKey.fingerprint })).status).toBe(404);
    const intruderKey = await newKey();
    expect((await post(intruderCookie, { intent: 'save', publicKey: intruderKey.publicKey })).status).toBe(303);

    const [kept] = await storedKeys(owner.id);
    expect(kept!.fingerprint).toBe(ownerKey.fingerprint);
    expect((await storedKeys(intruder.id))[0]!.fingerprint).toBe(intruderKey.fingerprint);
    expect(await (await page(ownerCookie)).text()).toContain(formatFingerprint(ownerKey.fingerprint));
  });
});
