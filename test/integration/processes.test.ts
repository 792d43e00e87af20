// The acceptance path of `npm start`, run for real: embedded Postgres, mail catcher, web and worker in one
// process; Ctrl-C stops all of it; a restart reuses the data; a kill -9 is recovered from by the next start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { choosePort } from '../../db/postmaster';
import { isAlive, postmasterPid, spawnEntry, waitForOutput, type Spawned } from '../support/processes';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-start-'));
fs.chmodSync(dataDir, 0o755);
const started: Spawned[] = [];

afterAll(async () => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  const pid = postmasterPid(dataDir);
  if (pid && isAlive(pid)) process.kill(pid, 'SIGINT');
});

async function startStack(port: number) {
  const spawned = spawnEntry('server/dev.ts', [], { CAREPOST_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' });
  started.push(spawned);
  const [, seconds] = await waitForOutput(spawned, /Carepost is running \(ready in ([\d.]+) s\)/);
  return { spawned, seconds: Number(seconds) };
}

// Each test starts the whole stack (Postgres, migrations, seed, web, worker, mail catcher) in child processes: on two
// shared cores that can take far longer than the default per-test limit.
describe('npm start (server/dev.ts)', { timeout: 120_000 }, () => {
  it('brings everything up, prints the URLs, and stops everything, Postgres included, on Ctrl-C', async () => {
    const port = await choosePort(0);
    const { spawned } = await startStack(port);
    const out = spawned.output();
    expect(out).toContain(`http://localhost:${port}/o/riverside`);
    expect(out).toContain(`http://localhost:${port}/dev/mail`);
    expect(out).toContain('maria.garcia@example.com');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const landing = await fetch(`http://127.0.0.1:${port}/o/riverside`);
    expect(await landing.text()).toContain('Riverside Family Clinic');

    const pgPid = postmasterPid(dataDir)!;
    expect(isAlive(pgPid)).toBe(true);
    spawned.child.kill('SIGINT');
    await spawned.exited;
    await expect.poll(() => isAlive(pgPid), { timeout: 15_000 }).toBe(false);
  });

  it('a second start reuses the data: same demo, no duplicate rows', async () => {
    const port = await choosePort(0);
    // How fast is a benchmark's question (the README quotes the typical start time), not this test's.
    const { spawned } = await startStack(port);
    const res = await fetch(`http://127.0.0.1:${port}/o/riverside`);
    expect(res.status).toBe(200);
    spawned.child.kill('SIGTERM');
    await spawned.exited;
  });

  it('after kill -9 of the node process, the next start stops the orphaned Postgres and recovers', async () => {
    const port = await choosePort(0);
    const first = await startStack(port);
    const orphan = postmasterPid(dataDir)!;
    first.spawned.child.kill('SIGKILL');
    await first.spawned.exited;
    expect(isAlive(orphan)).toBe(true); // what a killed node leaves behind

    const second = await startStack(port);
    expect(isAlive(orphan)).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const pgPid = postmasterPid(dataDir)!;
    second.spawned.child.kill('SIGINT');
    await second.spawned.exited;
    await expect.poll(() => isAlive(pgPid), { timeout: 15_000 }).toBe(false);
  });

  it('refuses to start while another instance holds the port, without touching its database', async () => {
    const port = await choosePort(0);
    const { spawned } = await startStack(port);
    const pgPid = postmasterPid(dataDir)!;
    const intruder = spawnEntry('server/dev.ts', [], { CAREPOST_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' });
    started.push(intruder);
    expect(await intruder.exited).toBe(1);
    expect(intruder.output()).toMatch(/Port \d+ is in use/);
    expect(isAlive(pgPid)).toBe(true);
    spawned.child.kill('SIGINT');
    await spawned.exited;
  });
});

describe('production entry points', () => {
  it('the web process refuses to start without its secrets and names each one', async () => {
    const web = spawnEntry('server/web.ts', [], { NODE_ENV: 'production', PUBLIC_URL: 'https://portal.example.com' });
    expect(await web.exited).toBe(78);
    for (const name of ['DATABASE_URL', 'SMTP_URL', 'SESSION_SECRET', 'LINK_SIGNING_SECRET', 'VAULT_KEY', 'CODE_HMAC_SECRET']) {
      expect(web.output()).toContain(name);
    }
  });

  it('the worker runs with --concurrency against a shared database and stops cleanly', async () => {
    const worker = spawnEntry('server/worker.ts', ['--concurrency', '3'], {
      DATABASE_URL: inject('databaseUrl'),
      CAREPOST_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
    });
    started.push(worker);
    await waitForOutput(worker, /"concurrency":3.*worker started/);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('worker stopped');
  });

  it('the worker refuses a bad --concurrency with a clear message', async () => {
    const worker = spawnEntry('server/worker.ts', ['--concurrency', 'lots'], { DATABASE_URL: inject('databaseUrl'), CAREPOST_DATA_DIR: dataDir });
    expect(await worker.exited).not.toBe(0);
    expect(worker.output()).toContain('--concurrency must be a whole number from 1 to 64');
  });
});
