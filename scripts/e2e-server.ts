// Starts the `npm start` stack for Playwright on a fresh data folder (CAREPOST_DATA_DIR): every run begins with an
// empty database (so rate-limit windows and test patients of an earlier run do not carry over) and an empty mailbox.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stopLeftoverPostmaster } from '../db/postmaster';

const dataDir = process.env.CAREPOST_DATA_DIR;
if (!dataDir || !dataDir.includes('carepost-e2e')) {
  console.error('e2e-server: CAREPOST_DATA_DIR must be the e2e throwaway folder');
  process.exit(1);
}
// A run that was killed may have left its cluster running on this folder.
await stopLeftoverPostmaster(path.join(dataDir, 'pg'));
fs.rmSync(dataDir, { recursive: true, force: true });
fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
fs.chmodSync(dataDir, 0o755);

const child = spawn(process.execPath, ['--import', 'tsx', 'server/dev.ts'], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
