// Hot-path statements as named prepared statements. drizzle prepares a statement only when it is given a name, and
// `db.execute(sql)` never is, so Postgres parses and plans such a statement again on every call. For the few large
// statements run on every delivery and every API request (the gate's facts, the key check), that planning was most
// of their cost. postgres.js keeps one prepared statement per connection and query text; the text of these
// statements does not vary with their values, which are all parameters. After five runs Postgres may switch a
// prepared statement to a generic plan: measured both ways (bench:send, bench:api), generic plans cost the engine
// nothing and halve the preflight's Postgres CPU, so they are allowed (the default plan_cache_mode).
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type postgres from 'postgres';
import type { DbOrTx } from './client';

const dialect = new PgDialect();

/** Runs `query` on the connection `db` uses (the pool, or the caller's transaction), prepared. */
export function executePrepared<T extends Record<string, unknown>>(db: DbOrTx, query: SQL): Promise<T[]> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  // drizzle keeps the postgres.js client (the pool's or the transaction's) on its session.
  const client = (db as unknown as { session: { client: postgres.Sql } }).session.client;
  return client.unsafe<T[]>(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
}
