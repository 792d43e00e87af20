// `npm test`: type check, build, vitest (unit + integration on real Postgres and SMTP), Playwright in Chromium.
// Stops at the first failing step and exits non-zero.
import { spawnSync } from 'node:child_process';

const steps = [
  // The app, and the service worker with the WebWorker lib (app/sw/tsconfig.json): `npm run typecheck`.
  ['type check', 'npm', ['run', '-s', 'typecheck']],
  // remix build, then the service worker and precompressed files (the package's build script).
  ['build', 'npm', ['run', 'build']],
  ['vitest', 'npx', ['vitest', 'run']],
  ['playwright', 'npx', ['playwright', 'test']],
];

const only = process.argv.slice(2);
for (const [name, command, args] of steps) {
  if (only.length > 0 && !only.includes(name)) continue;
  const started = Date.now();
  console.log(`\n▶ ${name}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`\n✖ ${name} failed after ${seconds} s (exit ${result.status ?? result.signal}).`);
    process.exit(result.status || 1);
  }
  console.log(`✔ ${name} (${seconds} s)`);
}
