// The batch design of ADR 018: one transaction holds a claimed batch's consent locks across its hand-offs, while every
// outcome commits on its own through the recorder. Two properties the earlier batch attempt (ADR 007) lacked:
// - DL5: an accepted mail is recorded while another hand-off of the same batch still waits at DATA, so a crash then can
//   re-send at most the mail in that window, never the batch's accepted mail;
// - the gate's frequency cap holds between deliveries to one patient inside one batch.
import { and, eq, inArray } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, consentTopics, deliveries, topicPreferences } from '../../db/schema/index';
import { grantAuthorization } from '../../server/consent/ledger';
import { createSmtpTransport } from '../../server/delivery/transport';
import { runPass, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage } from '../../server/engine/enqueue';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';

const handle = testDatabase(8);
const db = handle.db;
const vault = kekRing(Buffer.alloc(32, 7));

// A sink that holds DATA for the addresses in `hold` until released, and accepts everything else at once.
const accepted: string[] = [];
const hold = new Set<string>();
const held: (() => void)[] = [];
const sink = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const id = /^Message-ID:\s*(<[^>]+>)/im.exec(raw)?.[1] ?? 'none';
      const answer = () => {
        accepted.push(id);
        callback();
      };
      if (session.envelope.rcptTo.some((r) => hold.has(r.address))) held.push(answer);
      else answer();
    });
  },
});
let deps: EngineDeps;

beforeAll(async () => {
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  deps = {
    db,
    vault,
    links: linkKeyring(Buffer.alloc(32, 8)),
    publicUrl: new URL('https://portal.example.com'),
    mailFrom: 'Carepost <no-reply@carepost.test>',
    messageIdDomain: 'carepost.test',
    mail: createSmtpTransport(`smtp://127.0.0.1:${(sink.server.address() as { port: number }).port}`, { pool: true, maxConnections: 4 }),
    sms: undefined,
    logger: createLogger({ level: 'silent' }),
    workerId: 'batch-test',
  };
});
afterAll(async () => {
  await deps.mail.close?.();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
  await handle.close();
});

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const content = { subject: 'Clinic hours', text: 'We open at 8 on Mondays.' };

describe('a claimed batch', () => {
  it('DL5: an accepted mail is recorded (sent, audited) while another hand-off of its batch still waits at DATA', async () => {
    const org = await createTestOrganisation(handle);
    const a = await createTestPatient(handle, org.id);
    const b = await createTestPatient(handle, org.id);
    const result = await db.transaction((tx) =>
      enqueueMessage(tx, vault, {
        orgId: org.id,
        category: 'operations',
        content,
        recipients: [a, b].map(({ patient }) => ({ patientId: patient.id, channels: ['email' as const] })),
        actor: { type: 'system' },
        now: new Date(),
      }),
    );
    if (!result.ok) throw new Error('not enqueued');
    hold.add(b.email);
    // One pass claims both into one batch and hands both off at once; b's DATA is held.
    const pass = runPass({ ...deps, orgIds: [org.id] }, { batchSize: 10, concurrency: 2 });
    await until(() => held.length === 1, "b's DATA to be held");
    const rowsNow = () => db.select().from(deliveries).where(eq(deliveries.messageId, result.messageId));
    await until(async () => (await rowsNow()).some((r) => r.patientId === a.patient.id && r.status === 'sent'), "a's outcome to commit");
    const rows = await rowsNow();
    const rowA = rows.find((r) => r.patientId === a.patient.id)!;
    const rowB = rows.find((r) => r.patientId === b.patient.id)!;
    expect(accepted).toContain(`<${rowA.id}@carepost.test>`);
    expect(rowB.status).toBe('sending');
    const audited = await db
      .select({ action: auditEvents.action })
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.subjectId, rowA.id)));
    expect(audited.map((e) => e.action)).toEqual(['delivery.sent']);

    held.splice(0).forEach((answer) => answer());
    expect(await pass).toBe(2);
    expect((await rowsNow()).map((r) => r.status)).toEqual(['sent', 'sent']);
    hold.clear();
  });

  it('a weekly frequency holds between two deliveries to one patient inside one batch', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    const { topic, text } = await publishedTopic(handle, org.id);
    const grant = await grantAuthorization(db, {
      orgId: org.id,
      patientId: patient.id,
      topicId: topic.id,
      textId: text.id,
      channels: ['email'],
      signatureName: 'Pat',
      evidence: { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal' },
      now: new Date(),
    });
    expect(grant.status).toBe('granted');
    await db.insert(topicPreferences).values({ orgId: org.id, patientId: patient.id, topicId: topic.id, channels: ['email'], frequency: 'weekly', updatedAt: new Date() });
    const messageIds: string[] = [];
    for (const subject of ['First offer', 'Second offer']) {
      const result = await db.transaction((tx) =>
        enqueueMessage(tx, vault, {
          orgId: org.id,
          category: 'marketing',
          topicKey: topic.key,
          content: { subject, text: 'An offer.' },
          recipients: [{ patientId: patient.id, channels: ['email'] }],
          actor: { type: 'system' },
          now: new Date(),
        }),
      );
      if (!result.ok) throw new Error('not enqueued');
      messageIds.push(result.messageId);
    }
    expect(await runPass({ ...deps, orgIds: [org.id] }, { batchSize: 10, concurrency: 4 })).toBe(2);
    const rows = await db.select().from(deliveries).where(inArray(deliveries.messageId, messageIds));
    expect(rows.map((r) => `${r.status}:${r.reason}`).sort()).toEqual(['queued:frequency_cap', 'sent:authorized']);
  });
  it('AV2: in one batch over two topics, each delivery is judged against its own topic as it is now and the text its patient signed', async () => {
    const org = await createTestOrganisation(handle);
    // The batch reads each topic row and each text once for all its deliveries (ADR 027): the second topic's
    // deliveries must not be judged by the first's, nor the other way round.
    const news = await publishedTopic(handle, org.id);
    const offers = await publishedTopic(handle, org.id);
    const patients = await Promise.all([1, 2, 3, 4].map(() => createTestPatient(handle, org.id)));
    const evidence = { method: 'code_email' as const, verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal' as const };
    const grants = [news, news, offers, offers].map(({ topic, text }, i) =>
      grantAuthorization(db, { orgId: org.id, patientId: patients[i]!.patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat', evidence, now: new Date() }),
    );
    expect((await Promise.all(grants)).map((g) => g.status)).toEqual(['granted', 'granted', 'granted', 'granted']);
    const messageIds: string[] = [];
    for (const [topic, recipients] of [
      [news.topic, patients.slice(0, 2)],
      [offers.topic, patients.slice(2)],
    ] as const) {
      const result = await db.transaction((tx) =>
        enqueueMessage(tx, vault, {
          orgId: org.id,
          category: 'marketing',
          topicKey: topic.key,
          content: { subject: 'An offer', text: 'An offer.' },
          recipients: recipients.map(({ patient }) => ({ patientId: patient.id, channels: ['email' as const] })),
          actor: { type: 'system' },
          now: new Date(),
        }),
      );
      if (!result.ok) throw new Error('not enqueued');
      messageIds.push(result.messageId);
    }
    // After the patients signed, "news" starts to be paid for by a third party: its signed texts lack that statement.
    await db.update(consentTopics).set({ remunerated: true, thirdPartyName: 'Payer Corp' }).where(eq(consentTopics.id, news.topic.id));
    expect(await runPass({ ...deps, orgIds: [org.id] }, { batchSize: 10, concurrency: 4 })).toBe(4);
    const rows = await db.select().from(deliveries).where(inArray(deliveries.messageId, messageIds));
    const byPatient = (i: number) => rows.find((r) => r.patientId === patients[i]!.patient.id);
    expect([0, 1, 2, 3].map((i) => `${byPatient(i)?.status}:${byPatient(i)?.reason}`)).toEqual([
      'blocked:authorization_text_defective',
      'blocked:authorization_text_defective',
      'sent:authorized',
      'sent:authorized',
    ]);
  });
});
