import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { methodSatisfies, requireAssurance, STEP_UP_MAX_AGE_MS } from '../../server/identity/assurance';
import { createPatientSession, getPatientSession, PATIENT_ABSOLUTE_MS, PATIENT_IDLE_MS } from '../../server/identity/sessions';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';
import { mailSnapshot, waitForCode } from '../support/mailbox';

const handle = testDatabase();
let dev: Awaited<ReturnType<typeof startTestServer>>;
let prod: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;

beforeAll(async () => {
  dev = await startTestServer();
  prod = await startTestServer({ production: true });
  org = await createTestOrganisation(handle, 'Sign-in Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Clinic');
});
afterAll(async () => {
  await dev.close();
  await prod.close();
  await handle.close();
});

type Server = typeof dev;

function cookieFrom(res: Response, name: string): string | undefined {
  const header = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  return header ? header.split(';')[0]!.slice(name.length + 1) : undefined;
}

function origin(server: Server) {
  return server.config.publicUrl.origin;
}

async function post(server: Server, pathname: string, body: Record<string, string>, cookie?: string) {
  return server.fetch(pathname, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: origin(server),
      'sec-fetch-site': 'same-origin',
      // As a reverse proxy would say; Remix compares it with Origin before running an action.
      'x-forwarded-host': new URL(origin(server)).host,
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(body).toString(),
  });
}

const names = (server: Server) =>
  server.config.publicUrl.protocol === 'https:'
    ? { session: '__Host-carepost_session', attempt: '__Host-carepost_attempt' }
    : { session: 'carepost_session', attempt: 'carepost_attempt' };

async function signIn(server: Server, slug: string, email: string, existingSession?: string) {
  const n = names(server);
  const ignore = await mailSnapshot(server.dataDir);
  const asked = await post(server, `/o/${slug}/sign-in`, { contact: email });
  expect(asked.status).toBe(303);
  const attempt = cookieFrom(asked, n.attempt)!;
  const code = await waitForCode(server.dataDir, email, { ignore });
  const cookie = [`${n.attempt}=${attempt}`, existingSession ? `${n.session}=${existingSession}` : ''].filter(Boolean).join('; ');
  const entered = await post(server, `/o/${slug}/sign-in/code`, { code }, cookie);
  expect(entered.status).toBe(303);
  expect(entered.headers.get('location')).toBe(`/o/${slug}/account`);
  return { session: cookieFrom(entered, n.session)!, response: entered, asked };
}

describe('sign-in over HTTP', () => {
  it('EN1: a known and an unknown contact point get the same status, headers and body', async () => {
    const { email } = await createTestPatient(handle, org.id);
    const known = await post(dev, `/o/${org.slug}/sign-in`, { contact: email });
    const unknown = await post(dev, `/o/${org.slug}/sign-in`, { contact: 'not-on-record@example.com' });
    expect(unknown.status).toBe(known.status);
    expect(unknown.headers.get('location')).toBe(known.headers.get('location'));
    const shape = (r: Response) => r.headers.getSetCookie().map((c) => c.replace(/=[^;]*/, '=<value>'));
    expect(shape(unknown)).toEqual(shape(known));
    expect(await unknown.text()).toBe(await known.text());
  });

  it('a code read from the real SMTP server signs the patient in; the account page is no-store', async () => {
    const { email, patient } = await createTestPatient(handle, org.id);
    const { session } = await signIn(dev, org.slug, email);
    const page = await dev.fetch(`/o/${org.slug}/account`, { headers: { cookie: `carepost_session=${session}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(await page.text()).toContain(patient.displayName);
  });

  it('bad input gets a 400 with a field error and changes nothing', async () => {
    const res = await post(dev, `/o/${org.slug}/sign-in`, { contact: 'not an address' });
    expect(res.status).toBe(400);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await res.text()).toContain('Enter an email address, or a mobile number');
    const code = await post(dev, `/o/${org.slug}/sign-in/code`, { code: '12ab' });
    expect(code.status).toBe(400);
    expect(await code.text()).toContain('Enter the 6-digit code');
  });

  it('OT3: a code entered without the attempt cookie (another browser) is refused', async () => {
    const { email } = await createTestPatient(handle, org.id);
    await post(dev, `/o/${org.slug}/sign-in`, { contact: email });
    const code = await waitForCode(dev.dataDir, email);
    const res = await post(dev, `/o/${org.slug}/sign-in/code`, { code });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('asked for in another browser');
  });

  it('SE1: every sign-in issues a new session id, and the old one dies', async () => {
    const { email } = await createTestPatient(handle, org.id);
    const first = await signIn(dev, org.slug, email);
    const second = await signIn(dev, org.slug, email, first.session);
    expect(second.session).not.toBe(first.session);
    expect(Buffer.from(second.session, 'base64url').length).toBeGreaterThanOrEqual(16);
    const old = await dev.fetch(`/o/${org.slug}/account`, { headers: { cookie: `carepost_session=${first.session}` } });
    expect(old.status).toBe(303);
    expect(old.headers.get('location')).toBe(`/o/${org.slug}/sign-in`);
  });

  it('SE3: sign-out ends the session on the server and sends Clear-Site-Data', async () => {
    const { email } = await createTestPatient(handle, org.id);
    const { session } = await signIn(dev, org.slug, email);
    const out = await post(dev, `/o/${org.slug}/sign-out`, {}, `carepost_session=${session}`);
    expect(out.status).toBe(303);
    expect(out.headers.get('clear-site-data')).toBe('"cache", "cookies", "storage"');
    expect(out.headers.getSetCookie().join()).toMatch(/carepost_session=;.*Max-Age=0/);
    const after = await dev.fetch(`/o/${org.slug}/account`, { headers: { cookie: `carepost_session=${session}` } });
    expect(after.status).toBe(303);
  });

  it('SE3: a GET to the sign-out address changes nothing', async () => {
    const { email } = await createTestPatient(handle, org.id);
    const { session } = await signIn(dev, org.slug, email);
    await dev.fetch(`/o/${org.slug}/sign-out`, { headers: { cookie: `carepost_session=${session}` } });
    const still = await dev.fetch(`/o/${org.slug}/account`, { headers: { cookie: `carepost_session=${session}` } });
    expect(still.status).toBe(200);
  });

  it('sign out everywhere ends every session of the patient', async () => {
    const { email } = await createTestPatient(handle, org.id);
    const a = await signIn(dev, org.slug, email);
    const b = await signIn(dev, org.slug, email);
    const res = await post(dev, `/o/${org.slug}/account`, { intent: 'sign_out_everywhere' }, `carepost_session=${b.session}`);
    expect(res.status).toBe(303);
    for (const s of [a.session, b.session]) {
      expect((await dev.fetch(`/o/${org.slug}/account`, { headers: { cookie: `carepost_session=${s}` } })).status).toBe(303);
    }
  });

  it('EN3: a session from one organisation is not a session in another', async () => {
    const { email } = await createTestPatient(handle, org.id);
    const { session } = await signIn(dev, org.slug, email);
    const res = await dev.fetch(`/o/${otherOrg.slug}/account`, { headers: { cookie: `carepost_session=${session}` } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/o/${otherOrg.slug}/sign-in`);
  });

  it('SE4: production cookies are __Host- prefixed, Secure, HttpOnly and SameSite=Lax', async () => {
    const { email } = await createTestPatient(handle, org.id);
    const { response, asked } = await signIn(prod, org.slug, email);
    const attempt = asked.headers.getSetCookie().find((c) => c.startsWith('__Host-carepost_attempt='))!;
    const session = response.headers.getSetCookie().find((c) => c.startsWith('__Host-carepost_session='))!;
    for (const cookie of [attempt, session]) {
      expect(cookie).toContain('; Secure');
      expect(cookie).toContain('; HttpOnly');
      expect(cookie).toContain('; SameSite=Lax');
      expect(cookie).toContain('; Path=/');
      expect(cookie).not.toMatch(/Domain=/i);
    }
    expect(session).not.toContain('Max-Age'); // a browser-session cookie; the server enforces the timeouts
  });
});

describe('step-up (SE5)', () => {
  it('SE5, SE1: a step-up with a fresh code returns to the page with a new session id; the old one dies', async () => {
    const { email, patient } = await createTestPatient(handle, org.id);
    const { session } = await signIn(dev, org.slug, email);
    const page = await dev.fetch(`/o/${org.slug}/verify?returnTo=/o/${org.slug}/account`, { headers: { cookie: `carepost_session=${session}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    const contactId = /name="contactId"[^>]*value="([0-9a-f-]{36})"/.exec(html)![1]!;
    expect(html).not.toContain(email); // masked on screen

    const ignore = await mailSnapshot(dev.dataDir);
    const sent = await post(dev, `/o/${org.slug}/verify`, { intent: 'send', contactId, returnTo: `/o/${org.slug}/account` }, `carepost_session=${session}`);
    expect(sent.status).toBe(200);
    const attempt = cookieFrom(sent, 'carepost_attempt')!;
    const code = await waitForCode(dev.dataDir, email, { ignore });
    const done = await post(dev, `/o/${org.slug}/verify`, { intent: 'verify', code, returnTo: `/o/${org.slug}/account` }, `carepost_session=${session}; carepost_attempt=${attempt}`);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/o/${org.slug}/account`);
    const fresh = cookieFrom(done, 'carepost_session')!;
    expect(fresh).not.toBe(session);
    expect((await dev.fetch(`/o/${org.slug}/account`, { headers: { cookie: `carepost_session=${session}` } })).status).toBe(303);
    const now = new Date();
    const stepped = await getPatientSession(handle.db, org.id, fresh, now);
    expect(stepped?.patientId).toBe(patient.id);
    expect(now.getTime() - stepped!.verifiedAt.getTime()).toBeLessThan(60_000);
  });

  it('SE5: a step-up code cannot be sent to another patient\'s contact point, and returnTo never leaves the organisation', async () => {
    const me = await createTestPatient(handle, org.id);
    const someoneElse = await createTestPatient(handle, org.id);
    const [theirs] = await handle.sql<{ id: string }[]>`select id from contact_points where patient_id = ${someoneElse.patient.id}`;
    const { session } = await signIn(dev, org.slug, me.email);
    const res = await post(dev, `/o/${org.slug}/verify`, { intent: 'send', contactId: theirs!.id, returnTo: 'https://evil.example/' }, `carepost_session=${session}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Choose where to send the code');
    const page = await dev.fetch(`/o/${org.slug}/verify?returnTo=https://evil.example/`, { headers: { cookie: `carepost_session=${session}` } });
    const html = await page.text();
    expect(html).toContain(`name="returnTo" value="/o/${org.slug}/account"`);
    expect(html).not.toContain('value="https://evil.example/"');
  });

  it('OT5: a step-up at "code plus date of birth" asks for both and records code_dob', async () => {
    const { email, patient } = await createTestPatient(handle, org.id, { dateOfBirth: '1971-11-02' });
    const { session } = await signIn(dev, org.slug, email);
    const request = new Request('http://localhost/x', { headers: { cookie: `carepost_session=${session}` } });
    const redirect = (await requireAssurance({ request, db: handle.db, cookies: { secure: false }, slug: org.slug, now: new Date(), level: 'code_dob', maxAgeMs: STEP_UP_MAX_AGE_MS, returnTo: `/o/${org.slug}/account` }).catch((r: Response) => r)) as Response;
    const location = redirect.headers.get('location')!;
    expect(location).toContain('level=code_dob');
    const page = await (await dev.fetch(location, { headers: { cookie: `carepost_session=${session}` } })).text();
    const contactId = /name="contactId"[^>]*value="([0-9a-f-]{36})"/.exec(page)![1]!;
    const ignore = await mailSnapshot(dev.dataDir);
    const sent = await post(dev, `/o/${org.slug}/verify`, { intent: 'send', contactId, returnTo: `/o/${org.slug}/account` }, `carepost_session=${session}`);
    const cookie = `carepost_session=${session}; carepost_attempt=${cookieFrom(sent, 'carepost_attempt')!}`;
    const code = await waitForCode(dev.dataDir, email, { ignore });
    const base = { intent: 'verify', level: 'code_dob', code, returnTo: `/o/${org.slug}/account` };
    const missing = await post(dev, `/o/${org.slug}/verify`, { ...base, dobDay: '31', dobMonth: '2', dobYear: '1971' }, cookie);
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('Enter your date of birth');
    const wrong = await post(dev, `/o/${org.slug}/verify`, { ...base, dobDay: '3', dobMonth: '11', dobYear: '1971' }, cookie);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('The code or the date of birth is not right');
    const right = await post(dev, `/o/${org.slug}/verify`, { ...base, dobDay: '2', dobMonth: '11', dobYear: '1971' }, cookie);
    expect(right.status).toBe(303);
    const fresh = cookieFrom(right, 'carepost_session')!;
    const stepped = await getPatientSession(handle.db, org.id, fresh, new Date());
    expect(stepped).toMatchObject({ patientId: patient.id, verificationMethod: 'code_dob' });
  });

  it('SE5: requireAssurance sends a stale or weaker verification to the step-up page', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const signedAt = new Date(Date.now() - 10 * 60_000);
    const { token } = await handle.db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId: patient.id, method: 'code_email', now: signedAt }));
    const request = new Request('http://localhost/x', { headers: { cookie: `carepost_session=${token}` } });
    const base = { request, db: handle.db, cookies: { secure: false }, slug: org.slug, returnTo: `/o/${org.slug}/passkeys` };
    const now = new Date(signedAt.getTime() + 60_000);
    await expect(requireAssurance({ ...base, now, level: 'code', maxAgeMs: STEP_UP_MAX_AGE_MS })).resolves.toMatchObject({ patient: { id: patient.id } });
    const stale = await requireAssurance({ ...base, now: new Date(signedAt.getTime() + 6 * 60_000), level: 'code', maxAgeMs: STEP_UP_MAX_AGE_MS }).catch((r: Response) => r);
    expect((stale as Response).headers.get('location')).toBe(`/o/${org.slug}/verify?returnTo=%2Fo%2F${org.slug}%2Fpasskeys`);
    const weaker = await requireAssurance({ ...base, now, level: 'passkey', maxAgeMs: STEP_UP_MAX_AGE_MS }).catch((r: Response) => r);
    expect((weaker as Response).status).toBe(303);
    expect(methodSatisfies('passkey', 'code_dob')).toBe(true);
    expect(methodSatisfies('code_sms', 'code_dob')).toBe(false);
  });
});

describe('session timeouts', () => {
  it('SE2: a session dies after 15 idle minutes, on the server', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const now = new Date();
    const { token } = await handle.db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId: patient.id, method: 'code_email', now }));
    expect(await getPatientSession(handle.db, org.id, token, new Date(now.getTime() + PATIENT_IDLE_MS - 1000))).toBeDefined();
    const later = new Date(now.getTime() + 2 * PATIENT_IDLE_MS);
    expect(await getPatientSession(handle.db, org.id, token, later)).toBeUndefined();
    // Ended for good: coming back "in time" later does not revive it.
    expect(await getPatientSession(handle.db, org.id, token, now)).toBeUndefined();
  });

  it('SE2: activity keeps a session alive, but never past 12 hours', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const start = new Date();
    const { token } = await handle.db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId: patient.id, method: 'code_email', now: start }));
    let now = start;
    while (now.getTime() + 10 * 60_000 < start.getTime() + PATIENT_ABSOLUTE_MS) {
      now = new Date(now.getTime() + 10 * 60_000);
      expect(await getPatientSession(handle.db, org.id, token, now)).toBeDefined();
    }
    expect(await getPatientSession(handle.db, org.id, token, new Date(start.getTime() + PATIENT_ABSOLUTE_MS))).toBeUndefined();
  });
});
