// Support's "resend a notice" over real HTTP and the real engine (issue 8, ADR 016): metadata only on the page, a
// resend is a delivery of its own that the engine gates again (DL3), one row per request however often the form is
// posted (DL2), its Message-ID from its own id, a daily limit, audited without PHI (AU1), and only support and owners
// may ask (EN3).
import { and, eq, isNotNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, deliveries, suppressions } from '../../db/schema/index';
import { messageIdFor } from '../../server/delivery/compose';
import { createSmtpTransport } from '../../server/delivery/transport';
import { runPass, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage } from '../../server/engine/enqueue';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { retractMessage } from '../../server/messages/inbox';
import { kekRing } from '../../server/messages/vault';
import { createTestAdmin } from '../support/admin';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
const vault = kekRing(Buffer.alloc(32, 7));
let dev: Awaited<ReturnType<typeof startTestServer>>;
let sink: Awaited<ReturnType<typeof startSink>>;
let deps: EngineDeps;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let support: Awaited<ReturnType<typeof createTestAdmin>>;

const SUBJECT = 'Your biopsy results are ready';
const BODY = 'The lesion was benign. No further treatment is needed.';

beforeAll(async () => {
  dev = await startTestServer();
  sink = await startSink();
  deps = {
    db,
    vault,
    links: linkKeyring(Buffer.alloc(32, 8)),
    publicUrl: new URL('https://portal.example.com'),
    mailFrom: 'Carepost <no-reply@carepost.test>',
    messageIdDomain: 'carepost.test',
    mail: createSmtpTransport(sink.url, { pool: false }),
    sms: undefined,
    logger: createLogger({ level: 'silent' }),
    workerId: 'resend-test',
  };
  org = await createTestOrganisation(handle, 'Resend Clinic');
  support = await createTestAdmin(db, org.id, 'support');
});
afterAll(async () => {
  await dev.close();
  await deps.mail.close?.();
  await sink.close();
  await handle.close();
});

const post = (cookie: string, fields: [string, string][]) =>
  dev.fetch(`/admin/${org.slug}/support`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3999', 'x-forwarded-host': 'localhost:3999', cookie },
    body: new URLSearchParams(fields).toString(),
  });

/** Runs the engine for this organisation only (other test files share the database). */
async function drain() {
  while ((await runPass({ ...deps, orgIds: [org.id] }, { batchSize: 50, concurrency: 2 })) > 0);
}

/** A treatment message to a new patient by email, handed off by the engine as a portal notice. */
async function deliveredMessage() {
  const { patient, email } = await createTestPatient(handle, org.id);
  const result = await db.transaction((tx) =>
    enqueueMessage(tx, vault, { orgId: org.id, category: 'treatment', content: { subject: SUBJECT, text: BODY }, recipients: [{ patientId: patient.id, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }),
  );
  if (!result.ok) throw new Error('not enqueued');
  await drain();
  const [original] = await db.select().from(deliveries).where(and(eq(deliveries.orgId, org.id), eq(deliveries.messageId, result.messageId)));
  expect(original).toMatchObject({ status: 'sent', route: 'portal_notice', resendNo: 0 });
  return { patient, email, messageId: result.messageId, original: original! };
}

const resendsOf = (originalId: string) => db.select().from(deliveries).where(and(eq(deliveries.orgId, org.id), eq(deliveries.resendOf, originalId)));

describe('support resends a notice', () => {
  it('DL2 AU1: support sees metadata only, a double-click makes one resend, the engine sends it as a notice with its own Message-ID, audited without PHI', async () => {
    const { patient, email, original, messageId } = await deliveredMessage();
    const found = await post(support.cookie, [['intent', 'search'], ['query', patient.externalRef]]);
    const html = await found.text();
    expect(found.status).toBe(200);
    expect(html).toContain('Recent notices');
    expect(html).toContain('Sent as a notice');
    expect(html).toContain(`name="deliveryId" value="${original.id}"`);
    for (const secret of [SUBJECT, BODY, email]) expect(html).not.toContain(secret);

    // Two posts of the same form, as a double-click sends them: one resend.
    const form: [string, string][] = [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '1']];
    const [first, second] = await Promise.all([post(support.cookie, form), post(support.cookie, form)]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    const answers = (await first.text()) + (await second.text());
    expect(answers).toContain('Resend requested. It goes out within a minute.');
    expect(answers).toContain('Nothing more was sent.');
    expect(answers).not.toContain(SUBJECT);
    const [resend, ...more] = await resendsOf(original.id);
    expect(more).toHaveLength(0);
    expect(resend).toMatchObject({ resendNo: 1, status: 'queued', channel: 'email', category: 'treatment', messageId, patientId: patient.id });

    const before = sink.received.length;
    await drain();
    const [sent] = await resendsOf(original.id);
    expect(sent).toMatchObject({ status: 'sent', route: 'portal_notice', decision: 'allow', messageIdHeader: messageIdFor(resend!.id, 'carepost.test') });
    const mails = sink.received.slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.messageId).toBe(messageIdFor(resend!.id, 'carepost.test'));
    expect(mails[0]!.to).toEqual([email]);
    expect(mails[0]!.raw).toContain('You have a new message from Resend Clinic.');
    expect(mails[0]!.raw).not.toContain('biopsy');

    const [event] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'support.notice_resent'), eq(auditEvents.subjectId, resend!.id)));
    expect(event).toMatchObject({ actorType: 'admin', actorId: support.adminId, subjectType: 'delivery' });
    expect(event!.details).toMatchObject({ resendOf: original.id, channel: 'email', resendNo: 1 });
    expect(JSON.stringify(event!.details)).not.toMatch(/biopsy|@example\.com/);

    const again = await (await post(support.cookie, [['intent', 'search'], ['query', patient.externalRef]])).text();
    expect(again).toContain('Sent as a notice (resend 1; 1 today)');
    expect(again).toContain('name="resendNo" value="2"');
  });

  it('DL3: a resend goes through the gate: a suppressed address blocks it, and the page says why', async () => {
    const { patient, email, original } = await deliveredMessage();
    await db.insert(suppressions).values({ orgId: org.id, kind: 'email', value: email, reason: 'hard_bounce', createdAt: new Date() });
    const answer = await post(support.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '1']]);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('It will not be sent: address suppressed.');
    const before = sink.received.length;
    await drain();
    expect(sink.received.length).toBe(before);
    const [blocked] = await resendsOf(original.id);
    expect(blocked).toMatchObject({ status: 'blocked', decision: 'block', reason: 'suppressed' });
    const page = await (await post(support.cookie, [['intent', 'search'], ['query', patient.externalRef]])).text();
    expect(page).toContain('Not sent: address suppressed (resend 1; 1 today)');
  });

  it('one waiting resend at a time, at most 3 a day per message, and a withdrawn message cannot be resent; nothing changes', async () => {
    const { original } = await deliveredMessage();
    expect((await post(support.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '1']])).status).toBe(200);
    const pending = await post(support.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '2']]);
    expect(pending.status).toBe(409);
    expect(await pending.text()).toContain('still waiting to go out');
    await drain();
    for (const n of [2, 3]) {
      expect((await post(support.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', String(n)]])).status).toBe(200);
      await drain();
    }
    const limited = await post(support.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '4']]);
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain('At most 3 resends of one message a day. Nothing was resent.');
    expect(await resendsOf(original.id)).toHaveLength(3);

    const other = await deliveredMessage();
    await retractMessage(db, { orgId: org.id, messageId: other.messageId, actor: { type: 'system' }, now: new Date() });
    const withdrawn = await post(support.cookie, [['intent', 'resend'], ['deliveryId', other.original.id], ['resendNo', '1']]);
    expect(withdrawn.status).toBe(400);
    expect(await withdrawn.text()).toContain('The sender withdrew this message');
    expect(await resendsOf(other.original.id)).toHaveLength(0);
  });

  it('EN3: marketer and compliance are refused (403); another organisation’s notice is not found (404); a forged number adds nothing', async () => {
    const { original } = await deliveredMessage();
    for (const role of ['marketer', 'compliance'] as const) {
      const admin = await createTestAdmin(db, org.id, role);
      expect((await post(admin.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '1']])).status, role).toBe(403);
    }
    const owner = await createTestAdmin(db, org.id, 'owner');
    expect((await post(owner.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '7']])).status).toBe(409);
    expect(await resendsOf(original.id)).toHaveLength(0);

    const otherOrg = await createTestOrganisation(handle, 'Other Resend Clinic');
    const otherSupport = await createTestAdmin(db, otherOrg.id, 'support');
    const foreign = await dev.fetch(`/admin/${otherOrg.slug}/support`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3999', 'x-forwarded-host': 'localhost:3999', cookie: otherSupport.cookie },
      body: new URLSearchParams([['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '1']]).toString(),
    });
    expect(foreign.status).toBe(404);
    expect(await db.select().from(deliveries).where(and(eq(deliveries.resendOf, original.id), isNotNull(deliveries.resendOf)))).toHaveLength(0);
    // The owner may resend.
    expect((await post(owner.cookie, [['intent', 'resend'], ['deliveryId', original.id], ['resendNo', '1']])).status).toBe(200);
  });
});
