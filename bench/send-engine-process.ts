// One engine process of `npm run bench:send -- --processes N` (forked by bench/send.ts): the same engine lanes as the
// in-process run, against the bench's database and sink, started on the parent's signal. Reports its CPU time.
import { connect } from '../db/client';
import { createSmtpTransport } from '../server/delivery/transport';
import { benchEngineDeps, runEngineLanes } from './support';

export type EngineProcessConfig = { databaseUrl: string; sinkUrl: string; lanes: number; batchSize: number; perBatch: number; concurrency: number; index: number };
export type EngineProcessReport = { type: 'ready' } | { type: 'done'; cpuUs: number } | { type: 'error'; message: string };

const config = JSON.parse(process.env.BENCH_ENGINE_PROCESS ?? 'null') as EngineProcessConfig | null;
if (!config || !process.send) throw new Error('bench/send-engine-process.ts is forked by bench/send.ts (--processes)');
const send = (report: EngineProcessReport) => process.send!(report);

const handle = connect(config.databaseUrl, { max: config.lanes + 4 });
const mail = createSmtpTransport(config.sinkUrl, { pool: true, maxConnections: config.concurrency });
const deps = benchEngineDeps(handle.db, mail);
// Open the pool's connections before the clock starts, as the in-process run does.
await Promise.all(Array.from({ length: config.lanes + 4 }, () => handle.sql`select 1`));
process.once('message', async () => {
  try {
    const cpu0 = process.cpuUsage();
    await runEngineLanes(deps, config.lanes, `bench-p${config.index}`, { batchSize: config.batchSize, concurrency: config.perBatch });
    const cpu = process.cpuUsage(cpu0);
    send({ type: 'done', cpuUs: cpu.user + cpu.system });
  } catch (error) {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
  // The parent reads Postgres's CPU per backend first, so the connections stay open until it says so.
  process.once('message', async () => {
    await mail.close?.();
    await handle.close();
    process.disconnect();
  });
});
send({ type: 'ready' });
