// `npm run bench:send -- [--json] [--deliveries 20000] [--patients 10000] [--concurrency 8] [--processes 0]`
// The real engine (claim, gate under the consent lock, hand-off, record, audit) against a throwaway embedded Postgres
// and a local smtp-server sink, and in the same run the reference: raw pooled nodemailer sending the same number of
// messages to the same sink with no database, once before the engine and once after; the ratio is against the faster
// of the two. Figures are reported as a ratio, since the machine is shared.
// The last line printed is one JSON object.
import { randomUUID } from 'node:crypto';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { authorizationEvents, consentStates, contactPoints, deliveries, messages, patients } from '../db/schema/index';
import { createSmtpTransport, nodemailerMessage } from '../server/delivery/transport';
import { LANE_PASS, marketingNoticeMail } from '../server/engine/engine';
import { MESSAGE_CONTENT } from '../server/engine/enqueue';
import { sealJson } from '../server/messages/vault';
import { startSink } from '../test/support/engine-sink';
import type { EngineProcessConfig, EngineProcessReport } from './send-engine-process';
import { benchEngineDeps, benchLinkDeps, benchVault, createBenchClinic, progress, runEngineLanes, withBenchDatabase } from './support';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    deliveries: { type: 'string', default: '20000' },
    patients: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '8' },
    // Engine tuning (ADR 018): lanes (passes running at once), deliveries claimed per pass, hand-offs at once per pass.
    lanes: { type: 'string' },
    // Defaults: the worker's own (LANE_PASS, ADR 027).
    'batch-size': { type: 'string', default: String(LANE_PASS.batchSize) },
    'per-batch': { type: 'string', default: String(LANE_PASS.concurrency) },
    // 0 (the default, the headline figure): the engine lanes run in this process, beside the sink. N: they run in N
    // forked engine processes (bench/send-engine-process.ts), the lanes split between them, as `npm run worker` per
    // core would; the sink stays here. A stated variant: the raw reference is still one process.
    processes: { type: 'string', default: '0' },
    // Diagnostic: the engine hands off to a transport that accepts at once, with no SMTP at all; the engine's own cost
    // (claim, facts, gate, links, composition, records, audit) without the client and the sink. No ratio is meaningful.
    'null-transport': { type: 'boolean', default: false },
    // Diagnostic, with --null-transport: while the engine runs, this process also sends the reference's messages (as
    // many as the engine hands off) through raw pooled nodemailer to the sink. engine_cpu_us_per_sent is then the CPU
    // of one decision-and-hand-off plus one raw send: compared with --null-transport alone plus raw_cpu_us_per_msg, it
    // shows what the two kinds of work cost when they share one process (ADR 024).
    'beside-raw': { type: 'boolean', default: false },
  },
});
const DELIVERIES = Number(values.deliveries);
const PATIENTS = Number(values.patients);
const CONCURRENCY = Number(values.concurrency);
const LANES = Number(values.lanes ?? values.concurrency);
const BATCH_SIZE = Number(values['batch-size']);
const PER_BATCH = Number(values['per-batch']);
const PROCESSES = Number(values.processes);
const NULL_TRANSPORT = values['null-transport']!;
const BESIDE_RAW = values['beside-raw']!;
if (NULL_TRANSPORT && PROCESSES > 0) throw new Error('--null-transport runs the engine in this process only');
if (BESIDE_RAW && !NULL_TRANSPORT) throw new Error('--beside-raw goes with --null-transport');
if (!Number.isInteger(PROCESSES) || PROCESSES < 0 || PROCESSES > LANES) throw new Error(`--processes must be a whole number from 0 to --lanes (${LANES})`);
const log = progress(values.json!);

/** CPU microseconds (user + system) per process, from /proc (Linux); processes without /proc entries are left out. */
function procCpuUs(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10_000); // utime, stime; USER_HZ 100
    } catch {
      /* gone, or not Linux */
    }
  }
  return out;
}

type NoticeMail = Awaited<ReturnType<typeof marketingNoticeMail>>;
const sink = await startSink({ keepRaw: false });
try {
  await withBenchDatabase('send', Math.max(CONCURRENCY, LANES) + 4, async (handle, databaseUrl) => {
    const db = handle.db;
    const vault = benchVault();
    const now = new Date();

    // A clinic with PATIENTS patients, each with a verified email; a realistic consent mix for one marketing topic:
    // 60% granted by email, 10% granted then revoked, 30% never asked.
    const { org, topic, text } = await createBenchClinic(handle, 'bench', 'Bench Clinic', now);
    const patientIds = Array.from({ length: PATIENTS }, () => randomUUID());
    for (let i = 0; i < PATIENTS; i += 2_000) {
      const chunk = patientIds.slice(i, i + 2_000);
      await db.insert(patients).values(
        chunk.map((id, j) => ({
          id,
          orgId: org.id,
          externalRef: `B-${i + j}`,
          displayName: `Patient ${i + j}`,
        })),
      );
      await db.insert(contactPoints).values(
        chunk.map((id, j) => ({
          orgId: org.id,
          patientId: id,
          kind: 'email' as const,
          value: `p${i + j}@bench.test`,
          source: 'organisation' as const,
          verifiedAt: now,
        })),
      );
      const consenting = chunk.map((id, j) => ({ id, n: i + j })).filter(({ n }) => n % 10 < 7);
      const events = consenting.map(({ id, n }) => ({
        id: randomUUID(),
        orgId: org.id,
        patientId: id,
        topicId: topic.id,
        kind: 'granted' as const,
        textId: text.id,
        textHash: text.contentHash!,
        channels: ['email' as const],
        expiresAt: new Date(now.getTime() + 365 * 86_400_000),
        evidence: {
          method: 'code_email',
          verifiedAt: now.toISOString(),
          ipAddress: '127.0.0.1',
          userAgent: null,
          via: 'portal' as const,
        },
        occurredAt: now,
        n,
      }));
      if (events.length > 0) {
        await db.insert(authorizationEvents).values(events.map(({ n: _n, ...e }) => e));
        await db.insert(consentStates).values(
          events.map((e) => ({
            orgId: org.id,
            patientId: e.patientId,
            topicId: topic.id,
            status: e.n % 10 === 6 ? ('revoked' as const) : ('active' as const),
            grantEventId: e.id,
            textId: text.id,
            channels: ['email' as const],
            grantedAt: now,
            expiresAt: e.expiresAt,
            revokedAt: e.n % 10 === 6 ? now : null,
            updatedAt: now,
          })),
        );
      }
    }
    // DELIVERIES marketing emails: each patient gets DELIVERIES / PATIENTS of them (one message each).
    const sealed = sealJson(vault, { orgId: org.id, purpose: MESSAGE_CONTENT }, { subject: 'News', text: 'Our spring newsletter.' });
    for (let i = 0; i < DELIVERIES; i += 2_000) {
      const ids = Array.from({ length: Math.min(2_000, DELIVERIES - i) }, () => randomUUID());
      await db.insert(messages).values(
        ids.map((id) => ({
          id,
          orgId: org.id,
          category: 'marketing' as const,
          topicId: topic.id,
          content: sealed,
          createdAt: now,
        })),
      );
      await db.insert(deliveries).values(
        ids.map((id, j) => ({
          orgId: org.id,
          messageId: id,
          patientId: patientIds[(i + j) % PATIENTS]!,
          channel: 'email' as const,
          category: 'marketing' as const,
          topicId: topic.id,
          dueAt: now,
          createdAt: now,
          updatedAt: now,
        })),
      );
    }
    await handle.sql`analyze`;
    log(`bench: ${PATIENTS} patients, ${DELIVERIES} marketing deliveries, concurrency ${CONCURRENCY}`);

    // The references: raw pooled nodemailer, same sink, no database, as many messages as the engine will send.
    // 1. The headline reference sends the same messages the engine sends: each a marketing notice built by the engine's
    //    own composition (signed pickup and unsubscribe links, EM1 headers and footer, DL2 Message-ID) for a delivery
    //    of this bench, built before the clock starts, handed to nodemailer like the engine's transport does.
    // 2. The text-only reference is what this bench compared against until 2026-11-24 (a notice of about 615 bytes without the
    //    unsubscribe headers, links or footer): reported for continuity, not used for the ratio.
    const sentByEngineEstimate = Math.round(DELIVERIES * 0.6);
    const linkDeps = benchLinkDeps();
    const buildSameMessages = () =>
      Promise.all(
        Array.from({ length: sentByEngineEstimate }, (_, i) =>
          marketingNoticeMail(
            linkDeps,
            { id: randomUUID(), orgId: org.id, patientId: patientIds[i % PATIENTS]!, topicId: topic.id, channel: 'email' },
            org,
            `p${i % PATIENTS}@bench.test`,
            now,
          ),
        ),
      );
    let sameMessages: NoticeMail[] | null = await buildSameMessages();
    const textBody = `You have a new message from Bench Clinic.\n\nRead it securely in the portal: https://portal.example.com/o/bench/m/${'x'.repeat(220)}\n`;
    const textOnly = (i: number) => ({
      from: 'bench@bench.test',
      to: `p${i % PATIENTS}@bench.test`,
      subject: 'New message from Bench Clinic',
      text: textBody,
      messageId: `<raw-${i}@bench.test>`,
    });
    // Mean size of what the sink received since it was last emptied: the engine's messages and the reference's must match.
    const meanBytes = () => sink.received.reduce((sum, m) => sum + m.bytes, 0) / Math.max(1, sink.received.length);
    // Each reference empties the sink when it is done, so the next one (and the engine) count only their own mail.
    const reference = async (label: string, message: (i: number) => object, client: 'nodemailer' | 'transport' = 'nodemailer') => {
      const raw = client === 'nodemailer' ? rawPool() : transportPool();
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      await sendAll(raw, sentByEngineEstimate, message);
      const seconds = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpu0);
      raw.close();
      const bytes = meanBytes();
      log(`${label}: ${sentByEngineEstimate} messages (${Math.round(bytes)} bytes each) in ${seconds.toFixed(1)} s = ${(sentByEngineEstimate / seconds).toFixed(0)}/s`);
      sink.received.length = 0;
      return { perSecond: sentByEngineEstimate / seconds, cpuUsPerMessage: (cpu.user + cpu.system) / sentByEngineEstimate, bytes };
    };
    const rawText = await reference('raw nodemailer, text-only notice', textOnly);
    const rawSame = await reference('raw nodemailer, the engine\'s messages', (i) => nodemailerMessage(sameMessages![i]!));
    // 3. The engine's own transport (ADR 026: composition in one pass, nodemailer's SMTPConnection in our pool) sending
    //    the same messages without a database: what the engine's own work costs beyond its transport.
    const transportSame = await reference('the engine\'s transport, the engine\'s messages', (i) => sameMessages![i]!, 'transport');
    // The reference's messages are not the engine's to carry (unless --beside-raw sends them again): tens of megabytes
    // left live would slow its garbage collector.
    const besideMessages: NoticeMail[] = BESIDE_RAW ? sameMessages : [];
    sameMessages = null;

    const deps = benchEngineDeps(
      db,
      NULL_TRANSPORT
        ? { send: async (m) => ({ messageId: m.messageId!, accepted: [m.to], rejected: [], response: '250 accepted by the null transport' }) }
        : createSmtpTransport(sink.url, { pool: true, maxConnections: CONCURRENCY }),
    );
    // With --processes, the engine processes connect (and open their pools) before the clock starts.
    const children = await startEngineProcesses(PROCESSES, databaseUrl, sink.url);
    // CPU per sent mail, this process (engine and sink) and Postgres (every process of the cluster that pg_stat_activity
    // lists, pool backends opened first): a figure the load of a shared machine moves less than a rate.
    await Promise.all(Array.from({ length: Math.max(CONCURRENCY, LANES) + 4 }, () => handle.sql`select pg_sleep(0.05)`));
    const dbPids = async () => (await handle.sql<{ pid: number }[]>`select pid from pg_stat_activity`).map((r) => r.pid);
    const db0 = procCpuUs(await dbPids());
    const engineCpu0 = process.cpuUsage();
    const engineStart = performance.now();
    let childCpuUs = 0;
    if (children.length > 0) {
      childCpuUs = (await Promise.all(children.map((child) => child.run()))).reduce((a, b) => a + b, 0);
    } else {
      await Promise.all([runEngineLanes(deps, LANES, 'bench', { batchSize: BATCH_SIZE, concurrency: PER_BATCH }), sendBeside(besideMessages)]);
    }
    const engineSeconds = (performance.now() - engineStart) / 1000;
    if (BESIDE_RAW) sink.received.length = 0; // the engine sent nothing (null transport); these were the raw sends
    const engineCpu = process.cpuUsage(engineCpu0);
    let dbCpuUs = 0;
    for (const [pid, us] of procCpuUs(await dbPids())) dbCpuUs += us - (db0.get(pid) ?? 0);
    // Read while the engine processes' connections are still open: they close theirs only when told to.
    await Promise.all(children.map((child) => child.close()));
    await deps.mail.close?.();
    const counts = await handle.sql<{ status: string; n: number }[]>`select status, count(*)::int as n from deliveries group by status`;
    const by = Object.fromEntries(counts.map((c) => [c.status, c.n]));
    const ids = sink.received.map((m) => m.messageId);
    const duplicates = ids.length - new Set(ids).size;
    const sent = by.sent ?? 0;
    const engineBytes = meanBytes();
    const engineReceived = sink.received.length;
    // The headline reference runs again after the engine (new messages, built before its clock starts), and the ratio
    // is taken against the faster of its two runs: the machine is shared, and a slow spell during one reference run
    // must not flatter the ratio.
    sameMessages = await buildSameMessages();
    const rawSameAfter = await reference('raw nodemailer, the engine\'s messages, after the engine', (i) => nodemailerMessage(sameMessages![i]!));
    sameMessages = null;
    const rawBest = rawSameAfter.perSecond > rawSame.perSecond ? rawSameAfter : rawSame;
    const rawPerSecond = rawBest.perSecond;
    const enginePerSecond = DELIVERIES / engineSeconds;
    const sentPerSecond = sent / engineSeconds;
    log(
      `engine: ${DELIVERIES} deliveries decided in ${engineSeconds.toFixed(1)} s = ${enginePerSecond.toFixed(0)}/s (${sent} sent = ${sentPerSecond.toFixed(
        0,
      )}/s)`,
    );
    const result = {
      deliveries: DELIVERIES,
      patients: PATIENTS,
      concurrency: CONCURRENCY,
      lanes: LANES,
      batch_size: BATCH_SIZE,
      per_batch: PER_BATCH,
      engine_per_s: Math.round(enginePerSecond),
      engine_sent_per_s: Math.round(sentPerSecond),
      // The reference: raw nodemailer sending the engine's own messages (same size, headers and links).
      raw_per_s: Math.round(rawPerSecond),
      raw_per_s_before: Math.round(rawSame.perSecond),
      raw_per_s_after: Math.round(rawSameAfter.perSecond),
      ratio: NULL_TRANSPORT ? null : Number((sentPerSecond / rawPerSecond).toFixed(3)),
      // The text-only reference used until 2026-11-24, and the ratio against it (continuity only).
      raw_text_per_s: Math.round(rawText.perSecond),
      ratio_text: NULL_TRANSPORT ? null : Number((sentPerSecond / rawText.perSecond).toFixed(3)),
      engine_bytes_per_msg: Math.round(engineBytes),
      raw_bytes_per_msg: Math.round(rawSame.bytes),
      sent,
      blocked: by.blocked ?? 0,
      failed: by.failed ?? 0,
      left: (by.queued ?? 0) + (by.sending ?? 0),
      received: engineReceived,
      // CPU per sent mail (µs): the raw reference's process, the engine's process or processes (both include the sink),
      // Postgres.
      raw_cpu_us_per_msg: Math.round(rawBest.cpuUsPerMessage),
      raw_text_cpu_us_per_msg: Math.round(rawText.cpuUsPerMessage),
      // The engine's transport alone (ADR 026), and the engine against it: the engine's own cost beyond its hand-off.
      transport_per_s: Math.round(transportSame.perSecond),
      transport_cpu_us_per_msg: Math.round(transportSame.cpuUsPerMessage),
      ratio_transport: NULL_TRANSPORT ? null : Number((sentPerSecond / transportSame.perSecond).toFixed(3)),
      engine_cpu_us_per_sent: Math.round((engineCpu.user + engineCpu.system + childCpuUs) / Math.max(1, sent)),
      processes: PROCESSES,
      ...(NULL_TRANSPORT ? { null_transport: true } : {}),
      ...(BESIDE_RAW ? { beside_raw: besideMessages.length } : {}),
      // With --processes: this process's share (the sink and its idle pool) of engine_cpu_us_per_sent.
      ...(PROCESSES > 0 ? { sink_cpu_us_per_sent: Math.round((engineCpu.user + engineCpu.system) / Math.max(1, sent)) } : {}),
      db_cpu_us_per_sent: Math.round(dbCpuUs / Math.max(1, sent)),
      duplicates,
    };
    console.log(JSON.stringify(result));
  });
} finally {
  await sink.close();
}

/** The reference's client: raw pooled nodemailer to the sink, one connection per lane. */
function rawPool() {
  return nodemailer.createTransport({ host: '127.0.0.1', port: Number(new URL(sink.url).port), pool: true, maxConnections: CONCURRENCY, ignoreTLS: true });
}

/** The engine's transport as the reference's client, pooled like the engine's (ADR 026). */
function transportPool() {
  const transport = createSmtpTransport(sink.url, { pool: true, maxConnections: CONCURRENCY });
  return { sendMail: (mail: object) => transport.send(mail as NoticeMail), close: () => void transport.close?.() };
}

/** `count` messages through `raw`, two sends queued per pooled connection so none waits for its next message. */
async function sendAll(raw: { sendMail: (mail: object) => Promise<unknown> }, count: number, message: (i: number) => object): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY * 2 }, async () => {
      while (next < count) await raw.sendMail(message(next++));
    }),
  );
}

/** --beside-raw: the reference's sends, in this process, at the same time as the engine (no-op for an empty list). */
async function sendBeside(messages: NoticeMail[]): Promise<void> {
  if (messages.length === 0) return;
  const raw = rawPool();
  await sendAll(raw, messages.length, (i) => nodemailerMessage(messages[i]!));
  raw.close();
}

/** Forks the engine processes of --processes N, each with its share of the lanes, and waits until they are connected. */
async function startEngineProcesses(count: number, databaseUrl: string, sinkUrl: string): Promise<{ run: () => Promise<number>; close: () => Promise<void> }[]> {
  return Promise.all(
    Array.from({ length: count }, (_, index) => {
      const lanes = Math.floor(LANES / count) + (index < LANES % count ? 1 : 0);
      const config: EngineProcessConfig = { databaseUrl, sinkUrl, lanes, batchSize: BATCH_SIZE, perBatch: PER_BATCH, concurrency: CONCURRENCY, index };
      const child = fork(fileURLToPath(new URL('./send-engine-process.ts', import.meta.url)), {
        // BENCH_ENGINE_NODE_ARGS: extra node flags for the engine processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
        execArgv: ['--import', 'tsx', ...(process.env.BENCH_ENGINE_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
        env: { ...process.env, BENCH_ENGINE_PROCESS: JSON.stringify(config) },
      });
      const next = () =>
        new Promise<EngineProcessReport>((resolve, reject) => {
          child.once('message', (m) => resolve(m as EngineProcessReport));
          child.once('exit', (code) => reject(new Error(`bench: engine process ${index} exited with ${code}`)));
        });
      return next().then((ready) => {
        if (ready.type !== 'ready') throw new Error(`bench: engine process ${index} did not start`);
        return {
          run: async () => {
            const done = next();
            child.send('go');
            const report = await done;
            if (report.type !== 'done') child.kill();
            if (report.type !== 'done') throw new Error(`bench: engine process ${index}: ${report.type === 'error' ? report.message : 'no result'}`);
            return report.cpuUs;
          },
          close: async () => {
            const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
            child.send('close');
            await exited;
          },
        };
      });
    }),
  );
}
