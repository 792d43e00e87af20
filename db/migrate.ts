import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

export const migrationsFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

type Journal = { entries: { idx: number; when: number; tag: string }[] };

function readJournal(): Journal {
  return JSON.parse(fs.readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as Journal;
}

/** Applies the committed migrations on a separate one-connection client, as drizzle's migrator expects. */
export async function runMigrations(databaseUrl: string): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    // Two processes starting at once must not both apply the same migration.
    await sql`select pg_advisory_lock(hashtext('carepost.migrations'))`;
    await migrate(drizzle(sql), { migrationsFolder });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export type MigrationStatus = { expected: number; applied: number; upToDate: boolean };

/** For /readyz: every committed migration has been applied, and the newest one last. */
export async function migrationStatus(sql: postgres.Sql): Promise<MigrationStatus> {
  const entries = readJournal().entries;
  const expected = entries.length;
  const lastWhen = entries.at(-1)?.when ?? 0;
  const [table] = await sql<{ exists: boolean }[]>`select to_regclass('drizzle.__drizzle_migrations') is not null as exists`;
  if (!table?.exists) return { expected, applied: 0, upToDate: expected === 0 };
  const [row] = await sql<{ applied: number; last: string | null }[]>`
    select count(*)::int as applied, max(created_at)::text as last from drizzle.__drizzle_migrations`;
  const applied = row?.applied ?? 0;
  return { expected, applied, upToDate: applied >= expected && Number(row?.last ?? 0) >= lastWhen };
}
