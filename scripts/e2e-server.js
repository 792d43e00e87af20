// Starts the `npm start` stack for Playwright on a fresh data folder (CAREPOST_DATA_DIR), so every run
// begins from an empty database and an empty dev mailbox.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const dataDir = process.env.CAREPOST_DATA_DIR;
if (!dataDir || !dataDir.includes('carepost-e2e')) {
  console.error('e2e-server: CAREPOST_DATA_DIR must be the e2e throwaway folder');
  process.exit(1);
}
// A previous run that was killed may have left its cluster running on this folder: dev.ts stops it by its
// postmaster.pid, so only the rest of the folder is cleared here.
for (const entry of fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : []) {
  if (entry !== 'pg' && entry !== 'pg-credentials.json') fs.rmSync(`${dataDir}/${entry}`, { recursive: true, force: true });
}
fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
fs.chmodSync(dataDir, 0o755);

const child = spawn(process.execPath, ['--import', 'tsx', 'server/dev.ts'], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
