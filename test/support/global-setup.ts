// One throwaway embedded Postgres per test run, on a free port (or DATABASE_URL when set), migrated once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../../db/migrate';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** A URL for another database on the same server; `{db}` stands for its name. */
    databaseUrlTemplate: string;
  }
}

export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    await runMigrations(process.env.DATABASE_URL);
    const url = new URL(process.env.DATABASE_URL);
    project.provide('databaseUrl', process.env.DATABASE_URL);
    url.pathname = '/{db}';
    project.provide('databaseUrlTemplate', url.toString().replace('%7Bdb%7D', '{db}'));
    return;
  }
  const { startEmbeddedPostgres } = await import('../../db/embedded');
  // Under /tmp, not the work tree: the cluster runs as the postgres user when tests run as root.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-test-'));
  fs.chmodSync(dataDir, 0o755);
  const cluster = await startEmbeddedPostgres({ dataDir, preferredPort: 0, database: 'carepost_test', ephemeral: true });
  await runMigrations(cluster.url);
  project.provide('databaseUrl', cluster.url);
  project.provide('databaseUrlTemplate', cluster.urlFor('{db}'));
  return async () => {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
