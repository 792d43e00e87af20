import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, contactPoints, outboundEvents, verifications } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import { listDevSms } from '../../server/delivery/sms';
import { createSmtpTransport } from '../../server/delivery/transport';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { confirmContactVerification, deliverContactChangeNotices, removeContactPoint, requestContactVerification } from '../../server/identity/contact-change';
import { maskContact } from '../../server/identity/contact';
import { createPatientSession } from '../../server/identity/sessions';
import { createLogger } from '../../server/logger';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { codeSecret, createTestPatient } from '../support/identity';
import { mailSnapshot, waitForCode } from '../support/mailbox';

const handle = testDatabase();
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Contacts Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Clinic');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const MIN = 60_000;
const at = (base: Date, ms: number) => new Date(base.getTime() + ms);
const tag = () => randomBytes(4).toString('hex');
const newEmail = () => `new-${tag()}@example.org`;
const newPhone = () => `+1555${Math.floor(1_000_000 + Math.random() * 8_999_999)}`;

function cookieFrom(res: Response, name: string): string | undefined {
  const header = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  return header ? header.split(';')[0]!.slice(name.length + 1) : undefined;
}

async function post(pathname: string, body: Record<string, string>, cookie?: string) {
  const origin = dev.config.publicUrl.origin;
  return dev.fetch(pathname, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin,
      'sec-fetch-site': 'same-origin',
      'x-forwarded-host': new URL(origin).host,
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(body).toString(),
  });
}

/** A session as a code sign-in `signedAt` would have made it (fresh by default, so no step-up is needed). */
async function sessionFor(patientId: string, orgId = org.id, signedAt = new Date()) {
  const { token } = await handle.db.transaction((tx) => createPatientSession(tx, { orgId, patientId, method: 'code_email', now: signedAt }));
  return `carepost_session=${token}`;
}

/** The <main> of a page: what the patient reads, without the per-request nonce and session timers around it. */
const mainOf = (html: string) => /<main[\s\S]*<\/main>/.exec(html)?.[0] ?? '';

async function waitForMail(to: string, subject: string, ignore: Set<string>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const summary of await listMail(dev.dataDir)) {
      if (ignore.has(summary.id) || !summary.to.includes(to) || !summary.subject.includes(subject)) continue;
      return (await readMail(dev.dataDir, summary.id))!;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail "${subject}" for ${to} within ${timeoutMs} ms`);
}

async function waitForSms(to: string, ignore: Set<string>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = listDevSms(dev.dataDir).find((m) => m.to === to && !ignore.has(m.id));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no SMS for ${to} within ${timeoutMs} ms`);
}
const smsSnapshot = () => new Set(listDevSms(dev.dataDir, 500).map((m) => m.id));

/** Asks for a code for `value` over HTTP, and reads it from the real mail catcher (or the SMS sink). */
async function askForCode(session: string, kind: 'email' | 'sms', value: string) {
  const ignoreMail = await mailSnapshot(dev.dataDir);
  const ignoreSms = smsSnapshot();
  const sent = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', kind, value }, session);
  expect(sent.status).toBe(200);
  const attempt = cookieFrom(sent, 'carepost_attempt')!;
  expect(attempt).toBeDefined();
  const code =
    kind === 'email' ? await waitForCode(dev.dataDir, value.toLowerCase(), { ignore: ignoreMail }) : /^(\d{6}) is your code/.exec((await waitForSms(value, ignoreSms)).body)![1]!;
  return { sent, attempt, code, cookie: `${session}; carepost_attempt=${attempt}` };
}

const enter = (cookie: string, kind: 'email' | 'sms', value: string, code: string) => post(`/o/${org.slug}/contacts/new`, { intent: 'verify', kind, value, code }, cookie);

const pointsOf = (patientId: string) => handle.db.select().from(contactPoints).where(eq(contactPoints.patientId, patientId)).orderBy(asc(contactPoints.createdAt));

describe('adding a contact point', () => {
  it('SE5: adding a contact point without a recent verification redirects to step-up', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const stale = await sessionFor(patient.id, org.id, new Date(Date.now() - 10 * MIN));
    const stepUp = `/o/${org.slug}/verify?returnTo=%2Fo%2F${org.slug}%2Fcontacts%2Fnew`;
    const page = await dev.fetch(`/o/${org.slug}/contacts/new`, { headers: { cookie: stale } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(stepUp);
    const value = newEmail();
    const asked = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', kind: 'email', value }, stale);
    expect(asked.status).toBe(303);
    expect(asked.headers.get('location')).toBe(stepUp);
    expect(cookieFrom(asked, 'carepost_attempt')).toBeUndefined();
    expect(await handle.db.select().from(verifications).where(and(eq(verifications.orgId, org.id), eq(verifications.patientId, patient.id)))).toEqual([]);
    // The list itself needs only a session.
    expect((await dev.fetch(`/o/${org.slug}/contacts`, { headers: { cookie: stale } })).status).toBe(200);
  });

  it('OT6: double opt-in: the code goes to the new address, and only the right code stores it, verified, as the patient\'s', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const value = `New.${tag()}@Example.org`;
    const normalised = value.toLowerCase();
    const ignore = await mailSnapshot(dev.dataDir);
    const { sent, cookie, code } = await askForCode(session, 'email', value);
    expect(mainOf(await sent.text())).toContain('Enter the code');
    const codeMail = await waitForMail(normalised, 'Confirm your new email address for Contacts Clinic', ignore);
    expect(codeMail.text).toContain(`Your code is ${code}`);
    expect(await pointsOf(patient.id)).toHaveLength(1); // nothing added before the code comes back

    const wrong = await enter(cookie, 'email', normalised, code === '000000' ? '111111' : '000000');
    expect(wrong.status).toBe(400);
    expect(mainOf(await wrong.text())).toContain('That code is not right. You can try 4 more times.');
    expect(await pointsOf(patient.id)).toHaveLength(1);

    const done = await enter(cookie, 'email', normalised, code);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/o/${org.slug}/contacts?done=added`);
    expect(done.headers.getSetCookie().join()).toMatch(/carepost_attempt=;.*Max-Age=0/);
    const points = await pointsOf(patient.id);
    expect(points.map((p) => p.value)).toEqual([email, normalised]);
    expect(points[1]).toMatchObject({ orgId: org.id, kind: 'email', source: 'patient' });
    expect(points[1]!.verifiedAt).toBeInstanceOf(Date);

    const list = mainOf(await (await dev.fetch(`/o/${org.slug}/contacts?done=added`, { headers: { cookie: session } })).text());
    expect(list).toContain(normalised);
    expect(list).toContain(email);
    expect(list.match(/>Verified</g)).toHaveLength(2);
    expect(list).toContain(`href="/o/${org.slug}/contacts/${points[1]!.id}/remove"`);
    expect(list).toContain('Added.');
  });

  it('the old contact points get a notice naming the organisation, with the new value only masked (email and SMS)', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    const phone = newPhone();
    await handle.db.insert(contactPoints).values({ orgId: org.id, patientId: patient.id, kind: 'sms', value: phone, source: 'organisation', verifiedAt: new Date() });
    const session = await sessionFor(patient.id);
    const value = newEmail();
    const { cookie, code } = await askForCode(session, 'email', value);
    const ignoreMail = await mailSnapshot(dev.dataDir);
    const ignoreSms = smsSnapshot();
    expect((await enter(cookie, 'email', value, code)).status).toBe(303);

    const masked = maskContact({ kind: 'email', value });
    const notice = await waitForMail(email, 'Your Contacts Clinic contact details changed', ignoreMail);
    expect(notice.text).toContain(`A new email address was added to your Contacts Clinic account: ${masked}.`);
    expect(notice.text).toContain('If you did not, contact Contacts Clinic');
    expect(notice.text).not.toContain(value);
    expect(notice.text).not.toContain(value.split('@')[0]!);
    expect(notice.text).not.toContain(patient.displayName);
    const sms = await waitForSms(phone, ignoreSms);
    expect(sms.body).toBe(`Contacts Clinic: a new email address was added to your Contacts Clinic account: ${masked}. If this was not you, contact Contacts Clinic.`);
    // The new address itself gets no notice (only its code).
    const toNew = (await listMail(dev.dataDir)).filter((m) => !ignoreMail.has(m.id) && m.to.includes(value));
    expect(toNew).toEqual([]);
  });

  it('adding a mobile number: the code goes by SMS, and the old email is told with the number masked', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const phone = newPhone();
    const typed = `(${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`; // national format, no country code
    const ignoreSms = smsSnapshot();
    const sent = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', kind: 'sms', value: typed }, session);
    expect(sent.status).toBe(200);
    const sms = await waitForSms(phone, ignoreSms);
    const code = /^(\d{6}) is your code to add this number to your Contacts Clinic account/.exec(sms.body)![1]!;
    const ignoreMail = await mailSnapshot(dev.dataDir);
    const done = await enter(`${session}; carepost_attempt=${cookieFrom(sent, 'carepost_attempt')!}`, 'sms', phone, code);
    expect(done.status).toBe(303);
    expect((await pointsOf(patient.id)).find((p) => p.kind === 'sms')).toMatchObject({ value: phone, source: 'patient' });
    const notice = await waitForMail(email, 'contact details changed', ignoreMail);
    expect(notice.text).toContain(`A new mobile number was added to your Contacts Clinic account: •••• ${phone.slice(-4)}.`);
    expect(notice.text).not.toContain(phone);
    expect(notice.text).not.toContain(phone.slice(2));
  });

  it('OT3: a contact verification code is refused from another browser (no attempt cookie, or another one)', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const value = newEmail();
    const { cookie, code } = await askForCode(session, 'email', value);
    const otherBrowser = await askForCode(session, 'email', newEmail()); // the same patient, another address, another browser

    const none = await enter(session, 'email', value, code);
    expect(none.status).toBe(400);
    expect(mainOf(await none.text())).toContain('asked for in another browser');
    const other = await enter(otherBrowser.cookie, 'email', value, code);
    expect(other.status).toBe(400);
    expect(mainOf(await other.text())).toContain('asked for in another browser');
    expect(await pointsOf(patient.id)).toHaveLength(1);
    // The address cannot be swapped under the code either: the page's value must be the one the code was sent to.
    const swapped = await enter(cookie, 'email', newEmail(), code);
    expect(swapped.status).toBe(400);
    expect(await pointsOf(patient.id)).toHaveLength(1);

    expect((await enter(cookie, 'email', value, code)).status).toBe(303); // where it was asked for, it works
  });

  it('OT2: a contact verification code works within 10 minutes and is refused at 10 minutes', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const now = new Date();
    const ask = async (value: string) => {
      const result = await requestContactVerification({ db: handle.db, codeSecret, orgId: org.id, patientId: patient.id, contact: { kind: 'email', value }, ipAddress: '203.0.113.9', now });
      if (result.status !== 'issued') throw new Error(result.status);
      return result;
    };
    const confirm = (value: string, issued: Awaited<ReturnType<typeof ask>>, when: Date) =>
      confirmContactVerification({ db: handle.db, codeSecret, orgId: org.id, patientId: patient.id, contact: { kind: 'email', value }, attemptToken: issued.attemptToken, code: issued.delivery.code, now: when });

    const late = newEmail();
    const lateCode = await ask(late);
    expect(lateCode.expiresAt).toEqual(at(now, 10 * MIN));
    expect(await confirm(late, lateCode, at(now, 10 * MIN))).toEqual({ status: 'expired' });

    const inTime = newEmail();
    const inTimeCode = await ask(inTime);
    expect(await confirm(inTime, inTimeCode, at(now, 10 * MIN - 1000))).toMatchObject({ status: 'added', kind: 'email' });
    expect((await pointsOf(patient.id)).map((p) => p.value)).not.toContain(late);
  });

  it('OT2: a contact verification code is accepted once; a replay is refused', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const value = newEmail();
    const { cookie, code } = await askForCode(session, 'email', value);
    expect((await enter(cookie, 'email', value, code)).status).toBe(303);
    const replay = await enter(cookie, 'email', value, code);
    expect(replay.status).toBe(400);
    expect(mainOf(await replay.text())).toContain('That code has already been used');
    expect((await pointsOf(patient.id)).filter((p) => p.value === value)).toHaveLength(1);
  });

  it('OT4: five wrong codes kill it; the right code is refused after', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const value = newEmail();
    const { cookie, code } = await askForCode(session, 'email', value);
    const wrong = code === '000000' ? '111111' : '000000';
    const messages = [];
    for (let i = 0; i < 5; i++) {
      const res = await enter(cookie, 'email', value, wrong);
      expect(res.status).toBe(400);
      messages.push(/That code is not right[^<]*/.exec(mainOf(await res.text()))?.[0]);
    }
    expect(messages).toEqual([
      'That code is not right. You can try 4 more times.',
      'That code is not right. You can try 3 more times.',
      'That code is not right. You can try 2 more times.',
      'That code is not right. You can try 1 more time.',
      'That code is not right, and it cannot be tried again. Ask for a new code.',
    ]);
    const dead = await enter(cookie, 'email', value, code);
    expect(dead.status).toBe(400);
    expect(mainOf(await dead.text())).toContain('That code has been tried too many times');
    expect((await pointsOf(patient.id)).map((p) => p.value)).not.toContain(value);
  });

  it('an address of another patient in the organisation: not revealed before the code, not added after it', async () => {
    const me = await createTestPatient(handle, org.id);
    const them = await createTestPatient(handle, org.id);
    const session = await sessionFor(me.patient.id);
    const free = newEmail();
    const freeAsk = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', kind: 'email', value: free }, session);
    const { sent, cookie, code } = await askForCode(session, 'email', them.email); // the code really goes to that address
    expect(sent.status).toBe(freeAsk.status);
    const shape = (r: Response) => r.headers.getSetCookie().map((c) => c.replace(/=[^;]*/, '=<value>'));
    expect(shape(sent)).toEqual(shape(freeAsk));
    expect(mainOf(await sent.text()).replaceAll(them.email, '<address>')).toBe(mainOf(await freeAsk.text()).replaceAll(free, '<address>'));

    const refused = await enter(cookie, 'email', them.email, code);
    expect(refused.status).toBe(400);
    expect(mainOf(await refused.text())).toContain('This email address cannot be added to your account here. If it is yours, please contact Contacts Clinic.');
    expect((await pointsOf(me.patient.id)).map((p) => p.value)).toEqual([me.email]);
    expect((await pointsOf(them.patient.id)).map((p) => p.value)).toEqual([them.email]);
    const [refusal] = await handle.db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.actorId, me.patient.id), eq(auditEvents.action, 'identity.contact_point.add_refused')));
    expect(refusal!.details).toEqual({ kind: 'email', reason: 'in_use' });
  });

  it('OT6: the patient\'s own unverified number is verified in place once its code comes back', async () => {
    const { patient, phone } = await createTestPatient(handle, org.id, { unverifiedPhone: true });
    const session = await sessionFor(patient.id);
    const before = (await pointsOf(patient.id)).find((p) => p.kind === 'sms')!;
    expect(before.verifiedAt).toBeNull();
    const { cookie, code } = await askForCode(session, 'sms', phone);
    expect((await enter(cookie, 'sms', phone, code)).status).toBe(303);
    const after = (await pointsOf(patient.id)).filter((p) => p.kind === 'sms');
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: before.id, source: 'patient' });
    expect(after[0]!.verifiedAt).toBeInstanceOf(Date);
  });

  it('an address already on the patient\'s account gets a 400 field error and no code', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const res = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', kind: 'email', value: email.toUpperCase() }, session);
    expect(res.status).toBe(400);
    const main = mainOf(await res.text());
    expect(main).toContain('This email address is already on your account.');
    expect(main).toMatch(/id="value"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="value"/);
    expect(cookieFrom(res, 'carepost_attempt')).toBeUndefined();
    expect(await handle.db.select().from(verifications).where(eq(verifications.patientId, patient.id))).toEqual([]);
  });

  it('bad input (malformed email or phone) gives a 400 with a field error and changes nothing', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const cases: [Record<string, string>, string, string][] = [
      [{ kind: 'email', value: 'not-an-email' }, 'value', 'Enter an email address in the right format'],
      [{ kind: 'email', value: 'someone@localhost' }, 'value', 'Enter an email address in the right format'],
      [{ kind: 'email', value: '+1 555 555 0101' }, 'value', 'Enter an email address in the right format'],
      [{ kind: 'sms', value: '12ab' }, 'value', 'Enter a mobile number with its country code'],
      [{ kind: 'sms', value: '555 0101' }, 'value', 'Enter a mobile number with its country code'],
      [{ kind: 'sms', value: 'someone@example.com' }, 'value', 'Enter a mobile number with its country code'],
      [{ kind: 'email', value: '   ' }, 'value', 'Enter the email address you want to add.'],
      [{ kind: 'fax', value: '+15555550101' }, 'kind', 'Choose whether to add an email address or a mobile number.'],
      [{ value: 'x@example.com' }, 'kind', 'Choose whether to add an email address or a mobile number.'],
    ];
    for (const [body, field, message] of cases) {
      const res = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', ...body }, session);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const main = mainOf(await res.text());
      expect(main).toContain(`id="${field}-error"`);
      expect(main).toContain(message);
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    expect(await handle.db.select().from(verifications).where(eq(verifications.patientId, patient.id))).toEqual([]);
    expect(await pointsOf(patient.id)).toHaveLength(1);
    expect(await handle.db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.actorId, patient.id)))).toHaveLength(1); // the sign-in only
  });
});

describe('removing a contact point', () => {
  it('SE5: removing a contact point without a recent verification redirects to step-up and removes nothing', async () => {
    const { patient } = await createTestPatient(handle, org.id, { unverifiedPhone: true });
    const stale = await sessionFor(patient.id, org.id, new Date(Date.now() - 10 * MIN));
    const phone = (await pointsOf(patient.id)).find((p) => p.kind === 'sms')!;
    const stepUp = `/o/${org.slug}/verify?returnTo=%2Fo%2F${org.slug}%2Fcontacts%2F${phone.id}%2Fremove`;
    const page = await dev.fetch(`/o/${org.slug}/contacts/${phone.id}/remove`, { headers: { cookie: stale } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(stepUp);
    const res = await post(`/o/${org.slug}/contacts/${phone.id}/remove`, {}, stale);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(stepUp);
    expect(await pointsOf(patient.id)).toHaveLength(2);
  });

  it('removing the last verified contact point is refused with a readable message; an unverified one can go, and the others are told', async () => {
    const { patient, email, phone } = await createTestPatient(handle, org.id, { unverifiedPhone: true });
    const session = await sessionFor(patient.id);
    const [emailPoint, phonePoint] = await pointsOf(patient.id);

    const page = mainOf(await (await dev.fetch(`/o/${org.slug}/contacts/${emailPoint!.id}/remove`, { headers: { cookie: session } })).text());
    expect(page).toContain('You cannot remove your only verified email address or mobile number');
    expect(page).not.toContain('Yes, remove it');
    const refused = await post(`/o/${org.slug}/contacts/${emailPoint!.id}/remove`, {}, session);
    expect(refused.status).toBe(400);
    expect(mainOf(await refused.text())).toMatch(/role="alert" class="form-error">You cannot remove your only verified email address or mobile number/);
    expect(await pointsOf(patient.id)).toHaveLength(2);

    const confirmPage = mainOf(await (await dev.fetch(`/o/${org.slug}/contacts/${phonePoint!.id}/remove`, { headers: { cookie: session } })).text());
    expect(confirmPage).toContain('Remove this mobile number?');
    expect(confirmPage).toContain('Yes, remove it');
    const ignore = await mailSnapshot(dev.dataDir);
    const removed = await post(`/o/${org.slug}/contacts/${phonePoint!.id}/remove`, {}, session);
    expect(removed.status).toBe(303);
    expect(removed.headers.get('location')).toBe(`/o/${org.slug}/contacts?done=removed`);
    expect((await pointsOf(patient.id)).map((p) => p.value)).toEqual([email]);
    const notice = await waitForMail(email, 'contact details changed', ignore);
    expect(notice.text).toContain(`A mobile number was removed from your Contacts Clinic account: •••• ${phone.slice(-4)}.`);
    expect(notice.text).not.toContain(phone);
  });

  it('removing two contact points at once never leaves the patient with no verified one', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    await handle.db.insert(contactPoints).values({ orgId: org.id, patientId: patient.id, kind: 'email', value: newEmail(), source: 'organisation', verifiedAt: new Date() });
    const points = await pointsOf(patient.id);
    const now = new Date();
    const results = await Promise.all(points.map((p) => removeContactPoint({ db: handle.db, orgId: org.id, patientId: patient.id, contactPointId: p.id, now })));
    expect(results.map((r) => r.status).sort()).toEqual(['last_verified', 'removed']);
    expect(await pointsOf(patient.id)).toHaveLength(1);
  });

  it('EN3: another patient\'s or another organisation\'s contact point id gets a 404, and nothing is removed', async () => {
    const me = await createTestPatient(handle, org.id);
    const them = await createTestPatient(handle, org.id);
    const elsewhere = await createTestPatient(handle, otherOrg.id);
    await handle.db.insert(contactPoints).values({ orgId: org.id, patientId: them.patient.id, kind: 'email', value: newEmail(), source: 'organisation', verifiedAt: new Date() });
    const [theirs] = await pointsOf(them.patient.id);
    const [foreign] = await pointsOf(elsewhere.patient.id);
    const session = await sessionFor(me.patient.id);
    for (const id of [theirs!.id, foreign!.id, 'not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      const page = await dev.fetch(`/o/${org.slug}/contacts/${id}/remove`, { headers: { cookie: session } });
      expect(page.status, id).toBe(404);
      const html = mainOf(await page.text());
      expect(html).toContain('Contact details not found');
      expect(html).not.toContain(them.email);
      expect((await post(`/o/${org.slug}/contacts/${id}/remove`, {}, session)).status, id).toBe(404);
    }
    expect(await pointsOf(them.patient.id)).toHaveLength(2);
    expect(await pointsOf(elsewhere.patient.id)).toHaveLength(1);
    const list = mainOf(await (await dev.fetch(`/o/${org.slug}/contacts`, { headers: { cookie: session } })).text());
    expect(list).toContain(me.email);
    expect(list).not.toContain(them.email);
    // A session of one organisation is no session in another: its contact pages send the visitor to sign in.
    const across = await dev.fetch(`/o/${otherOrg.slug}/contacts/${foreign!.id}/remove`, { headers: { cookie: session } });
    expect(across.status).toBe(303);
    expect(across.headers.get('location')).toBe(`/o/${otherOrg.slug}/sign-in`);
  });

  it('EN3: a contact verification one patient started cannot be finished by another, even with its cookie and code', async () => {
    const alice = await createTestPatient(handle, org.id);
    const bob = await createTestPatient(handle, org.id);
    const aliceSession = await sessionFor(alice.patient.id);
    const bobSession = await sessionFor(bob.patient.id);
    const value = newEmail();
    const { attempt, code, cookie } = await askForCode(aliceSession, 'email', value);
    const stolen = await enter(`${bobSession}; carepost_attempt=${attempt}`, 'email', value, code);
    expect(stolen.status).toBe(400);
    expect(await pointsOf(bob.patient.id)).toHaveLength(1);
    expect((await enter(cookie, 'email', value, code)).status).toBe(303);
    expect((await pointsOf(alice.patient.id)).map((p) => p.value)).toContain(value);
  });
});

describe('records of a change', () => {
  it('AU1, AU2: an add and a remove write audit and outbound event rows with the id and kind only, never a value', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    const session = await sessionFor(patient.id);
    const value = newEmail();
    const { cookie, code } = await askForCode(session, 'email', value);
    expect((await enter(cookie, 'email', value, code)).status).toBe(303);
    const [original, added] = await pointsOf(patient.id);
    expect(added!.value).toBe(value);
    expect((await post(`/o/${org.slug}/contacts/${original!.id}/remove`, {}, session)).status).toBe(303);

    const audits = await handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.actorId, patient.id)))
      .orderBy(asc(auditEvents.seq));
    const changes = audits.filter((e) => e.action.startsWith('identity.contact_point.'));
    expect(changes.map((e) => [e.action, e.subjectType, e.subjectId, e.details])).toEqual([
      ['identity.contact_point.added', 'contact_point', added!.id, { contactPointId: added!.id, kind: 'email' }],
      ['identity.contact_point.removed', 'contact_point', original!.id, { contactPointId: original!.id, kind: 'email' }],
    ]);
    const events = await handle.db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, org.id), eq(outboundEvents.patientId, patient.id))).orderBy(asc(outboundEvents.occurredAt));
    expect(events.map((e) => [e.type, e.payload])).toEqual([
      ['contact_point.added', { contactPointId: added!.id, kind: 'email' }],
      ['contact_point.removed', { contactPointId: original!.id, kind: 'email' }],
    ]);
    const everything = JSON.stringify({ audits: await handle.db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id)), events });
    for (const secret of [value, email, value.split('@')[0]!, email.split('@')[0]!, code]) expect(everything).not.toContain(secret);
    expect((await verifyAuditChain(handle.db, org.id)).ok).toBe(true);
  });

  it('a notice that cannot be sent is logged by contact point id, never with the address, and nothing is thrown', async () => {
    const lines: string[] = [];
    const logger = createLogger({ destination: new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }) });
    const mail = createSmtpTransport('smtp://127.0.0.1:1', { pool: false }); // nothing listens there
    const to = newEmail();
    const phone = newPhone();
    await deliverContactChangeNotices({ mail, sms: undefined, mailFrom: 'Carepost <no-reply@carepost.localhost>', publicHost: 'localhost', logger }, 'Contacts Clinic', [
      { channel: 'email', to, contactPointId: '11111111-1111-4111-8111-111111111111', change: 'added', changedKind: 'sms', changedMasked: '•••• 0101' },
      { channel: 'sms', to: phone, contactPointId: '22222222-2222-4222-8222-222222222222', change: 'removed', changedKind: 'email', changedMasked: 'x•••@example.org' },
    ]);
    const failures = lines.map((l) => JSON.parse(l) as { msg: string; contactPointId: string; errorCode?: string }).filter((l) => l.msg === 'contact change notice not sent');
    expect(failures.map((f) => f.contactPointId)).toEqual(['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222']);
    expect(failures[1]!.errorCode).toBe('no_sms_transport');
    expect(lines.join('\n')).not.toContain(to);
    expect(lines.join('\n')).not.toContain(phone);
    await mail.close?.();
  });
});
