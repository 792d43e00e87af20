// "Messages we sent you" over real HTTP, against the real app and Postgres: deliveries seeded straight into the
// ledger, then read through the page as the patient sees it.
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentTopics, deliveries, messages, patients, type DeliveryRoute, type DeliveryStatus, type MessageCategory } from '../../db/schema/index';
import { MESSAGE_CONTENT } from '../../server/engine/enqueue';
import { createPatientSession } from '../../server/identity/sessions';
import { kekRing, sealJson } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
const MINUTE_MS = 60_000;

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Delivery Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Delivery Clinic');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

async function sessionFor(patientId: string, orgId = org.id) {
  const { token } = await db.transaction((tx) => createPatientSession(tx, { orgId, patientId, method: 'code_email', now: new Date() }));
  return `carepost_session=${token}`;
}

async function topicNamed(orgId: string, name: string) {
  const [topic] = await db
    .insert(consentTopics)
    .values({ orgId, key: `t-${randomBytes(3).toString('hex')}`, name, description: `${name}.` })
    .returning();
  return topic!;
}

type Seed = {
  category: MessageCategory;
  topicId?: string;
  channel: 'email' | 'sms' | 'push' | 'portal';
  status: DeliveryStatus;
  decision?: 'allow' | 'block' | 'defer';
  reason?: string;
  route?: DeliveryRoute;
  createdAt: Date;
  sentAt?: Date;
  dueAt?: Date;
};

/** One sealed message per seed, with a subject that must never reach the page. */
async function seed(orgId: string, patientId: string, rows: Seed[], subject: string) {
  const ring = kekRing(dev.config.secrets.VAULT_KEY);
  const sealed = sealJson(ring, { orgId, purpose: MESSAGE_CONTENT }, { subject, text: `Body of ${subject}`, html: `<p>Body of ${subject}</p>` });
  const inserted = await db
    .insert(messages)
    .values(rows.map((r) => ({ orgId, category: r.category, topicId: r.topicId ?? null, content: sealed, createdAt: r.createdAt })))
    .returning({ id: messages.id });
  await db.insert(deliveries).values(
    rows.map((r, i) => ({
      orgId,
      messageId: inserted[i]!.id,
      patientId,
      channel: r.channel,
      category: r.category,
      topicId: r.topicId ?? null,
      status: r.status,
      decision: r.decision ?? null,
      reason: r.reason ?? null,
      route: r.route ?? null,
      dueAt: r.dueAt ?? r.createdAt,
      createdAt: r.createdAt,
      updatedAt: r.sentAt ?? r.createdAt,
      sentAt: r.sentAt ?? null,
    })),
  );
  return sealed;
}

const itemsOf = (html: string) => html.match(/<li class="delivery">/g)?.length ?? 0;
const timesOf = (html: string) => [...html.matchAll(/<time dateTime="([^"]+)"/g)].map((m) => m[1]!);
const page = (cookie: string, query = '', slug = org.slug) => dev.fetch(`/o/${slug}/deliveries${query}`, { headers: { cookie } });

describe('Messages we sent you', () => {
  it("AU3, EN3, PW1: shows the signed-in patient's deliveries in words, newest first, in their time zone; never another patient's or organisation's, never content", async () => {
    const { patient } = await createTestPatient(handle, org.id);
    await db.update(patients).set({ timeZone: 'America/Chicago' }).where(and(eq(patients.orgId, org.id), eq(patients.id, patient.id)));
    const other = await createTestPatient(handle, org.id);
    const elsewhere = await createTestPatient(handle, otherOrg.id);
    const news = await topicNamed(org.id, 'Wellness news');
    const onlyOther = await topicNamed(org.id, 'Offers only the other patient got');
    const otherOrgTopic = await topicNamed(otherOrg.id, 'Other organisation offers');

    // 15:30 UTC on 15 January 2025 is 9:30 AM in Chicago (CST); each row is a minute older than the one before.
    const t0 = Date.parse('2025-01-15T15:30:00Z');
    const at = (i: number) => new Date(t0 - i * MINUTE_MS);
    const future = new Date(Date.now() + 3 * 60 * MINUTE_MS);
    const subject = `Your biopsy result ${randomBytes(4).toString('hex')}`;
    const sealed = await seed(
      org.id,
      patient.id,
      [
        { category: 'treatment', channel: 'email', status: 'sent', decision: 'allow', reason: 'care_message', route: 'pgp', createdAt: at(0), sentAt: at(0) },
        { category: 'operations', channel: 'sms', status: 'sent', decision: 'allow', reason: 'care_message', route: 'sms_notice', createdAt: at(1), sentAt: at(1) },
        { category: 'marketing', topicId: news.id, channel: 'email', status: 'blocked', decision: 'block', reason: 'authorization_revoked', createdAt: at(2) },
        { category: 'marketing', topicId: news.id, channel: 'sms', status: 'queued', decision: 'defer', reason: 'quiet_hours', createdAt: at(3), dueAt: future },
        { category: 'treatment', channel: 'email', status: 'blocked', decision: 'block', reason: 'suppressed', createdAt: at(4) },
        { category: 'treatment', channel: 'email', status: 'failed', reason: 'permanent_failure', createdAt: at(5) },
        { category: 'marketing', topicId: news.id, channel: 'email', status: 'blocked', decision: 'block', reason: 'a_code_from_the_future', createdAt: at(6) },
        { category: 'treatment', channel: 'portal', status: 'sent', decision: 'allow', reason: 'care_message', route: 'portal', createdAt: at(7), sentAt: at(7) },
        { category: 'treatment', channel: 'email', status: 'sent', decision: 'allow', reason: 'care_message', route: 'tls', createdAt: at(8), sentAt: at(8) },
        { category: 'treatment', channel: 'email', status: 'sent', decision: 'allow', reason: 'care_message', route: 'portal_notice', createdAt: at(9), sentAt: at(9) },
        { category: 'marketing', topicId: news.id, channel: 'email', status: 'queued', decision: 'defer', reason: 'weekly_cap', createdAt: at(10), dueAt: future },
        { category: 'treatment', channel: 'email', status: 'blocked', decision: 'block', reason: 'send_by_passed', createdAt: at(11) },
      ],
      subject,
    );
    // Newer than all of the patient's rows, so a leak would show up at the top of the first page.
    await seed(org.id, other.patient.id, [{ category: 'marketing', topicId: onlyOther.id, channel: 'email', status: 'sent', route: 'tls', createdAt: at(-5), sentAt: at(-5) }], subject);
    await seed(
      otherOrg.id,
      elsewhere.patient.id,
      [{ category: 'marketing', topicId: otherOrgTopic.id, channel: 'email', status: 'sent', route: 'pgp', createdAt: at(-6), sentAt: at(-6) }],
      subject,
    );

    const res = await page(await sessionFor(patient.id));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<title>Messages we sent you · Carepost</title>');
    expect(html).toMatch(/<h1>Messages we sent you<\/h1>/);
    expect(itemsOf(html)).toBe(12);
    expect(timesOf(html)).toEqual(Array.from({ length: 12 }, (_, i) => at(i).toISOString()));

    // The words, in the order of the rows (newest first).
    const expected = [
      'Sent encrypted to your key (PGP)',
      'Sent as a text-message notice',
      'Not sent: you took your permission back',
      'Waiting: quiet hours. We will try again after',
      'Not sent: this address can no longer receive our emails',
      'Could not be delivered',
      'Not sent: something stopped us sending it this way',
      'Sent in this portal',
      'Sent over an encrypted connection',
      'Sent as a notice to read it in this portal',
      'Waiting: your weekly limit',
      'Not sent: it was no longer relevant',
    ];
    let from = 0;
    for (const words of expected) {
      const found = html.indexOf(words, from);
      expect(found, words).toBeGreaterThan(from);
      from = found;
    }
    for (const words of ['About your care', 'About your account', 'Marketing: Wellness news', 'Email', 'Text message', 'Message in this portal']) expect(html).toContain(words);
    // The patient's time zone: 9:30 AM Chicago time, not 3:30 PM UTC.
    expect(html).toMatch(/January 15, 2025,? (at )?9:30\s?AM CST/u);
    expect(html).not.toMatch(/3:30\s?PM/u);
    // No code ever reaches the page.
    for (const code of ['authorization_revoked', 'quiet_hours', 'permanent_failure', 'a_code_from_the_future', 'portal_notice', 'send_by_passed']) expect(html).not.toContain(code);

    // EN3: nothing of the other patient, nor of the other organisation.
    expect(html).not.toContain('Offers only the other patient got');
    expect(html).not.toContain('Other organisation offers');
    expect(timesOf(html)).not.toContain(at(-5).toISOString());
    // No content: not the subject, not the body, not the sealed envelope.
    expect(html).not.toContain(subject);
    expect(html).not.toContain('Body of');
    expect(html).not.toContain(sealed.ct.slice(0, 24));

    // The other patient sees only their own row.
    const theirs = await (await page(await sessionFor(other.patient.id))).text();
    expect(itemsOf(theirs)).toBe(1);
    expect(theirs).toContain('Marketing: Offers only the other patient got');
  });

  it('pages hold 50, newest first; ?page=2 has the rest; a bad ?page= gets the first page', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const t0 = Date.now() - 60 * MINUTE_MS;
    const at = (i: number) => new Date(t0 - i * MINUTE_MS);
    await seed(
      org.id,
      patient.id,
      Array.from({ length: 53 }, (_, i) => ({ category: 'treatment' as const, channel: 'portal' as const, status: 'sent' as const, route: 'portal' as const, createdAt: at(i), sentAt: at(i) })),
      'Paged subject',
    );
    const cookie = await sessionFor(patient.id);
    const newest = Array.from({ length: 53 }, (_, i) => at(i).toISOString());

    const first = await (await page(cookie)).text();
    expect(timesOf(first)).toEqual(newest.slice(0, 50));
    expect(first).toContain(`href="/o/${org.slug}/deliveries?page=2"`);
    expect(first).toContain('Older messages');
    expect(first).not.toContain('Newer messages');

    const second = await page(cookie, '?page=2');
    expect(second.status).toBe(200);
    expect(second.headers.get('cache-control')).toBe('no-store');
    const secondHtml = await second.text();
    expect(timesOf(secondHtml)).toEqual(newest.slice(50));
    expect(secondHtml).toContain('Newer messages');
    expect(secondHtml).toContain(`href="/o/${org.slug}/deliveries"`);
    expect(secondHtml).not.toContain('Older messages');

    const beyond = await (await page(cookie, '?page=3')).text();
    expect(itemsOf(beyond)).toBe(0);
    expect(beyond).toContain('There are no messages on this page.');

    for (const bad of ['0', '-1', 'abc', '1.5', '2e0', '%20 2', '99999999999', '']) {
      const res = await page(cookie, `?page=${bad}`);
      expect(res.status, bad).toBe(200);
      expect(timesOf(await res.text()), bad).toEqual(newest.slice(0, 50));
    }
  });

  it('a patient with no deliveries is told so, without a pager', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const html = await (await page(await sessionFor(patient.id))).text();
    expect(html).toContain('We have not sent you any messages yet.');
    expect(html).not.toContain('Pages of messages');
  });

  it("EN3: the page needs a session, and one organisation's session does not open another organisation's page", async () => {
    const { patient } = await createTestPatient(handle, org.id);
    await seed(org.id, patient.id, [{ category: 'treatment', channel: 'email', status: 'sent', route: 'pgp', createdAt: new Date(), sentAt: new Date() }], 'Not for other eyes');
    const anonymous = await dev.fetch(`/o/${org.slug}/deliveries`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe(`/o/${org.slug}/sign-in`);
    const crossed = await page(await sessionFor(patient.id), '', otherOrg.slug);
    expect(crossed.status).toBe(303);
    expect(crossed.headers.get('location')).toBe(`/o/${otherOrg.slug}/sign-in`);
  });
});
