import { and, asc, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEvents, verifications } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import { generateCode } from '../../server/identity/codes';
import { normaliseContact } from '../../server/identity/contact';
import { CODE_SEND_LIMITS, LOCK_AFTER_FAILURES, requestCode, verifyCode, waitAfterFailures } from '../../server/identity/sign-in';
import { createTestOrganisation, testDatabase } from '../support/db';
import { codeSecret, createTestPatient } from '../support/identity';

const handle = testDatabase();
afterAll(() => handle.close());

const at = (base: Date, ms: number) => new Date(base.getTime() + ms);
/** Some six digits that are not the code. */
const wrongFor = (code: string) => (code === '000000' ? '111111' : '000000');
const MIN = 60_000;

async function setup() {
  const org = await createTestOrganisation(handle);
  const { patient, email, phone } = await createTestPatient(handle, org.id, { unverifiedPhone: true });
  return { org, patient, email, phone };
}

async function ask(orgId: string, value: string, now: Date, ipAddress = '203.0.113.5') {
  const result = await requestCode({ db: handle.db, codeSecret, orgId, contact: normaliseContact(value)!, ipAddress, now });
  if (result.status !== 'issued') throw new Error(`expected a code, got ${result.status}`);
  return result;
}

const check = (orgId: string, attemptToken: string | undefined, code: string, now: Date) =>
  verifyCode({ db: handle.db, codeSecret, orgId, attemptToken, code, now });

describe('one-time codes', () => {
  it('OT1: codes are 6 digits from the CSPRNG, and only an HMAC is stored', async () => {
    const codes = Array.from({ length: 2000 }, generateCode);
    for (const code of codes) expect(code).toMatch(/^\d{6}$/);
    expect(new Set(codes).size).toBeGreaterThan(1990);
    expect(codes.some((c) => c.startsWith('0'))).toBe(true);

    const { org, email } = await setup();
    const issued = await ask(org.id, email, new Date());
    const [row] = await handle.db.select().from(verifications).where(eq(verifications.orgId, org.id));
    expect(JSON.stringify(row)).not.toContain(issued.delivery!.code);
    expect(JSON.stringify(row)).not.toContain(email);
    expect(row!.codeHmac).toMatch(/^[0-9a-f]{64}$/);
  });

  it('OT2: a code works within 10 minutes, and only once', async () => {
    const { org, email, patient } = await setup();
    const now = new Date();
    const issued = await ask(org.id, email, now);
    const first = await check(org.id, issued.attemptToken, issued.delivery!.code, at(now, 9 * MIN + 59_000));
    expect(first).toMatchObject({ status: 'verified', patientId: patient.id, method: 'code_email' });
    const replay = await check(org.id, issued.attemptToken, issued.delivery!.code, at(now, 10 * MIN - 500));
    expect(replay).toEqual({ status: 'used' });
  });

  it('OT2: a code is refused at and after its 10-minute expiry', async () => {
    const { org, email } = await setup();
    const now = new Date();
    const issued = await ask(org.id, email, now);
    expect(await check(org.id, issued.attemptToken, issued.delivery!.code, at(now, 10 * MIN))).toEqual({ status: 'expired' });
  });

  it('OT2: two simultaneous uses of one code: exactly one succeeds', async () => {
    const { org, email } = await setup();
    const now = new Date();
    const issued = await ask(org.id, email, now);
    const results = await Promise.all(Array.from({ length: 5 }, () => check(org.id, issued.attemptToken, issued.delivery!.code, now)));
    expect(results.filter((r) => r.status === 'verified')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'used')).toHaveLength(4);
  });

  it('OT3: a code is refused from another browser (another attempt cookie), or with none', async () => {
    const { org, email } = await setup();
    const now = new Date();
    const issued = await ask(org.id, email, now);
    const other = await ask(org.id, 'someone-else@example.com', now); // another browser's attempt in the same org
    expect(await check(org.id, other.attemptToken, issued.delivery!.code, now)).toMatchObject({ status: 'wrong' });
    expect(await check(org.id, 'forged-attempt-token', issued.delivery!.code, now)).toEqual({ status: 'no_attempt' });
    expect(await check(org.id, undefined, issued.delivery!.code, now)).toEqual({ status: 'no_attempt' });
    expect((await check(org.id, issued.attemptToken, issued.delivery!.code, now)).status).toBe('verified');
  });

  it('OT3: asking again replaces the earlier code', async () => {
    const { org, email } = await setup();
    const now = new Date();
    const first = await ask(org.id, email, now);
    const second = await ask(org.id, email, at(now, MIN));
    expect(await check(org.id, first.attemptToken, first.delivery!.code, at(now, MIN))).toEqual({ status: 'no_attempt' });
    expect((await check(org.id, second.attemptToken, second.delivery!.code, at(now, MIN))).status).toBe('verified');
  });

  it('OT4: five tries per code; the sixth is refused even with the right code', async () => {
    const { org, email } = await setup();
    let now = new Date();
    const issued = await ask(org.id, email, now);
    const wrong = issued.delivery!.code === '000000' ? '111111' : '000000';
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await check(org.id, issued.attemptToken, wrong, now));
      now = at(now, 1000);
    }
    expect(answers.map((a) => (a.status === 'wrong' ? a.triesLeft : a.status))).toEqual([4, 3, 2, 1, 0]);
    expect(await check(org.id, issued.attemptToken, issued.delivery!.code, now)).toEqual({ status: 'too_many_tries' });
  });

  it('OT4: waits grow per contact point after five failures, across codes; a success resets them', async () => {
    expect([4, 5, 6, 7, 8, 20].map(waitAfterFailures)).toEqual([0, 1000, 2000, 4000, 8000, 15 * MIN]);
    const { org, email } = await setup();
    let now = new Date();
    let issued = await ask(org.id, email, now);
    for (let i = 0; i < 5; i++) await check(org.id, issued.attemptToken, wrongFor(issued.delivery!.code), now);
    issued = await ask(org.id, email, now); // a new code does not clear the count
    const waiting = await check(org.id, issued.attemptToken, issued.delivery!.code, now);
    expect(waiting).toEqual({ status: 'wait', retryAfterSeconds: 1 });
    now = at(now, 1000);
    expect((await check(org.id, issued.attemptToken, issued.delivery!.code, now)).status).toBe('verified');
    issued = await ask(org.id, email, now);
    const wrong = issued.delivery!.code === '123456' ? '654321' : '123456';
    expect(await check(org.id, issued.attemptToken, wrong, now)).toMatchObject({ status: 'wrong', triesLeft: 4 });
    expect((await check(org.id, issued.attemptToken, issued.delivery!.code, now)).status).toBe('verified'); // no wait: reset
  });

  it('OT4: 100 consecutive failures lock the contact point until the timed unlock', async () => {
    const { org, email } = await setup();
    let now = new Date();
    let last: Awaited<ReturnType<typeof check>> | undefined;
    for (let i = 0; i < LOCK_AFTER_FAILURES; i++) {
      const issued = await ask(org.id, email, now, `198.51.100.${i % 250}`);
      const wrong = issued.delivery!.code === '000001' ? '000002' : '000001';
      last = await check(org.id, issued.attemptToken, wrong, now);
      now = at(now, 16 * MIN); // past the longest wait; four codes an hour stays under the per-contact limit
    }
    expect(last).toEqual({ status: 'locked' });
    const issued = await ask(org.id, email, now);
    expect(await check(org.id, issued.attemptToken, issued.delivery!.code, now)).toEqual({ status: 'locked' });
    const [lockEvent] = await handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'identity.code.locked')));
    expect(lockEvent).toBeDefined();

    now = at(now, 24 * 60 * MIN); // the timed unlock
    const fresh = await ask(org.id, email, now);
    expect((await check(org.id, fresh.attemptToken, fresh.delivery!.code, now)).status).toBe('verified');
  });

  it('OT6: a contact point that is not verified gets no code, and nothing it is sent can sign in', async () => {
    const { org, phone } = await setup();
    const now = new Date();
    const issued = await ask(org.id, phone, now);
    expect(issued.delivery).toBeUndefined();
    for (const guess of ['000000', '123456']) expect((await check(org.id, issued.attemptToken, guess, now)).status).toBe('wrong');
  });

  it('EN1: a known and an unknown contact point get the same kind of answer and the same follow-up', async () => {
    const { org, email } = await setup();
    const now = new Date();
    const known = await ask(org.id, email, now);
    const unknown = await ask(org.id, 'nobody-here@example.com', now);
    expect(Object.keys(known).sort()).toEqual(Object.keys(unknown).sort());
    expect(known.expiresAt).toEqual(unknown.expiresAt);
    expect(known.attemptToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(unknown.attemptToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Five wrong tries then "too many" for both: the verify side does not tell them apart either.
    for (const token of [known.attemptToken, unknown.attemptToken]) {
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await check(org.id, token, '999999', now)).status);
      expect(statuses).toEqual(['wrong', 'wrong', 'wrong', 'wrong', 'wrong', 'too_many_tries']);
    }
  });

  it('EN2: sending is limited per contact point, per IP and per organisation', async () => {
    const { org, email } = await setup();
    const now = new Date();
    const contact = normaliseContact(email)!;
    const results = [];
    for (let i = 0; i < CODE_SEND_LIMITS.perContact.limit + 1; i++) {
      results.push(await requestCode({ db: handle.db, codeSecret, orgId: org.id, contact, ipAddress: `192.0.2.${i}`, now }));
    }
    expect(results.slice(0, -1).every((r) => r.status === 'issued')).toBe(true);
    expect(results.at(-1)).toMatchObject({ status: 'rate_limited' });

    const ipResults = [];
    for (let i = 0; i < CODE_SEND_LIMITS.perIp.limit + 1; i++) {
      ipResults.push(await requestCode({ db: handle.db, codeSecret, orgId: org.id, contact: normaliseContact(`ip-${i}@example.com`)!, ipAddress: '192.0.2.250', now }));
    }
    expect(ipResults.at(-2)!.status).toBe('issued');
    expect(ipResults.at(-1)).toMatchObject({ status: 'rate_limited' });
    // A later window is open again.
    const later = await requestCode({ db: handle.db, codeSecret, orgId: org.id, contact, ipAddress: '192.0.2.1', now: at(now, 61 * MIN) });
    expect(later.status).toBe('issued');
  });

  it('EN3: a code asked for in one organisation does not work in another', async () => {
    const { org, email } = await setup();
    const other = await createTestOrganisation(handle);
    const now = new Date();
    const issued = await ask(org.id, email, now);
    expect(await check(other.id, issued.attemptToken, issued.delivery!.code, now)).toEqual({ status: 'no_attempt' });
  });

  it('OT5: code plus date of birth: both must match, a wrong date counts as a failed try, and neither is named', async () => {
    const org = await createTestOrganisation(handle);
    const { email } = await createTestPatient(handle, org.id, { dateOfBirth: '1984-03-27' });
    const now = new Date();
    const issued = await ask(org.id, email, now);
    const code = issued.delivery!.code;
    const verifyWith = (dateOfBirth: string, c = code) => verifyCode({ db: handle.db, codeSecret, orgId: org.id, attemptToken: issued.attemptToken, code: c, dateOfBirth, now });
    expect(await verifyWith('1984-03-28')).toEqual({ status: 'wrong', triesLeft: 4 });
    expect(await verifyWith('1984-03-27', wrongFor(code))).toEqual({ status: 'wrong', triesLeft: 3 });
    expect(await verifyWith('not-a-date')).toEqual({ status: 'wrong', triesLeft: 2 });
    expect(await verifyWith('1984-03-27')).toMatchObject({ status: 'verified', method: 'code_dob' });
    const reasons = (await handle.db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'identity.code.failed'))).orderBy(asc(auditEvents.seq))).map(
      (e) => e.details.reason,
    );
    expect(reasons).toEqual(['date_of_birth', 'code', 'date_of_birth']);
    expect(JSON.stringify(await handle.db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id)))).not.toContain('1984-03-27');
  });

  it('OT5: a patient with no date of birth on record can never pass "code plus date of birth"', async () => {
    const org = await createTestOrganisation(handle);
    const { email } = await createTestPatient(handle, org.id);
    const now = new Date();
    const issued = await ask(org.id, email, now);
    const result = await verifyCode({ db: handle.db, codeSecret, orgId: org.id, attemptToken: issued.attemptToken, code: issued.delivery!.code, dateOfBirth: '1990-01-01', now });
    expect(result.status).toBe('wrong');
  });

  it('AU1: code requests, failures and successes are audited with no code or contact point in the log', async () => {
    const { org, email } = await setup();
    const now = new Date();
    const issued = await ask(org.id, email, now);
    await check(org.id, issued.attemptToken, issued.delivery!.code === '555555' ? '444444' : '555555', now);
    await check(org.id, issued.attemptToken, issued.delivery!.code, now);
    const events = await handle.db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id)).orderBy(asc(auditEvents.seq));
    expect(events.map((e) => e.action)).toEqual(['identity.code.requested', 'identity.code.failed', 'identity.code.verified']);
    const text = JSON.stringify(events);
    expect(text).not.toContain(issued.delivery!.code);
    expect(text).not.toContain(email);
    expect((await verifyAuditChain(handle.db, org.id)).ok).toBe(true);
  });
});
