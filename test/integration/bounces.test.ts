// Hard bounces and complaints feed the suppression list (issue 5, item 7), against real Postgres and real SMTP: the
// engine sends through a sink, a receiving mail server's report (a DSN, RFC 3464, or an ARF abuse report, RFC 5965)
// is written here by hand and handed to the feedback server with nodemailer, and the next delivery is gated.
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { and, count, eq, inArray, lte } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, auditHeads, contactPoints, deliveries, outboundEvents, suppressions, type Delivery } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import { parseFeedback, startFeedbackServer, type FeedbackServer } from '../../server/delivery/bounces';
import { createSmtpTransport } from '../../server/delivery/transport';
import { LEASE_MS, processDelivery, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage } from '../../server/engine/enqueue';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { createTestPatient } from '../support/identity';

const handle = testDatabase(8);
const db = handle.db;
const logLines: string[] = [];
const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }) });
let sink: Awaited<ReturnType<typeof startSink>>;
let feedback: FeedbackServer;
let deps: EngineDeps;
const addresses: string[] = []; // every patient address used here, to check the logs never carry one

beforeAll(async () => {
  sink = await startSink();
  feedback = await startFeedbackServer({ db, port: 0, logger });
  deps = {
    db,
    vault: kekRing(Buffer.alloc(32, 7)),
    links: linkKeyring(Buffer.alloc(32, 8)),
    publicUrl: new URL('https://portal.example.com'),
    mailFrom: 'Carepost <no-reply@carepost.test>',
    messageIdDomain: 'carepost.test',
    mail: createSmtpTransport(sink.url, { pool: false }),
    sms: undefined,
    logger: createLogger({ level: 'silent' }),
    workerId: 'bounces',
  };
});
afterAll(async () => {
  await feedback.close();
  await deps.mail.close?.();
  await sink.close();
  await handle.close();
});

/** Hands raw mail to a feedback server the way a receiving MTA returns a report: null sender, our bounce address. */
async function report(raw: string, port = feedback.port) {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    return await transport.sendMail({ envelope: { from: '', to: ['bounces@carepost.test'] }, raw });
  } finally {
    transport.close();
  }
}

/**
 * The engine's own claim and hand-off (processDelivery: gate, route, send, record), for this organisation's due
 * deliveries only: the database is shared with test files running in parallel, and runPass would take theirs too.
 * Another file's pass may take ours (same vault key and Message-ID domain), so wait for the outcome either way.
 */
async function deliver(orgId: string, deliveryIds: string[]): Promise<Delivery[]> {
  const now = new Date();
  const claimed = await db
    .update(deliveries)
    .set({ status: 'sending', leasedBy: deps.workerId, leaseUntil: new Date(now.getTime() + LEASE_MS), updatedAt: now })
    .where(and(eq(deliveries.orgId, orgId), eq(deliveries.status, 'queued'), lte(deliveries.dueAt, now)))
    .returning();
  for (const d of claimed) await processDelivery(deps, d, now);
  const done = () => db.select().from(deliveries).where(inArray(deliveries.id, deliveryIds));
  await expect.poll(async () => (await done()).every((d) => d.status !== 'queued' && d.status !== 'sending'), { timeout: 10_000 }).toBe(true);
  return done();
}

/** An organisation and a patient with one email delivery that the engine has sent: status sent, Message-ID set. */
async function sentDelivery() {
  const org = await createTestOrganisation(handle);
  const { patient, email } = await createTestPatient(handle, org.id);
  addresses.push(email);
  const delivery = await sendTo(org.id, patient.id);
  expect(delivery).toMatchObject({ status: 'sent', messageIdHeader: `<${delivery.id}@carepost.test>` });
  const mail = sink.received.find((m) => m.messageId === delivery.messageIdHeader)!;
  expect(mail.to).toEqual([email]);
  return { org, patient, email, delivery, original: mail.raw };
}

async function sendTo(orgId: string, patientId: string): Promise<Delivery> {
  const r = await db.transaction((tx) =>
    enqueueMessage(tx, deps.vault, { orgId, category: 'treatment', content: { subject: 'Your results', text: 'Please call us.' }, recipients: [{ patientId, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }),
  );
  if (!r.ok) throw new Error('not enqueued');
  const [row] = await deliver(orgId, r.deliveryIds);
  return row!;
}

/** A Postfix-style bounce (RFC 3464): notification, delivery-status, and the original (whole, or headers only). */
function dsn(options: { recipient: string; action: 'failed' | 'delayed'; status: string; original: string; headersOnly?: boolean }): string {
  const boundary = `4F1A2${randomBytes(3).toString('hex')}.1718000000/mx.example.org`;
  const original = options.headersOnly ? options.original.slice(0, options.original.search(/\r\n\r\n/) + 2) : options.original;
  return [
    'Return-Path: <>',
    'Received: by mx.example.org (Postfix) id 4F1A2; Mon, 10 Jun 2024 09:00:01 +0000 (UTC)',
    'Date: Mon, 10 Jun 2024 09:00:01 +0000 (UTC)',
    'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)',
    options.action === 'failed' ? 'Subject: Undelivered Mail Returned to Sender' : 'Subject: Delayed Mail (still being retried)',
    'To: bounces@carepost.test',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    'Content-Transfer-Encoding: 8bit',
    `Message-Id: <20240610090001.${randomBytes(4).toString('hex')}@mx.example.org>`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.org.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients.',
    '',
    `<${options.recipient}>: host mx.example.com[192.0.2.25] said: 550 5.1.1 User unknown`,
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    'X-Postfix-Queue-ID: 4F1A2',
    'X-Postfix-Sender: rfc822; no-reply@carepost.test',
    'Arrival-Date: Mon, 10 Jun 2024 09:00:00 +0000 (UTC)',
    '',
    `Final-Recipient: rfc822; ${options.recipient}`,
    `Original-Recipient: rfc822;${options.recipient}`,
    `Action: ${options.action}`,
    `Status: ${options.status}`,
    'Remote-MTA: dns; mx.example.com',
    `Diagnostic-Code: smtp; ${options.status.startsWith('5') ? '550' : '452'} ${options.status} <${options.recipient}>:`,
    `    ${options.status.startsWith('5') ? 'Recipient address rejected: User unknown in local recipient table' : 'Mailbox full'}`,
    '',
    `--${boundary}`,
    options.headersOnly ? 'Content-Description: Undelivered Message Headers' : 'Content-Description: Undelivered Message',
    options.headersOnly ? 'Content-Type: text/rfc822-headers' : 'Content-Type: message/rfc822',
    '',
    original.replace(/\r?\n$/, ''),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** An abuse report as a mailbox provider's feedback loop sends it (RFC 5965, the example in section 3.5). */
function arf(options: { recipient: string; original: string; feedbackType?: string }): string {
  const boundary = `part1_13d.${randomBytes(4).toString('hex')}_boundary`;
  return [
    'From: <staff@fbl.example.net>',
    'Date: Mon, 10 Jun 2024 10:40:36 +0000',
    'Subject: FW: New message from Test Clinic',
    'To: <fbl@carepost.test>',
    `Message-ID: <fbl.${randomBytes(4).toString('hex')}@fbl.example.net>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report;',
    `     boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.1 on Mon, 10 Jun 2024 09:00:00 +0000.',
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${options.feedbackType ?? 'abuse'}`,
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    'Original-Mail-From: <no-reply@carepost.test>',
    `Original-Rcpt-To: <${options.recipient}>`,
    'Arrival-Date: Mon, 10 Jun 2024 09:00:00 +0000',
    'Reporting-MTA: dns; mail.fbl.example.net',
    'Source-IP: 192.0.2.1',
    'Authentication-Results: mail.fbl.example.net;',
    '               spf=pass smtp.mail=no-reply@carepost.test',
    'Reported-Domain: carepost.test',
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    options.original.replace(/\r?\n$/, ''),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** Everything a report could change for this organisation and delivery. */
async function stateOf(orgId: string, deliveryId: string) {
  const [delivery] = await db.select().from(deliveries).where(eq(deliveries.id, deliveryId));
  const [head] = await db.select({ lastSeq: auditHeads.lastSeq }).from(auditHeads).where(eq(auditHeads.orgId, orgId));
  const [supp] = await db.select({ n: count() }).from(suppressions).where(eq(suppressions.orgId, orgId));
  const [events] = await db.select({ n: count() }).from(outboundEvents).where(eq(outboundEvents.orgId, orgId));
  return { delivery, auditSeq: head?.lastSeq ?? 0, suppressions: supp!.n, outboundEvents: events!.n };
}

const auditOf = (orgId: string) => db.select().from(auditEvents).where(eq(auditEvents.orgId, orgId)).orderBy(auditEvents.seq);

describe('parseFeedback', () => {
  const original = 'From: no-reply@carepost.test\r\nTo: pat@example.com\r\nSubject: x\r\nMessage-ID: <11111111-2222-4333-8444-555555555555@carepost.test>\r\n\r\nHello\r\n';

  it('reads a DSN: the recipient’s action and status, Final-Recipient, and the quoted Message-ID', async () => {
    expect(await parseFeedback(dsn({ recipient: 'pat@example.com', action: 'failed', status: '5.1.1', original }))).toEqual({
      kind: 'hard_bounce',
      originalMessageId: '<11111111-2222-4333-8444-555555555555@carepost.test>',
      recipient: 'pat@example.com',
      status: '5.1.1',
    });
    expect(await parseFeedback(Buffer.from(dsn({ recipient: 'pat@example.com', action: 'delayed', status: '4.2.2', original, headersOnly: true })))).toMatchObject({
      kind: 'soft_bounce',
      originalMessageId: '<11111111-2222-4333-8444-555555555555@carepost.test>',
      status: '4.2.2',
    });
    // A sender that gave up after retrying a temporary failure: not proof the address is dead.
    expect(await parseFeedback(dsn({ recipient: 'pat@example.com', action: 'failed', status: '4.4.7', original }))).toMatchObject({ kind: 'soft_bounce' });
  });

  it('reads an ARF abuse report as a complaint; other feedback types, success reports and ordinary mail are not feedback', async () => {
    expect(await parseFeedback(arf({ recipient: 'pat@example.com', original }))).toEqual({
      kind: 'complaint',
      originalMessageId: '<11111111-2222-4333-8444-555555555555@carepost.test>',
      recipient: 'pat@example.com',
      status: null,
    });
    expect(await parseFeedback(arf({ recipient: 'pat@example.com', original, feedbackType: 'not-spam' }))).toBeUndefined();
    expect(await parseFeedback(dsn({ recipient: 'pat@example.com', action: 'failed', status: '5.1.1', original }).replace('Action: failed', 'Action: delivered'))).toBeUndefined();
    expect(await parseFeedback(original)).toBeUndefined();
    // A forwarded bounce is a message that quotes a report, not a report.
    const forwarded = `From: pat@example.com\r\nTo: help@carepost.test\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="fw"\r\n\r\n--fw\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--fw\r\nContent-Type: message/rfc822\r\n\r\n${dsn({ recipient: 'pat@example.com', action: 'failed', status: '5.1.1', original })}\r\n--fw--\r\n`;
    expect(await parseFeedback(forwarded)).toBeUndefined();
    expect(await parseFeedback(Buffer.from([0xff, 0x00, 0x13, 0x37]))).toBeUndefined();
  });
});

describe('the feedback server', () => {
  it('AU1: a hard bounce fails the delivery, suppresses the address, is audited without the address, and the next email is blocked as suppressed', async () => {
    const { org, patient, email, delivery, original } = await sentDelivery();
    const info = await report(dsn({ recipient: email, action: 'failed', status: '5.1.1', original }));
    expect(info.response).toMatch(/^250 /);

    const [suppression] = await db.select().from(suppressions).where(eq(suppressions.orgId, org.id));
    expect(suppression).toMatchObject({ kind: 'email', value: email, reason: 'hard_bounce' });
    const [failed] = await db.select().from(deliveries).where(eq(deliveries.id, delivery.id));
    expect(failed).toMatchObject({ status: 'failed', reason: 'hard_bounce', route: 'portal_notice' });
    expect(failed!.sentAt).toEqual(delivery.sentAt); // it was handed off; the bounce does not rewrite that

    // AU1: the change is audited, with ids and reason codes only (AU2: never the address).
    const audit = await auditOf(org.id);
    expect(audit.filter((e) => e.action === 'suppression.added')).toEqual([
      expect.objectContaining({ actorType: 'system', subjectType: 'patient', subjectId: patient.id, details: { kind: 'email', reason: 'hard_bounce', deliveryId: delivery.id } }),
    ]);
    expect(audit.filter((e) => e.action === 'delivery.failed')).toEqual([expect.objectContaining({ subjectId: delivery.id, details: { reason: 'hard_bounce', channel: 'email' } })]);
    expect(JSON.stringify(audit)).not.toContain(email);
    expect((await verifyAuditChain(db, org.id)).ok).toBe(true);
    const events = (await db.select().from(outboundEvents).where(eq(outboundEvents.orgId, org.id))).filter((e) => e.type !== 'delivery.sent');
    expect(events.sort((a, b) => a.type.localeCompare(b.type))).toEqual([
      expect.objectContaining({ type: 'delivery.bounced', patientId: patient.id, payload: { deliveryId: delivery.id, messageId: delivery.messageId, channel: 'email', reason: 'hard_bounce' } }),
      expect.objectContaining({ type: 'suppression.added', patientId: patient.id, payload: { kind: 'email', reason: 'hard_bounce', patientId: patient.id } }),
    ]);

    const next = await sendTo(org.id, patient.id);
    expect(next).toMatchObject({ status: 'blocked', decision: 'block', reason: 'suppressed' });
    expect(sink.received.some((m) => m.messageId === `<${next.id}@carepost.test>`)).toBe(false);
  });

  it('AU1: an ARF abuse complaint suppresses the address with reason complaint, audited without the address', async () => {
    const { org, patient, email, delivery, original } = await sentDelivery();
    expect((await report(arf({ recipient: email, original }))).response).toMatch(/^250 /);

    expect(await db.select().from(suppressions).where(eq(suppressions.orgId, org.id))).toEqual([expect.objectContaining({ kind: 'email', value: email, reason: 'complaint' })]);
    expect((await db.select().from(deliveries).where(eq(deliveries.id, delivery.id)))[0]).toMatchObject({ status: 'failed', reason: 'complaint', sentAt: delivery.sentAt });
    const audit = await auditOf(org.id);
    expect(audit.find((e) => e.action === 'suppression.added')).toMatchObject({ subjectId: patient.id, details: { kind: 'email', reason: 'complaint', deliveryId: delivery.id } });
    expect(JSON.stringify(audit)).not.toContain(email);
    const events = (await db.select().from(outboundEvents).where(eq(outboundEvents.orgId, org.id))).filter((e) => e.type !== 'delivery.sent');
    expect(events.sort((a, b) => a.type.localeCompare(b.type))).toEqual([
      expect.objectContaining({ type: 'delivery.complained', payload: expect.objectContaining({ deliveryId: delivery.id, reason: 'complaint' }) }),
      expect.objectContaining({ type: 'suppression.added', payload: { kind: 'email', reason: 'complaint', patientId: patient.id } }),
    ]);
    expect(await sendTo(org.id, patient.id)).toMatchObject({ status: 'blocked', reason: 'suppressed' });
  });

  it('AU1: a 4.x.x DSN (delayed) is only audited: the delivery stays sent and nothing is suppressed', async () => {
    const { org, email, delivery, original } = await sentDelivery();
    const before = await stateOf(org.id, delivery.id);
    const raw = dsn({ recipient: email, action: 'delayed', status: '4.2.2', original, headersOnly: true });
    expect((await report(raw)).response).toMatch(/^250 /);

    const after = await stateOf(org.id, delivery.id);
    expect(after).toEqual({ ...before, auditSeq: before.auditSeq + 1 });
    const [last] = (await auditOf(org.id)).slice(-1);
    expect(last).toMatchObject({ action: 'delivery.soft_bounce', subjectType: 'delivery', subjectId: delivery.id, details: { status: '4.2.2', channel: 'email' } });
    // The same notice again is the same fact: nothing more.
    await report(raw);
    expect(await stateOf(org.id, delivery.id)).toEqual(after);
  });

  it('a DSN for an unknown Message-ID, and plain mail that is no report, are answered 250 and change nothing', async () => {
    const { org, email, delivery, original } = await sentDelivery();
    const before = await stateOf(org.id, delivery.id);
    // The patient's real address, but a Message-ID that is not one of ours: a random delivery id, then another domain.
    const header = delivery.messageIdHeader!;
    const strangers = [`<${randomUUID()}@carepost.test>`, header.replace('@carepost.test>', '@elsewhere.example>')].map((id) => original.replace(header, id));
    expect(strangers.every((s) => !s.includes(header))).toBe(true);
    for (const stranger of strangers) {
      expect((await report(dsn({ recipient: email, action: 'failed', status: '5.1.1', original: stranger }))).response).toMatch(/^250 /);
    }
    const plain = `From: ${email}\r\nTo: bounces@carepost.test\r\nSubject: Re: New message\r\nIn-Reply-To: ${delivery.messageIdHeader}\r\n\r\nPlease stop.\r\n`;
    expect((await report(plain)).response).toMatch(/^250 /);
    expect((await report('this is not a mail message at all\r\n')).response).toMatch(/^250 /);
    expect(await stateOf(org.id, delivery.id)).toEqual(before);
  });

  it('the same DSN twice, even at once, writes one suppression and one audit event', async () => {
    const { org, email, delivery, original } = await sentDelivery();
    const raw = dsn({ recipient: email, action: 'failed', status: '5.1.1', original });
    await report(raw);
    const once = await stateOf(org.id, delivery.id);
    await Promise.all([report(raw), report(raw)]);
    expect(await stateOf(org.id, delivery.id)).toEqual(once);
    expect(once.suppressions).toBe(1);
    // delivery.sent from the hand-off, then delivery.bounced and suppression.added once each.
    expect(once.outboundEvents).toBe(3);
    const audit = await auditOf(org.id);
    expect(audit.filter((e) => e.action === 'suppression.added')).toHaveLength(1);
    expect(audit.filter((e) => e.action === 'delivery.failed')).toHaveLength(1);
  });

  it('suppresses only the patient’s own address: Final-Recipient when it is one of theirs, else the address it was sent to', async () => {
    const { org, patient, email, delivery, original } = await sentDelivery();
    // A second, older address of the same patient, named by the report.
    const other = `old-${randomBytes(4).toString('hex')}@example.com`;
    addresses.push(other);
    await db.insert(contactPoints).values({ orgId: org.id, patientId: patient.id, kind: 'email', value: other, source: 'organisation', verifiedAt: new Date(Date.now() - 86_400_000) });
    await report(dsn({ recipient: other.toUpperCase(), action: 'failed', status: '5.1.1', original }));
    expect((await db.select().from(suppressions).where(eq(suppressions.orgId, org.id))).map((s) => s.value)).toEqual([other]);

    // A report naming a stranger (a forwarding target, say) suppresses the address the delivery went to, not the stranger.
    const second = await sentDelivery();
    const stranger = `forwarded-${randomBytes(4).toString('hex')}@elsewhere.example`;
    await report(arf({ recipient: stranger, original: second.original }));
    expect((await db.select().from(suppressions).where(eq(suppressions.orgId, second.org.id))).map((s) => s.value)).toEqual([second.email]);
    expect(delivery.orgId).toBe(org.id);
    expect(email).not.toBe(other);
  });

  it('refuses mail over the size limit with 552', async () => {
    const small = await startFeedbackServer({ db, port: 0, logger, maxBytes: 4096 });
    try {
      const big = `From: a@example.org\r\nTo: bounces@carepost.test\r\nSubject: big\r\n\r\n${'x'.repeat(76).concat('\r\n').repeat(200)}`;
      await expect(report(big, small.port)).rejects.toMatchObject({ responseCode: 552 });
      expect((await report('Subject: small\r\n\r\nfine\r\n', small.port)).response).toMatch(/^250 /);
    } finally {
      await small.close();
    }
  });

  it('AU2: never logs an address', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const logged = logLines.join('').toLowerCase();
    for (const address of addresses) expect(logged).not.toContain(address.toLowerCase());
    expect(logged).not.toContain('@elsewhere.example');
  });
});
