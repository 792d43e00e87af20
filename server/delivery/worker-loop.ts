// The worker's loop: wake on NOTIFY (a hint only) or on the poll timer, run one pass, repeat until stopped.
// The engine issue gives it its work (claim, gate, route, hand off); until then a pass has nothing to do.
import type postgres from 'postgres';
import type { Logger } from '../logger';

export const WORK_CHANNEL = 'carepost_work';

export type WorkerPass = () => Promise<number>;
export type RunningWorker = { stop: () => Promise<void> };

export async function startWorkerLoop(options: {
  sql: postgres.Sql;
  logger: Logger;
  concurrency: number;
  pollIntervalMs?: number;
  pass: WorkerPass;
}): Promise<RunningWorker> {
  const { sql, logger, concurrency, pass } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;
  let stopping = false;
  const sleepers = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of sleepers) wake();
  };
  const listener = await sql.listen(WORK_CHANNEL, wakeAll);

  async function lane(index: number): Promise<void> {
    while (!stopping) {
      let handled = 0;
      try {
        handled = await pass();
      } catch (error) {
        logger.error({ lane: index, errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'worker pass failed');
      }
      if (handled > 0 || stopping) continue;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          sleepers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, pollIntervalMs);
        sleepers.add(wake);
      });
    }
  }

  const lanes = Array.from({ length: concurrency }, (_, i) => lane(i));
  logger.info({ concurrency, pollIntervalMs }, 'worker started');
  return {
    stop: async () => {
      stopping = true;
      wakeAll();
      await listener.unlisten();
      await Promise.all(lanes);
      logger.info('worker stopped');
    },
  };
}

export function parseConcurrency(argv: string[]): number {
  const index = argv.findIndex((a) => a === '--concurrency' || a.startsWith('--concurrency='));
  if (index === -1) return 1;
  const arg = argv[index]!;
  const raw = arg.includes('=') ? arg.split('=')[1] : argv[index + 1];
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 64) {
    throw new Error(`--concurrency must be a whole number from 1 to 64 (got ${raw ?? 'nothing'})`);
  }
  return value;
}
