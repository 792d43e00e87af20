// Several web processes on one machine (ADR 021): node:cluster. The primary owns what must exist once (the embedded
// database, the migrations) and serves nothing; each worker is a whole web server listening on the shared port.
// One Node process at 500 API requests/s was ~70% busy and its tail was queueing for its one event loop (issue 7).
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../logger';

type FromWorker = { type: 'carepost:web-ready'; url: string; port: number; pid: number };
type ToWorker = { type: 'carepost:web-stop' };

/** A worker that crashes is replaced, but not in a loop: this many crashes within a minute stop the primary. */
const MAX_CRASHES_PER_MINUTE = 5;

export type WebWorkers = { url: string; port: number; pids: () => number[]; stop: (graceMs?: number) => Promise<void>; stopped: Promise<void> };

/**
 * In the primary: forks `count` workers (the current entry point again, with `env` added) and resolves once every
 * one listens. A worker that dies with an error or a signal is replaced; one that exits cleanly (it was told to
 * stop, or Ctrl-C reached it directly) is not. `stopped` settles when the set has ended on its own: every worker
 * exited cleanly, or crashes came too fast (rejected). `stop()` tells every worker to stop, waits for them (killing
 * one that takes longer than its grace plus five seconds), and resolves when all have exited.
 */
export async function forkWebWorkers(options: { count: number; env: Record<string, string>; logger: Logger }): Promise<WebWorkers> {
  const { count, env, logger } = options;
  const live = new Set<Worker>();
  const crashes: number[] = [];
  let stopping = false;
  let ended: { resolve: () => void; reject: (error: Error) => void };
  const stopped = new Promise<void>((resolve, reject) => (ended = { resolve, reject }));
  stopped.catch(() => {}); // a caller that never awaits it must not crash the primary

  const fork = () =>
    new Promise<FromWorker>((resolve, reject) => {
      const worker = cluster.fork(env);
      live.add(worker);
      let ready = false;
      worker.on('message', (message: FromWorker) => {
        if (message?.type !== 'carepost:web-ready') return;
        ready = true;
        resolve(message);
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
        if (!ready) return reject(new Error(`web worker ${worker.process.pid} exited (${signal ?? code}) before it listened`));
        if (stopping) return;
        if (code === 0 && signal === null) {
          logger.info({ workerPid: worker.process.pid }, 'web worker stopped');
          if (live.size === 0) ended.resolve();
          return;
        }
        const now = Date.now();
        crashes.push(now);
        while (crashes[0]! < now - 60_000) crashes.shift();
        logger.error({ workerPid: worker.process.pid, code, signal }, 'web worker died');
        if (crashes.length >= MAX_CRASHES_PER_MINUTE) return ended.reject(new Error(`${crashes.length} web workers died within a minute`));
        fork().then(
          (m) => logger.info({ workerPid: m.pid, replaces: worker.process.pid }, 'web worker replaced'),
          (error: Error) => ended.reject(error),
        );
      });
    });

  const stop = async (graceMs = 10_000) => {
    stopping = true;
    const exits = [...live].map((worker) => {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      if (worker.isConnected()) worker.send({ type: 'carepost:web-stop' } satisfies ToWorker);
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), graceMs + 5_000);
      return exited.finally(() => clearTimeout(timer));
    });
    await Promise.all(exits);
  };

  try {
    const ready = await Promise.all(Array.from({ length: count }, fork));
    return { url: ready[0]!.url, port: ready[0]!.port, pids: () => [...live].map((w) => w.process.pid!), stop, stopped };
  } catch (error) {
    await stop(1_000);
    throw error;
  }
}

/**
 * In a worker: starts the server, tells the primary it listens, and stops once (gracefully, then exit 0) on the
 * primary's word, on SIGINT/SIGTERM (Ctrl-C in a terminal reaches every process of the group), or when the primary
 * is gone. A second signal exits at once, as in a single process.
 */
export async function serveAsWebWorker(logger: Logger, start: () => Promise<{ url: string; port: number; close: (graceMs?: number) => Promise<void> }>): Promise<void> {
  const server = await start();
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    logger.debug({ why }, 'web worker stopping');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ errorName: (error as Error).name }, 'web worker shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('message', (message: ToWorker) => message?.type === 'carepost:web-stop' && stop('primary'));
  process.on('disconnect', () => stop('primary gone'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (stopping ? process.exit(130) : stop(signal)));
  process.send!({ type: 'carepost:web-ready', url: server.url, port: server.port, pid: process.pid } satisfies FromWorker);
}

export const isWebWorker = () => cluster.isWorker;
