import { afterAll, describe, expect, it } from 'vitest';
import { startWorkerLoop, WORK_CHANNEL } from '../../server/delivery/worker-loop';
import { createLogger } from '../../server/logger';
import { testDatabase } from '../support/db';

const handle = testDatabase();
afterAll(() => handle.close());

describe('worker loop', () => {
  it('polls, wakes every lane on NOTIFY long before the poll interval, and stops cleanly', async () => {
    let passes = 0;
    const worker = await startWorkerLoop({
      sql: handle.sql,
      logger: createLogger({ level: 'silent' }),
      concurrency: 3,
      pollIntervalMs: 60_000,
      pass: async () => {
        passes += 1;
        return 0;
      },
    });
    await expect.poll(() => passes).toBe(3); // one pass per lane at start, then asleep for a minute
    await handle.sql.notify(WORK_CHANNEL, 'hint');
    await expect.poll(() => passes, { timeout: 5_000 }).toBe(6);
    await worker.stop();
    const after = passes;
    await handle.sql.notify(WORK_CHANNEL, 'hint');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(passes).toBe(after);
  });

  it('keeps going when a pass throws', async () => {
    let calls = 0;
    const worker = await startWorkerLoop({
      sql: handle.sql,
      logger: createLogger({ level: 'silent' }),
      concurrency: 1,
      pollIntervalMs: 20,
      pass: async () => {
        calls += 1;
        if (calls === 1) throw new Error('transient');
        return 0;
      },
    });
    await expect.poll(() => calls).toBeGreaterThan(2);
    await worker.stop();
  });
});
