import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index';

export type Database = PostgresJsDatabase<typeof schema>;
/** A transaction handle; server functions that write take one so callers choose the transaction (DL1). */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
export type DbOrTx = Database | Tx;

export type DbHandle = { db: Database; sql: postgres.Sql; close: () => Promise<void> };

export function connect(databaseUrl: string, options: { max?: number; applicationName?: string } = {}): DbHandle {
  const sql = postgres(databaseUrl, {
    max: options.max ?? 10,
    onnotice: () => {},
    // Prepared statements (db/prepared.ts) still get a plan for their actual values each time: a generic plan cannot
    // tell one patient's few deliveries from an organisation's millions, and chose scans that made the send engine
    // slower. Preparing still saves the parse; unprepared statements are planned per call anyway.
    connection: { application_name: options.applicationName ?? 'carepost', plan_cache_mode: 'force_custom_plan' },
  });
  const db = drizzle(sql, { schema, casing: 'snake_case' });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
