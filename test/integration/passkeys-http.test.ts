import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passkeys } from '../../db/schema/index';
import { createPatientSession } from '../../server/identity/sessions';
import { finishPasskeyRegistration, startPasskeyRegistration } from '../../server/identity/passkeys';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';
import { SoftAuthenticator } from '../support/soft-authenticator';

const handle = testDatabase();
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
const ORIGIN = 'http://localhost:3999';

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Passkey Clinic');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const headers = (cookie?: string) => ({
  'content-type': 'application/json',
  origin: ORIGIN,
  'sec-fetch-site': 'same-origin',
  'x-forwarded-host': 'localhost:3999',
  ...(cookie ? { cookie } : {}),
});

async function sessionFor(patientId: string, signedAt = new Date()) {
  const { token } = await handle.db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId, method: 'code_email', now: signedAt }));
  return `carepost_session=${token}`;
}

async function withPasskey() {
  const { patient, email } = await createTestPatient(handle, org.id);
  const authenticator = new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN });
  const started = await startPasskeyRegistration({ db: handle.db, orgId: org.id, patient, rp: { id: 'localhost', name: 'x' }, now: new Date() });
  const result = await finishPasskeyRegistration({
    db: handle.db,
    orgId: org.id,
    patientId: patient.id,
    challengeId: started.challengeId,
    response: authenticator.register(started.options),
    expectedOrigins: [ORIGIN],
    rpId: 'localhost',
    name: 'Phone',
    now: new Date(),
  });
  if (result.status !== 'added') throw new Error(result.status);
  return { patient, email, authenticator };
}

describe('passkey routes', () => {
  it('PK7, SE5: adding a passkey needs a fresh verification (page and endpoint)', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const stale = await sessionFor(patient.id, new Date(Date.now() - 10 * 60_000));
    const page = await dev.fetch(`/o/${org.slug}/passkeys/new`, { headers: { cookie: stale } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(`/o/${org.slug}/verify?returnTo=%2Fo%2F${org.slug}%2Fpasskeys%2Fnew`);
    const api = await dev.fetch(`/o/${org.slug}/passkeys/register`, { method: 'POST', headers: headers(stale), body: JSON.stringify({ intent: 'options' }) });
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ location: expect.stringContaining('/verify?returnTo=') });

    const fresh = await sessionFor(patient.id);
    const ok = await dev.fetch(`/o/${org.slug}/passkeys/register`, { method: 'POST', headers: headers(fresh), body: JSON.stringify({ intent: 'options' }) });
    expect(ok.status).toBe(200);
    const { options } = (await ok.json()) as { options: { rp: { id: string }; authenticatorSelection: { userVerification: string } } };
    expect(options.rp.id).toBe('localhost');
    expect(options.authenticatorSelection.userVerification).toBe('required');
  });

  it('a patient signs in with a passkey over HTTP, without a username', async () => {
    const { patient, authenticator } = await withPasskey();
    const res = await dev.fetch(`/o/${org.slug}/sign-in/passkey`, { method: 'POST', headers: headers(), body: JSON.stringify({ intent: 'options' }) });
    const challengeCookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
    const { options } = (await res.json()) as { options: Parameters<SoftAuthenticator['authenticate']>[0] };
    const response = authenticator.authenticate(options);
    const done = await dev.fetch(`/o/${org.slug}/sign-in/passkey`, { method: 'POST', headers: headers(challengeCookie), body: JSON.stringify({ intent: 'finish', response }) });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ location: `/o/${org.slug}/account` });
    const session = done.headers.getSetCookie().find((c) => c.startsWith('carepost_session='))!.split(';')[0]!;
    const page = await dev.fetch(`/o/${org.slug}/account`, { headers: { cookie: session } });
    expect(await page.text()).toContain(patient.displayName);
    // PK1 over HTTP: the same answer again finds its challenge gone.
    const replay = await dev.fetch(`/o/${org.slug}/sign-in/passkey`, { method: 'POST', headers: headers(challengeCookie), body: JSON.stringify({ intent: 'finish', response }) });
    expect(replay.status).toBe(400);
  });

  it('EN1: passkey options for an unknown address look like those for a patient with one passkey', async () => {
    const { email } = await withPasskey();
    const ask = async (contact: string) => {
      const res = await dev.fetch(`/o/${org.slug}/sign-in/passkey`, { method: 'POST', headers: headers(), body: JSON.stringify({ intent: 'options', contact }) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { options: { allowCredentials: { id: string; type: string }[] } }).options;
    };
    const known = await ask(email);
    const unknown = await ask('nobody-at-all@example.com');
    const again = await ask('nobody-at-all@example.com');
    expect(known.allowCredentials).toHaveLength(1);
    expect(unknown.allowCredentials).toHaveLength(1);
    expect(unknown.allowCredentials[0]!.id).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(again.allowCredentials[0]!.id).toBe(unknown.allowCredentials[0]!.id); // stable, so asking twice tells nothing
    expect(Object.keys(unknown).sort()).toEqual(Object.keys(known).sort());
  });

  it('PK7: a patient cannot rename or remove another patient\'s passkey', async () => {
    const owner = await withPasskey();
    const [stored] = await handle.db.select().from(passkeys).where(eq(passkeys.patientId, owner.patient.id));
    const { patient: intruder } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(intruder.id);
    const form = (body: Record<string, string>) => ({
      method: 'POST',
      headers: { ...headers(cookie), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    });
    expect((await dev.fetch(`/o/${org.slug}/passkeys`, form({ intent: 'rename', passkeyId: stored!.id, name: 'Mine now' }))).status).toBe(404);
    expect((await dev.fetch(`/o/${org.slug}/passkeys`, form({ intent: 'remove', passkeyId: stored!.id }))).status).toBe(404);
    const [after] = await handle.db.select().from(passkeys).where(eq(passkeys.id, stored!.id));
    expect(after!.name).toBe('Phone');
  });

  it('EN2: asking for passkey challenges is rate limited per IP', async () => {
    let last = 0;
    for (let i = 0; i < 302; i++) {
      const res = await dev.fetch(`/o/${org.slug}/sign-in/passkey`, { method: 'POST', headers: headers(), body: JSON.stringify({ intent: 'options' }) });
      last = res.status;
      if (last === 429) break;
    }
    expect(last).toBe(429);
  });
});
