// ADR 021: `npm run web` with WEB_PROCESSES=2 is a node:cluster primary and two workers, run for real: requests are
// served by more than one worker, a worker killed with SIGKILL is replaced, SIGTERM (or Ctrl-C to the whole process
// group) stops every worker cleanly, and the embedded database the primary started stops with it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isAlive, postmasterPid, waitForOutput, type Spawned } from '../support/processes';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-web-cluster-'));
fs.chmodSync(dataDir, 0o755);
const started: Spawned[] = [];

afterAll(() => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  const pid = postmasterPid(dataDir);
  if (pid && isAlive(pid)) process.kill(pid, 'SIGINT');
});

/** `npm run web` in its own process group (as a terminal runs it), logging every request line. */
function startWeb(env: Record<string, string>): Spawned {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/web.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      CAREPOST_DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      WEB_PROCESSES: '2',
      // The web process needs a mail transport; nothing is sent in these tests, so nothing listens there.
      SMTP_URL: 'smtp://127.0.0.1:9',
      LOG_LEVEL: 'info',
      ...env,
    } as unknown as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  child.stderr!.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const spawned = { child, output: () => output, exited };
  started.push(spawned);
  return spawned;
}

/** One request on a fresh connection (no keep-alive), so the primary hands each to the next worker. */
function get(port: number, pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

function logLines(output: string): { pid: number; msg: string; [k: string]: unknown }[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { pid: number; msg: string });
}

async function listening(spawned: Spawned) {
  await waitForOutput(spawned, /"msg":"web listening"/, 90_000);
  const line = logLines(spawned.output()).find((l) => l.msg === 'web listening')!;
  return { port: Number(new URL(line.url as string).port), workerPids: line.workerPids as number[] };
}

// Each test starts a primary, two workers (each loading the Remix build) and, in the second, Postgres.
describe('npm run web with WEB_PROCESSES=2 (ADR 021)', { timeout: 150_000 }, () => {
  it('serves requests from both workers, replaces one that is killed, and stops every worker cleanly on SIGTERM', async () => {
    const web = startWeb({ DATABASE_URL: inject('databaseUrl') });
    const { port, workerPids } = await listening(web);
    expect(workerPids).toHaveLength(2);
    expect(workerPids).not.toContain(web.child.pid);

    for (let i = 0; i < 8; i++) expect(await get(port, '/api/v1/openapi.json')).toBe(200);
    await expect
      .poll(() => new Set(logLines(web.output()).filter((l) => l.msg === 'request').map((l) => l.pid)).size, { timeout: 5_000 })
      .toBe(2);
    const servedBy = new Set(logLines(web.output()).filter((l) => l.msg === 'request').map((l) => l.pid));
    expect([...servedBy].sort()).toEqual([...workerPids].sort());
    // One primary, one listening line: the workers do not announce themselves (nor apply migrations, ADR 021).
    expect(logLines(web.output()).filter((l) => l.msg === 'web listening')).toHaveLength(1);

    // A worker that dies (kill -9) is replaced, and the port keeps answering.
    process.kill(workerPids[0]!, 'SIGKILL');
    await waitForOutput(web, /"msg":"web worker replaced"/, 60_000);
    const replacement = logLines(web.output()).find((l) => l.msg === 'web worker replaced')!.workerPid as number;
    expect(replacement).not.toBe(workerPids[0]);
    for (let i = 0; i < 4; i++) expect(await get(port, '/api/v1/openapi.json')).toBe(200);

    web.child.kill('SIGTERM');
    expect(await web.exited).toBe(0);
    for (const pid of [...workerPids, replacement]) expect(isAlive(pid)).toBe(false);
    expect(logLines(web.output()).filter((l) => l.msg === 'web worker died')).toHaveLength(1);
  });

  it('Ctrl-C to the process group stops the workers and the embedded database the primary owns', async () => {
    const web = startWeb({});
    const { port, workerPids } = await listening(web);
    expect(await get(port, '/readyz')).toBe(200);
    const pgPid = postmasterPid(dataDir)!;
    expect(isAlive(pgPid)).toBe(true);

    // A terminal's Ctrl-C: SIGINT to every process of the group, primary and workers at once.
    process.kill(-web.child.pid!, 'SIGINT');
    expect(await web.exited).toBe(0);
    for (const pid of workerPids) expect(isAlive(pid)).toBe(false);
    await expect.poll(() => isAlive(pgPid), { timeout: 15_000 }).toBe(false);
    expect(web.output()).not.toMatch(/web worker died|replaced/);
  });
});
