// Where the database comes from: DATABASE_URL, or (outside production) the embedded cluster in <dataDir>/pg.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';

export type DatabaseSource = { url: string; embedded: boolean; stop: () => Promise<void> };

/**
 * Use DATABASE_URL; otherwise (outside production) the embedded cluster in <dataDir>/pg.
 * - `attach: false` (npm start, which owns the cluster): stop a cluster a killed process left behind, start afresh.
 * - `attach: true` (one-off commands, a second process): use the cluster `npm start` is running, or start one
 *   for this process's lifetime when none is running.
 */
export async function provideDatabase(
  config: Config,
  options: { attach: boolean; log?: (line: string) => void },
): Promise<DatabaseSource> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, stop: async () => {} };
  if (config.isProduction) throw new Error('DATABASE_URL is required in production');
  const running = options.attach ? runningEmbeddedUrl(config.dataDir) : undefined;
  if (running) return { url: running, embedded: true, stop: async () => {} };
  // Imported only here: the process that starts the cluster owns it and stops it (db/embedded.ts).
  const { startEmbeddedPostgres } = await import('../../db/embedded');
  const cluster = await startEmbeddedPostgres({ dataDir: config.dataDir, preferredPort: 54329, log: options.log });
  return { url: cluster.url, embedded: true, stop: cluster.stop };
}

/** For one-off commands (audit:verify, db:seed, db:migrate). */
export async function withDatabase<T>(config: Config, fn: (databaseUrl: string) => Promise<T>): Promise<T> {
  const source = await provideDatabase(config, { attach: true });
  try {
    return await fn(source.url);
  } finally {
    await source.stop();
  }
}

export function runningEmbeddedUrl(dataDir: string): string | undefined {
  const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
  const credentialsFile = path.join(dataDir, 'pg-credentials.json');
  if (!fs.existsSync(pidFile) || !fs.existsSync(credentialsFile)) return undefined;
  const lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  const { user, password } = JSON.parse(fs.readFileSync(credentialsFile, 'utf8')) as { user: string; password: string };
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/carepost`;
}
