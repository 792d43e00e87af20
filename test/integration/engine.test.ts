// The send engine against real Postgres and a real SMTP sink: enqueue (DL1), claim (SKIP LOCKED + lease), gate,
// hand-off, outcomes and retries, and revocation racing deliveries in flight (RV1, DL3).
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, deliveries, messages, organisations } from '../../db/schema/index';
import { grantAuthorization, revokeAuthorization } from '../../server/consent/ledger';
import { createSmtpTransport } from '../../server/delivery/transport';
import { claimBatch, processDelivery, runPass, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage, MESSAGE_CONTENT } from '../../server/engine/enqueue';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { retractMessage } from '../../server/messages/inbox';
import { kekRing, sealJson } from '../../server/messages/vault';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { createTestPatient } from '../support/identity';

const handle = testDatabase(12);
const db = handle.db;
const vault = kekRing(Buffer.alloc(32, 7));
const links = linkKeyring(Buffer.alloc(32, 8));
let sink: Awaited<ReturnType<typeof startSink>>;
let failing: Awaited<ReturnType<typeof startSink>>;
let deps: EngineDeps;

beforeAll(async () => {
  sink = await startSink();
  failing = await startSink({ failWith: (raw) => Number(/X-Fail-Code|Subject: New message from (\d{3})/.exec(raw)?.[1]) || undefined });
  deps = {
    db,
    vault,
    links,
    publicUrl: new URL('https://portal.example.com'),
    mailFrom: 'Carepost <no-reply@carepost.test>',
    messageIdDomain: 'carepost.test',
    mail: createSmtpTransport(sink.url, { pool: true, maxConnections: 4 }),
    sms: undefined,
    logger: createLogger({ level: 'silent' }),
    workerId: 'w1',
  };
});
afterAll(async () => {
  await deps.mail.close?.();
  await sink.close();
  await failing.close();
  await handle.close();
});

const content = { subject: 'Your lab results', text: 'Hemoglobin A1c 6.1% — discuss at your next visit.' };

/** Runs the engine for these organisations only: other test files share the database and have their own deliveries. */
async function drain(...orgIds: string[]) {
  const d = { ...deps, orgIds };
  let total = 0;
  for (;;) {
    const n = await runPass(d, { batchSize: 100, concurrency: 4 });
    total += n;
    if (n === 0) return total;
  }
}

const rowsOf = (messageId: string) => db.select().from(deliveries).where(eq(deliveries.messageId, messageId));

describe('enqueue (DL1, AV6)', () => {
  it('DL1: the message and its deliveries commit or roll back with the caller, and nothing is in clear', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    let messageId = '';
    await expect(
      db.transaction(async (tx) => {
        const result = await enqueueMessage(tx, vault, { orgId: org.id, category: 'treatment', content, recipients: [{ patientId: patient.id, channels: ['email'] }], actor: { type: 'system' }, now: new Date() });
        if (!result.ok) throw new Error('not enqueued');
        messageId = result.messageId;
        throw new Error('the business decision failed');
      }),
    ).rejects.toThrow('business decision');
    expect(await db.select().from(messages).where(eq(messages.id, messageId))).toHaveLength(0);

    const ok = await db.transaction((tx) =>
      enqueueMessage(tx, vault, { orgId: org.id, category: 'treatment', content, recipients: [{ patientId: patient.id, channels: ['email', 'email', 'portal'] }], actor: { type: 'system' }, now: new Date() }),
    );
    expect(ok.ok && ok.deliveryIds).toHaveLength(2);
    const [stored] = await db.select().from(messages).where(eq(messages.id, ok.ok ? ok.messageId : ''));
    expect(JSON.stringify(stored!.content)).not.toContain('Hemoglobin');
  });

  it('AV6, EN3: bad input and another organisation’s patient are refused with field errors, and nothing is written', async () => {
    const org = await createTestOrganisation(handle);
    const other = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, other.id);
    const before = (await db.select({ n: sql<number>`count(*)::int` }).from(messages))[0]!.n;
    const bad = await db.transaction((tx) =>
      enqueueMessage(tx, vault, { orgId: org.id, category: 'marketing', content: { subject: '', text: '' }, recipients: [{ patientId: patient.id, channels: ['fax' as never] }], actor: { type: 'system' }, now: new Date() }),
    );
    expect(bad).toEqual({ ok: false, fieldErrors: expect.objectContaining({ topic: expect.any(String), subject: expect.any(String), text: expect.any(String), channels: expect.any(String) }) });
    const foreign = await db.transaction((tx) =>
      enqueueMessage(tx, vault, { orgId: org.id, category: 'treatment', content, recipients: [{ patientId: patient.id, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }),
    );
    expect(foreign).toEqual({ ok: false, fieldErrors: { recipients: 'Some recipients are not patients of this organisation.' } });
    expect((await db.select({ n: sql<number>`count(*)::int` }).from(messages))[0]!.n).toBe(before);
  });
});

describe('claim, gate and hand-off', () => {
  it('EM4, DL2: an email is handed off as a PHI-free notice with a pickup link and a Message-ID derived from the delivery id', async () => {
    const org = await createTestOrganisation(handle);
    const { patient, email } = await createTestPatient(handle, org.id);
    const result = await db.transaction((tx) =>
      enqueueMessage(tx, vault, { orgId: org.id, category: 'treatment', content, recipients: [{ patientId: patient.id, channels: ['email', 'portal'] }], actor: { type: 'system' }, now: new Date() }),
    );
    if (!result.ok) throw new Error('not enqueued');
    await drain(org.id);
    const rows = await rowsOf(result.messageId);
    expect(rows.map((r) => [r.channel, r.status, r.route, r.reason]).sort()).toEqual([
      ['email', 'sent', 'portal_notice', 'care_message'],
      ['portal', 'sent', 'portal', 'care_message'],
    ]);
    const emailRow = rows.find((r) => r.channel === 'email')!;
    const mail = sink.received.find((m) => m.messageId === `<${emailRow.id}@carepost.test>`)!;
    expect(mail.to).toEqual([email]);
    const parsed = await simpleParser(mail.raw);
    expect(parsed.text).toMatch(new RegExp(`https://portal\\.example\\.com/o/${org.slug}/m/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+`));
    expect(mail.raw).not.toContain('Hemoglobin');
    expect(mail.raw).not.toContain('lab results');
  });

  it('a withdrawn or expired message is blocked at the gate; the notice says how long its link works', async () => {
    const org = await createTestOrganisation(handle);
    await db.update(organisations).set({ pickupLinkDays: 7 }).where(eq(organisations.id, org.id));
    const { patient } = await createTestPatient(handle, org.id);
    const enqueue = () =>
      db.transaction((tx) =>
        enqueueMessage(tx, vault, { orgId: org.id, category: 'treatment', content, recipients: [{ patientId: patient.id, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }),
      );
    const [withdrawn, expired, fine] = [await enqueue(), await enqueue(), await enqueue()];
    if (!withdrawn.ok || !expired.ok || !fine.ok) throw new Error('not enqueued');
    expect(await retractMessage(db, { orgId: org.id, messageId: withdrawn.messageId, actor: { type: 'organisation' }, now: new Date() })).toEqual({ status: 'retracted' });
    await db.update(messages).set({ expiresAt: new Date(Date.now() - 1) }).where(eq(messages.id, expired.messageId));
    await drain(org.id);
    expect((await rowsOf(withdrawn.messageId)).map((r) => [r.status, r.reason])).toEqual([['blocked', 'message_withdrawn']]);
    expect((await rowsOf(expired.messageId)).map((r) => [r.status, r.reason])).toEqual([['blocked', 'message_expired']]);
    const [sent] = await rowsOf(fine.messageId);
    expect(sent!.status).toBe('sent');
    const mail = sink.received.find((m) => m.messageId === `<${sent!.id}@carepost.test>`)!;
    expect((await simpleParser(mail.raw)).text).toContain('The link works for 7 days.');
  });

  it('AV1, EM1: marketing without an authorisation is blocked with its reason; with one it is sent with its basis and List-Unsubscribe', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    const { topic, text } = await publishedTopic(handle, org.id);
    const enqueue = () =>
      db.transaction((tx) => enqueueMessage(tx, vault, { orgId: org.id, category: 'marketing', topicKey: topic.key, content, recipients: [{ patientId: patient.id, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }));
    const first = await enqueue();
    await drain(org.id);
    expect((await rowsOf(first.ok ? first.messageId : ''))[0]).toMatchObject({ status: 'blocked', decision: 'block', reason: 'no_authorization' });
    const blockedAudit = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'delivery.blocked')));
    expect(blockedAudit[0]!.details).toMatchObject({ reason: 'no_authorization' });

    const grant = await grantAuthorization(db, {
      orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat',
      evidence: { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal' }, now: new Date(),
    });
    if (grant.status !== 'granted') throw new Error(grant.status);
    const second = await enqueue();
    await drain(org.id);
    const [row] = await rowsOf(second.ok ? second.messageId : '');
    expect(row).toMatchObject({ status: 'sent', reason: 'authorized', basisEventId: grant.event.id, basisTextHash: text.contentHash });
    const mail = sink.received.find((m) => m.messageId === `<${row!.id}@carepost.test>`)!;
    const listUnsub = mail.raw.match(/^List-Unsubscribe:.*(?:\r\n[ \t].*)*/gim)!;
    expect(listUnsub).toHaveLength(1);
    expect(listUnsub[0]!.replace(/\r\n[ \t]+/g, ' ')).toMatch(/<https:\/\/portal\.example\.com\/o\/[^/]+\/u\/[^>]+>, <mailto:unsubscribe@carepost\.test\?subject=unsubscribe%20[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+>/);
    expect(mail.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect((await simpleParser(mail.raw)).text).toContain('To stop these emails, unsubscribe here: https://portal.example.com/o/');
  });

  it('claims never overlap between workers, and an expired lease is claimed again (a crashed worker)', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    const recipients = [{ patientId: patient.id, channels: ['portal' as const] }];
    for (let i = 0; i < 30; i++) {
      await db.transaction((tx) => enqueueMessage(tx, vault, { orgId: org.id, category: 'operations', content, recipients, actor: { type: 'system' }, now: new Date() }));
    }
    const now = new Date();
    const scoped = { ...deps, orgIds: [org.id] };
    const [a, b] = await Promise.all([claimBatch({ ...scoped, workerId: 'a' }, 20, now), claimBatch({ ...scoped, workerId: 'b' }, 20, now)]);
    const ids = [...a, ...b].map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    const mine = ids.length;
    // Worker "a" dies holding its claims. Before the lease ends nobody takes them; after it, they are claimed again.
    expect((await claimBatch({ ...scoped, workerId: 'c' }, 100, now)).filter((d) => a.some((x) => x.id === d.id))).toHaveLength(0);
    const later = new Date(now.getTime() + 61_000);
    const reclaimed = await claimBatch({ ...scoped, workerId: 'c' }, 1000, later);
    expect(a.every((x) => reclaimed.some((d) => d.id === x.id))).toBe(true);
    // The dead worker's late attempt is refused: the row is no longer its own.
    expect(await processDelivery({ ...scoped, workerId: 'a' }, a[0]!, later)).toBe('deferred');
    expect(mine).toBeGreaterThan(0);
  });

  it('DL5: 4xx retries with backoff, 5xx fails, and nothing is handed off twice', async () => {
    const org = await createTestOrganisation(handle, '451');
    const org5 = await createTestOrganisation(handle, '550');
    const failingDeps = { ...deps, orgIds: [org.id, org5.id], mail: createSmtpTransport(failing.url, { pool: false }) };
    const enqueueFor = async (o: { id: string }) => {
      const { patient } = await createTestPatient(handle, o.id);
      const r = await db.transaction((tx) => enqueueMessage(tx, vault, { orgId: o.id, category: 'treatment', content, recipients: [{ patientId: patient.id, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }));
      return r.ok ? r.messageId : '';
    };
    const m451 = await enqueueFor(org);
    const m550 = await enqueueFor(org5);
    const now = new Date();
    for (const d of await claimBatch(failingDeps, 1000, now)) {
      if (d.messageId === m451 || d.messageId === m550) await processDelivery(failingDeps, d, now);
    }
    const [retry] = await rowsOf(m451);
    expect(retry).toMatchObject({ status: 'queued', lastError: 'smtp_451', attempts: 1, reason: 'transient_failure' });
    expect(retry!.dueAt.getTime()).toBeGreaterThan(now.getTime() + 10_000);
    const [failed] = await rowsOf(m550);
    expect(failed).toMatchObject({ status: 'failed', lastError: 'smtp_550', reason: 'permanent_failure' });
    // A 4xx past the maximum age ends cleanly as failed.
    const old = new Date(now.getTime() + 25 * 3600_000);
    for (const d of await claimBatch(failingDeps, 1000, old)) {
      if (d.messageId === m451) await processDelivery(failingDeps, d, old);
    }
    expect((await rowsOf(m451))[0]).toMatchObject({ status: 'failed', reason: 'max_age' });
    await failingDeps.mail.close?.();
  });
});

describe('revocation racing deliveries in flight', () => {
  it('RV1, DL3: 5,000 marketing deliveries for one patient and topic; after the revocation commits, none arrives at the sink', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    const { topic, text } = await publishedTopic(handle, org.id);
    const grant = await grantAuthorization(db, {
      orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat',
      evidence: { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal' }, now: new Date(),
    });
    expect(grant.status).toBe('granted');
    // 5,000 messages, written in bulk (enqueueMessage is exercised above; this is about the race).
    const now = new Date();
    const sealed = sealJson(vault, { orgId: org.id, purpose: MESSAGE_CONTENT }, content);
    const ids = Array.from({ length: 5_000 }, () => randomUUID());
    for (let i = 0; i < ids.length; i += 1_000) {
      const chunk = ids.slice(i, i + 1_000);
      await db.insert(messages).values(chunk.map((id) => ({ id, orgId: org.id, category: 'marketing' as const, topicId: topic.id, content: sealed, createdAt: now })));
      await db.insert(deliveries).values(chunk.map((id) => ({ orgId: org.id, messageId: id, patientId: patient.id, channel: 'email' as const, category: 'marketing' as const, topicId: topic.id, dueAt: now, createdAt: now, updatedAt: now })));
    }
    const ours = new Set(ids);
    const arrivals = () => sink.received.filter((m) => m.raw.includes(`/o/${org.slug}/`)).length;

    // Two workers, four lanes each, until nothing is due.
    let stop = false;
    const worker = async (id: string) => {
      const d = { ...deps, workerId: id, orgIds: [org.id] };
      while (!stop) if ((await runPass(d, { batchSize: 50, concurrency: 4 })) === 0) return;
    };
    const running = [worker('w-a'), worker('w-b')];
    while (arrivals() < 300) await new Promise((r) => setTimeout(r, 20));
    const revoked = await revokeAuthorization(db, {
      orgId: org.id, patientId: patient.id, topicId: topic.id,
      evidence: { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal' }, now: new Date(),
    });
    const atCommit = arrivals();
    expect(revoked.status).toBe('revoked');
    await Promise.all(running);
    stop = true;

    expect(arrivals()).toBe(atCommit);
    const rows = await db.select({ status: deliveries.status, reason: deliveries.reason, n: sql<number>`count(*)::int` }).from(deliveries).where(eq(deliveries.topicId, topic.id)).groupBy(deliveries.status, deliveries.reason);
    const sent = rows.find((r) => r.status === 'sent')?.n ?? 0;
    const blocked = rows.find((r) => r.status === 'blocked' && r.reason === 'authorization_revoked')?.n ?? 0;
    expect(sent).toBe(atCommit);
    expect(sent + blocked).toBe(5_000);
    expect(blocked).toBeGreaterThan(0);
    // Nothing twice: one arrival per Message-ID.
    const seen = sink.received.filter((m) => m.raw.includes(`/o/${org.slug}/`)).map((m) => m.messageId);
    expect(new Set(seen).size).toBe(seen.length);
    expect(ours.size).toBe(5_000);
  }, 240_000);
});
