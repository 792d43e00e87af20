// Vault key rotation (TR1) against real Postgres: every sealed column moves under the new KEK without its ciphertext
// changing, values that do not open are reported and left alone, and the bytes Postgres writes to disk hold no
// plaintext. Other test files seal with their own keys in the same database, so every run here names its organisations.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { deliveries, messageAttachments, messageReplies, messages, orgDkimKeys, orgSigningKeys, webhookEndpoints, type SealedEnvelope } from '../../db/schema/index';
import { ensureOrgSigningKey, loadOrgSigningKey } from '../../server/delivery/pgp';
import { generateOrgDkimKey } from '../../server/delivery/dkim-keys';
import { createWebhookEndpoint } from '../../server/delivery/webhooks';
import { enqueueMessage, MESSAGE_CONTENT } from '../../server/engine/enqueue';
import { openMessage, replyToMessage } from '../../server/messages/inbox';
import { rotateVault, SEALED_COLUMNS } from '../../server/messages/rotate';
import { kekRing, open, seal, type KekRing } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';
import { sealV1 } from '../support/vault';

const handle = testDatabase(4);
const db = handle.db;
const keyA = randomBytes(32);
const keyB = randomBytes(32);
const ringA = kekRing(keyA);
const rotating = kekRing(keyB, [keyA]);
const ringB = kekRing(keyB);

afterAll(() => handle.close());

/** An organisation with a value in every sealed column, all sealed under `ring`. */
async function sealedOrganisation(ring: KekRing, text: { subject: string; body: string; fileName: string; file: string; reply: string }) {
  const org = await createTestOrganisation(handle);
  const { patient } = await createTestPatient(handle, org.id);
  const now = new Date();
  const result = await db.transaction((tx) =>
    enqueueMessage(tx, ring, {
      orgId: org.id,
      category: 'treatment',
      content: { subject: text.subject, text: text.body },
      attachments: [
        { name: text.fileName, contentType: 'text/plain', content: Buffer.from(text.file) },
        { name: 'second.txt', contentType: 'text/plain', content: Buffer.from('second file') },
      ],
      recipients: [{ patientId: patient.id, channels: ['email'] }],
      actor: { type: 'system' },
      now,
    }),
  );
  if (!result.ok) throw new Error(`not enqueued: ${JSON.stringify(result.fieldErrors)}`);
  // A patient may reply only to a message handed off to them.
  await db.update(deliveries).set({ status: 'sent' }).where(eq(deliveries.messageId, result.messageId));
  const reply = await replyToMessage(db, ring, { orgId: org.id, patientId: patient.id }, result.messageId, text.reply, now);
  if (!reply.ok) throw new Error(`no reply: ${reply.message}`);
  await ensureOrgSigningKey(db, ring, org, now);
  await generateOrgDkimKey(db, ring, { orgId: org.id, domain: 'rotate.example', selector: 'cp1', actor: { type: 'admin', id: 'test' }, now });
  await createWebhookEndpoint(db, ring, { orgId: org.id, url: 'https://hooks.example.org/x', eventTypes: ['message.opened'], actor: { type: 'organisation', id: 'k' }, now });
  return { org, patient, messageId: result.messageId };
}

const words = () => ({ subject: 'Your biopsy result', body: 'The sample was benign.', fileName: 'biopsy.txt', file: 'pathology report', reply: 'Thank you!' });

/** Every sealed value of an organisation, by column, keyed by row. */
async function envelopesOf(orgId: string): Promise<Record<string, Map<string, SealedEnvelope>>> {
  const [m, a, r, k, dk, wh] = await Promise.all([
    db.select({ key: messages.id, content: messages.content }).from(messages).where(eq(messages.orgId, orgId)),
    db
      .select({ key: messageAttachments.id, name: messageAttachments.name, content: messageAttachments.content })
      .from(messageAttachments)
      .where(eq(messageAttachments.orgId, orgId)),
    db.select({ key: messageReplies.id, content: messageReplies.content }).from(messageReplies).where(eq(messageReplies.orgId, orgId)),
    db.select({ key: orgSigningKeys.orgId, sealed: orgSigningKeys.sealedPrivateKey }).from(orgSigningKeys).where(eq(orgSigningKeys.orgId, orgId)),
    db.select({ key: orgDkimKeys.orgId, sealed: orgDkimKeys.sealedPrivateKey }).from(orgDkimKeys).where(eq(orgDkimKeys.orgId, orgId)),
    db.select({ key: webhookEndpoints.id, sealed: webhookEndpoints.secret }).from(webhookEndpoints).where(eq(webhookEndpoints.orgId, orgId)),
  ]);
  return {
    'messages.content': new Map(m.map((x) => [x.key, x.content])),
    'message_attachments.name': new Map(a.map((x) => [x.key, x.name])),
    'message_attachments.content': new Map(a.map((x) => [x.key, x.content])),
    'message_replies.content': new Map(r.map((x) => [x.key, x.content])),
    'org_signing_keys.sealed_private_key': new Map(k.map((x) => [x.key, x.sealed])),
    'org_dkim_keys.sealed_private_key': new Map(dk.map((x) => [x.key, x.sealed])),
    'webhook_endpoints.secret': new Map(wh.map((x) => [x.key, x.sealed])),
  };
}

const purposeOf = (column: string) => SEALED_COLUMNS.find((c) => c.name === column)!.purpose;


describe('vault rotation (TR1)', () => {
  it('TR1: rotation re-wraps data keys under the new KEK without touching ciphertexts', async () => {
    const { org, patient, messageId } = await sealedOrganisation(ringA, words());
    const v1Content = JSON.stringify({ subject: 'Sealed by the first vault', text: 'v1 body' });
    const [v1Row] = await db
      .insert(messages)
      .values({ orgId: org.id, category: 'treatment', content: sealV1(keyA, { orgId: org.id, purpose: MESSAGE_CONTENT }, v1Content), createdAt: new Date() })
      .returning({ id: messages.id });
    const before = await envelopesOf(org.id);
    const plaintexts = new Map<string, Buffer>();
    for (const [column, rows] of Object.entries(before)) {
      for (const [key, envelope] of rows) plaintexts.set(`${column}/${key}`, open(ringA, { orgId: org.id, purpose: purposeOf(column) }, envelope));
    }

    // A batch of 2 pages through every column in several transactions.
    const report = await rotateVault(db, rotating, { orgIds: [org.id], batchSize: 2 });
    expect(report.columns).toEqual({
      'messages.content': { scanned: 2, rewrapped: 2, alreadyCurrent: 0, failed: 0, skipped: 0 },
      'message_attachments.name': { scanned: 2, rewrapped: 2, alreadyCurrent: 0, failed: 0, skipped: 0 },
      'message_attachments.content': { scanned: 2, rewrapped: 2, alreadyCurrent: 0, failed: 0, skipped: 0 },
      'message_replies.content': { scanned: 1, rewrapped: 1, alreadyCurrent: 0, failed: 0, skipped: 0 },
      'org_signing_keys.sealed_private_key': { scanned: 1, rewrapped: 1, alreadyCurrent: 0, failed: 0, skipped: 0 },
      'org_dkim_keys.sealed_private_key': { scanned: 1, rewrapped: 1, alreadyCurrent: 0, failed: 0, skipped: 0 },
      'webhook_endpoints.secret': { scanned: 1, rewrapped: 1, alreadyCurrent: 0, failed: 0, skipped: 0 },
    });
    expect(report.totals).toEqual({ scanned: 10, rewrapped: 10, alreadyCurrent: 0, failed: 0, skipped: 0 });

    const after = await envelopesOf(org.id);
    for (const [column, rows] of Object.entries(after)) {
      expect(rows.size).toBe(before[column]!.size);
      for (const [key, envelope] of rows) {
        const old = before[column]!.get(key)!;
        expect(envelope).toMatchObject({ v: 2, kid: ringB.current.kid });
        expect(Object.keys(envelope).sort()).toEqual(['ct', 'iv', 'kid', 'v', 'wk']);
        // v2: the very same nonce and ciphertext; only the wrapped data key changed. v1 was re-sealed.
        if (old.v === 2) expect({ iv: envelope.iv, ct: envelope.ct }).toEqual({ iv: old.iv, ct: old.ct });
        else expect(envelope.ct).not.toBe(old.ct);
        expect(envelope.wk).not.toBe(old.wk);
        expect(open(ringB, { orgId: org.id, purpose: purposeOf(column) }, envelope)).toEqual(plaintexts.get(`${column}/${key}`));
      }
    }
    expect(before['messages.content']!.get(v1Row!.id)!.v).toBe(1);

    // The product reads everything with the new key alone.
    const reader = { orgId: org.id, patientId: patient.id, sessionIdHash: 'f00dfeedcafe', verificationMethod: 'email_code', device: null };
    const opened = await openMessage(db, ringB, reader, messageId, new Date());
    expect(opened).toMatchObject({ status: 'available', subject: 'Your biopsy result', text: 'The sample was benign.', replies: [{ text: 'Thank you!' }] });
    expect(opened.status === 'available' && opened.attachments.map((x) => x.name)).toEqual(['biopsy.txt', 'second.txt']);
    await expect(loadOrgSigningKey(db, ringB, org.id)).resolves.toBeDefined();

    const again = await rotateVault(db, rotating, { orgIds: [org.id] });
    expect(again.totals).toEqual({ scanned: 10, rewrapped: 0, alreadyCurrent: 10, failed: 0, skipped: 0 });
  });

  it('TR1: a value that does not open is counted as failed and left as it is; the others are rotated', async () => {
    const { org } = await sealedOrganisation(ringA, words());
    const [attachment] = await db.select().from(messageAttachments).where(eq(messageAttachments.orgId, org.id)).limit(1);
    const ct = Buffer.from(attachment!.content.ct, 'base64');
    ct[3] = ct[3]! ^ 0x40;
    const tampered = { ...attachment!.content, ct: ct.toString('base64') };
    await db.update(messageAttachments).set({ content: tampered }).where(eq(messageAttachments.id, attachment!.id));
    // Sealed under a key nobody configured.
    const stranger = seal(kekRing(randomBytes(32)), { orgId: org.id, purpose: MESSAGE_CONTENT }, '{"subject":"?","text":"?"}');
    const [unknown] = await db
      .insert(messages)
      .values({ orgId: org.id, category: 'treatment', content: stranger, createdAt: new Date() })
      .returning({ id: messages.id });

    const report = await rotateVault(db, rotating, { orgIds: [org.id], batchSize: 500 });
    expect(report.totals).toEqual({ scanned: 10, rewrapped: 8, alreadyCurrent: 0, failed: 2, skipped: 0 });
    expect(report.columns['message_attachments.content']).toMatchObject({ rewrapped: 1, failed: 1 });
    expect(report.failures.sort((a, b) => a.column.localeCompare(b.column))).toEqual([
      { column: 'message_attachments.content', key: attachment!.id, orgId: org.id, reason: 'tampered' },
      { column: 'messages.content', key: unknown!.id, orgId: org.id, reason: 'unknown_key' },
    ]);
    const [stillTampered] = await db
      .select({ content: messageAttachments.content })
      .from(messageAttachments)
      .where(eq(messageAttachments.id, attachment!.id));
    expect(stillTampered!.content).toEqual(tampered);
    const [stillStranger] = await db.select({ content: messages.content }).from(messages).where(eq(messages.id, unknown!.id));
    expect(stillStranger!.content).toEqual(stranger);

    const again = await rotateVault(db, rotating, { orgIds: [org.id] });
    expect(again.totals).toEqual({ scanned: 10, rewrapped: 0, alreadyCurrent: 8, failed: 2, skipped: 0 });
  });

  it('TR1: a row another transaction holds is skipped, not waited on or overwritten, and the next run takes it', async () => {
    const { org, messageId } = await sealedOrganisation(ringA, words());
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const holder = db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from messages where id = ${messageId}::uuid for update`);
      held();
      await released;
    });
    await holding;
    const report = await rotateVault(db, rotating, { orgIds: [org.id] }).finally(release);
    await holder;
    expect(report.columns['messages.content']).toEqual({ scanned: 1, rewrapped: 0, alreadyCurrent: 0, failed: 0, skipped: 1 });
    expect(report.totals).toMatchObject({ rewrapped: 8, skipped: 1 });
    const again = await rotateVault(db, rotating, { orgIds: [org.id] });
    expect(again.totals).toMatchObject({ rewrapped: 1, alreadyCurrent: 8, skipped: 0 });
  });

  it('TR1: the raw table bytes hold no plaintext', async (context) => {
    // Only against the embedded cluster the tests start (we are its superuser, and its files are on this machine): a
    // DATABASE_URL server's files are not ours to read, and data_directory is hidden from other roles.
    const [role] = await db.execute<{ superuser: string }>(sql`select current_setting('is_superuser') as superuser`);
    if (role?.superuser !== 'on') return context.skip();
    const [setting] = await db.execute<{ data_directory: string }>(sql`select current_setting('data_directory') as data_directory`);
    const dataDir = setting!.data_directory;
    if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) return context.skip();

    const tag = randomBytes(6).toString('hex');
    // Small values on purpose: a row over ~2 kB is compressed, and a compressed plaintext would not show as a string.
    const markers = {
      subject: `SUBJ${tag}MARK`,
      body: `BODY${tag}MARK`,
      fileName: `FILE${tag}MARK.txt`,
      file: `DATA${tag}MARK`,
      reply: `REPL${tag}MARK`,
    };
    const { org, messageId } = await sealedOrganisation(ringA, markers);
    // The control: a value stored in clear in the same table must be found, or this test could never fail.
    const control = `CTRL${tag}MARK`;
    await db.insert(messageAttachments).values({
      orgId: org.id,
      messageId,
      position: 9,
      contentType: 'text/plain',
      sizeBytes: 1,
      name: { v: 2, kid: 'control', wk: '', iv: '', ct: control },
      content: { v: 2, kid: 'control', wk: '', iv: '', ct: '' },
    });
    await db.execute(sql`checkpoint`);

    const relationFiles = async (table: string) => {
      const rows = await db.execute<{ main: string; toast: string | null }>(sql`
        select pg_relation_filepath(c.oid) as main, pg_relation_filepath(nullif(c.reltoastrelid, 0)) as toast
        from pg_class c where c.oid = ${table}::regclass`);
      return [rows[0]!.main, rows[0]!.toast].filter((p): p is string => !!p).flatMap((p) => segments(path.join(dataDir, p)));
    };
    const tables = ['messages', 'message_attachments', 'message_replies', 'org_signing_keys'];
    const files = (await Promise.all(tables.map(relationFiles))).flat();
    expect(files.length).toBeGreaterThanOrEqual(tables.length);
    const attachmentFiles = await relationFiles('message_attachments');
    expect(attachmentFiles.some((f) => readIfThere(f).includes(control)), 'the control value in clear is found on disk').toBe(true);
    for (const file of files) {
      const bytes = readIfThere(file);
      for (const marker of Object.values(markers)) expect(bytes.includes(marker), `${marker} in ${path.relative(dataDir, file)}`).toBe(false);
    }

    // Beyond the sealed tables: no other relation (audit details, events, indexes) holds them either.
    const [database] = await db.execute<{ oid: string }>(sql`select oid::text from pg_database where datname = current_database()`);
    const databaseDir = path.join(dataDir, 'base', database!.oid);
    for (const name of fs.readdirSync(databaseDir)) {
      const bytes = readIfThere(path.join(databaseDir, name));
      for (const marker of Object.values(markers)) expect(bytes.includes(marker), `${marker} in base/${database!.oid}/${name}`).toBe(false);
    }
  });
});

/** A relation's file and its 1 GB continuation segments (`16384`, `16384.1`, ...). */
function segments(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  return fs
    .readdirSync(dir)
    .filter((name) => name === base || new RegExp(`^${base}\\.\\d+$`).test(name))
    .map((name) => path.join(dir, name));
}

/** Other test files create and drop relations while this one reads: a file gone in between is simply empty. */
function readIfThere(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}
