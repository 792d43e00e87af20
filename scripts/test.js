// `npm test`: type check, build, vitest (unit + integration on real Postgres and SMTP), Playwright in Chromium.
// Stops at the first failing step and exits non-zero. `npm test -- vitest playwright` runs only the steps named.
//
// The type check runs beside build and vitest (ADR 020): it uses one core for about half a minute, while vitest's
// one fork spends much of its time waiting on Postgres, SMTP and child processes. Its output goes to a file and is
// printed when it ends, so the two logs do not interleave; it is waited for before Playwright starts.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const typecheck = { name: 'type check', command: 'npm', args: ['run', '-s', 'typecheck'] };
const steps = [
  // remix build, then the service worker and precompressed files (the package's build script).
  { name: 'build', command: 'npm', args: ['run', 'build'] },
  { name: 'vitest', command: 'npx', args: ['vitest', 'run'] },
];
const playwright = { name: 'playwright', command: 'npx', args: ['playwright', 'test'] };

const only = process.argv.slice(2);
const wanted = (step) => only.length === 0 || only.includes(step.name);
const seconds = (started) => ((Date.now() - started) / 1000).toFixed(1);

let background = null;

function fail(name, started, status) {
  background?.kill();
  console.error(`\n✖ ${name} failed after ${seconds(started)} s (exit ${status}).`);
  process.exit(typeof status === 'number' && status !== 0 ? status : 1);
}

/** The type check of the app and of the service worker (app/sw/tsconfig.json), in the background. */
function startTypecheck() {
  const started = Date.now();
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-typecheck-')), 'tsc.log');
  const fd = fs.openSync(logFile, 'w');
  console.log(`\n▶ ${typecheck.name}: ${typecheck.command} ${typecheck.args.join(' ')} (beside the next steps)`);
  const child = spawn(typecheck.command, typecheck.args, { stdio: ['ignore', fd, fd], env: process.env });
  fs.closeSync(fd);
  background = child;
  const done = new Promise((resolve) => {
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => resolve(code ?? signal));
  });
  return async () => {
    const status = await done;
    background = null;
    const output = fs.readFileSync(logFile, 'utf8');
    fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
    if (output.trim()) console.log(`\n── ${typecheck.name} output ──\n${output}`);
    if (status !== 0) fail(typecheck.name, started, status);
    console.log(`✔ ${typecheck.name} (${seconds(started)} s)`);
  };
}

function run(step) {
  const started = Date.now();
  console.log(`\n▶ ${step.name}: ${step.command} ${step.args.join(' ')}`);
  const result = spawnSync(step.command, step.args, { stdio: 'inherit', env: process.env });
  if (result.status !== 0) fail(step.name, started, result.status ?? result.signal);
  console.log(`✔ ${step.name} (${seconds(started)} s)`);
}

const typecheckDone = wanted(typecheck) ? startTypecheck() : async () => {};
for (const step of steps) if (wanted(step)) run(step);
await typecheckDone();
if (wanted(playwright)) run(playwright);
