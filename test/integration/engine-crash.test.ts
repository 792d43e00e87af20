// DL5 with real processes: worker processes killed with SIGKILL mid-batch, a sink answering 421, 451 and 550, and a
// database restart mid-run. Every delivery ends sent or failed, and no Message-ID arrives twice.
// The kills and the restart happen while the sink holds every DATA command unanswered, so no message is "accepted by
// the server but not yet recorded": that residual window of at-least-once delivery is what the Message-ID derived
// from the delivery id (DL2) lets a receiver collapse, and it is not what this test is about.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql as dsql } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type DbHandle } from '../../db/client';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../db/embedded';
import { runMigrations } from '../../db/migrate';
import { deliveries, organisations } from '../../db/schema/index';
import { enqueueMessage } from '../../server/engine/enqueue';
import { kekRing } from '../../server/messages/vault';

const TOTAL = 300;
let dataDir: string;
let cluster: EmbeddedDatabase;
let handle: DbHandle;
const workers: ChildProcess[] = [];

// The sink: accepts, fails some messages by their Message-ID, and can hold every DATA unanswered.
const accepted: string[] = [];
const tries = new Map<string, number>();
let holding = false;
const held: ((error?: Error) => void)[] = [];
const verdict = (id: string): number | undefined => {
  const n = createHash('sha256').update(id).digest()[0]! % 10;
  const attempt = tries.get(id) ?? 0;
  if (n === 0) return 550; // permanent
  if (n === 1 && attempt <= 1) return 421; // service not available, twice
  if (n === 2 && attempt <= 1) return 451; // local error, twice
  return undefined;
};
const sink = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const id = /^Message-ID:\s*(<[^>]+>)/im.exec(raw)?.[1] ?? 'none';
      tries.set(id, (tries.get(id) ?? 0) + 1);
      const answer = (error?: Error) => {
        if (error) return callback(error);
        const code = verdict(id);
        if (code) return callback(Object.assign(new Error(code >= 500 ? 'No such user' : 'Try again later'), { responseCode: code }));
        accepted.push(id);
        callback();
      };
      if (holding) held.push(answer);
      else answer();
    });
  },
});
// A worker killed with SIGKILL resets its SMTP connections: smtp-server reports that as an 'error' event, which
// without a listener is an uncaught exception in this test process.
sink.on('error', () => {});
let sinkUrl = '';

const killed = new Set<ChildProcess>();
let finished = false;
let restarts = 0;

/** Starts a worker process and, like a process supervisor, starts another if it dies on its own. */
function startWorker(name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/engine-worker.ts'], {
    env: { ...process.env, DATABASE_URL: cluster.url, SINK_URL: sinkUrl, WORKER_ID: name, LANES: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.resume();
  child.on('exit', () => {
    if (killed.has(child) || finished) return;
    restarts += 1;
    void startWorker(`${name}-restarted`);
  });
  workers.push(child);
  return new Promise((resolve) => child.stdout!.once('data', () => resolve(child)));
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 60_000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (accepted ${accepted.length}, held ${held.length}, holding ${holding})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Holds every DATA, waits until no hand-off is between "accepted" and "recorded" (every accepted Message-ID is a sent
 * row: on a loaded machine a commit can take far longer than any fixed pause), then runs `step`.
 */
async function whileHolding(step: () => Promise<void>) {
  holding = true;
  await until(() => held.length >= 1, 60_000, 'a held DATA');
  await until(async () => {
    const [row] = await handle.db.select({ sent: dsql<number>`count(*) filter (where ${deliveries.status} = 'sent')::int` }).from(deliveries);
    return row!.sent === accepted.length;
  }, 60_000, 'every accepted hand-off to be recorded');
  await step();
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-crash-'));
  fs.chmodSync(dataDir, 0o755);
  cluster = await startEmbeddedPostgres({ dataDir, preferredPort: 0, database: 'crash', ephemeral: true });
  await runMigrations(cluster.url);
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `smtp://127.0.0.1:${(sink.server.address() as { port: number }).port}`;
  handle = connect(cluster.url, { max: 2 });
}, 60_000);

afterAll(async () => {
  finished = true;
  for (const w of workers) w.kill('SIGKILL');
  await handle?.close();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
  await cluster?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('crashes, SMTP errors and a database restart', () => {
  it('DL5: every delivery ends sent or failed, none twice', async () => {
    const db = handle.db;
    const [org] = await db.insert(organisations).values({ slug: 'crash', name: 'Crash Clinic' }).returning();
    await handle.sql`insert into patients (id, org_id, external_ref, display_name)
      select md5('c' || i)::uuid, ${org!.id}, 'C-' || i, 'Patient ' || i from generate_series(1, ${TOTAL}::int) i`;
    await handle.sql`insert into contact_points (org_id, patient_id, kind, value, source, verified_at)
      select ${org!.id}, md5('c' || i)::uuid, 'email', 'c' || i || '@crash.test', 'organisation', now() from generate_series(1, ${TOTAL}::int) i`;
    const patientIds = (await handle.sql<{ id: string }[]>`select id from patients where org_id = ${org!.id}`).map((p) => p.id);
    const result = await db.transaction((tx) =>
      enqueueMessage(tx, kekRing(Buffer.alloc(32, 7)), {
        orgId: org!.id,
        category: 'operations',
        content: { subject: 'Clinic closed on Friday', text: 'The clinic is closed this Friday.' },
        recipients: patientIds.map((patientId) => ({ patientId, channels: ['email' as const] })),
        actor: { type: 'system' },
        now: new Date(),
      }),
    );
    expect(result.ok && result.deliveryIds).toHaveLength(TOTAL);

    const a = await startWorker('a');
    const b = await startWorker('b');
    await until(() => accepted.length >= 40, 60_000, 'first 40');

    // Both workers die mid-batch (SIGKILL: no cleanup). Their claimed rows wait for their leases to end.
    await whileHolding(async () => {
      for (const w of [a, b]) {
        killed.add(w);
        w.kill('SIGKILL');
      }
      await new Promise((r) => setTimeout(r, 200));
      held.splice(0); // their connections died with the workers: nothing to answer
      holding = false;
    });
    await startWorker('c');
    await startWorker('d');
    const afterKill = accepted.length;
    await until(() => accepted.length >= afterKill + 60, 60_000, '60 more after the kill');

    // The database restarts while hand-offs wait at DATA; the sink then answers them 421.
    await whileHolding(async () => {
      await cluster.stop();
      for (const answer of held.splice(0)) answer(Object.assign(new Error('Try again later'), { responseCode: 421 }));
      holding = false;
      const port = cluster.port;
      cluster = await startEmbeddedPostgres({ dataDir, preferredPort: port, database: 'crash', ephemeral: true });
      expect(cluster.port).toBe(port); // the workers reconnect to the address they know
    });

    await until(async () => {
      const [row] = await db
        .select({ open: dsql<number>`count(*) filter (where ${deliveries.status} in ('queued', 'sending'))::int` })
        .from(deliveries)
        .catch(() => [{ open: -1 }]);
      return row!.open === 0;
    }, 90_000, 'all deliveries to finish');

    finished = true;
    // A worker that lost its database mid-query may die (postgres.js writes to a closed socket); the supervisor
    // above starts another, as a process manager would in production.
    console.log(`DL5: ${restarts} worker restart(s) after the database restart`);
    const rows = await db.select({ status: deliveries.status, id: deliveries.id, header: deliveries.messageIdHeader, lastError: deliveries.lastError }).from(deliveries);
    const sent = rows.filter((r) => r.status === 'sent');
    const failed = rows.filter((r) => r.status === 'failed');
    expect(sent.length + failed.length).toBe(TOTAL);
    // Exactly the 550 ones failed; the 421/451 ones were retried until accepted.
    const permanent = rows.filter((r) => verdict(`<${r.id}@carepost.test>`) === 550 && (tries.get(`<${r.id}@carepost.test>`) ?? 0) > 0);
    expect(failed.map((r) => r.id).sort()).toEqual(permanent.map((r) => r.id).sort());
    expect(failed.every((r) => r.lastError === 'smtp_550')).toBe(true);
    // None twice: every accepted Message-ID once, and exactly the sent rows.
    expect(new Set(accepted).size).toBe(accepted.length);
    expect(accepted.sort()).toEqual(sent.map((r) => r.header!).sort());
  }, 180_000);
});
