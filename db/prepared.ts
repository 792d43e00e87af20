// Hot-path statements as named prepared statements. drizzle prepares a statement only when it is given a name, and
// `db.execute(sql)` never is, so Postgres parses and plans such a statement again on every call. For the few large
// statements run on every delivery and every API request (the gate's facts, the key check), that planning was most
// of their cost. postgres.js keeps one prepared statement per connection and query text; the text of these
// statements does not vary with their values, which are all parameters. After five runs Postgres may switch a
// prepared statement to a generic plan: measured both ways (bench:send, bench:api), generic plans cost the engine
// nothing and halve the preflight's Postgres CPU, so they are allowed (the default plan_cache_mode).
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { PostgresJsSession, PostgresJsTransaction } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import type { Database, DbOrTx, Tx } from './client';

const dialect = new PgDialect();

/** Runs `query` on the connection `db` uses (the pool, or the caller's transaction), prepared. */
export function executePrepared<T extends Record<string, unknown>>(db: DbOrTx, query: SQL): Promise<T[]> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  // drizzle keeps the postgres.js client (the pool's or the transaction's) on its session.
  const client = (db as unknown as { session: { client: postgres.Sql } }).session.client;
  return client.unsafe<T[]>(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
}

/**
 * A transaction whose BEGIN travels with its first statement instead of making a round trip of its own: postgres.js's
 * own `begin` (under drizzle's `transaction`) waits for BEGIN's answer before the first statement is even written.
 * For the send engine's batch and group-commit transactions (ADR 027), several a second, each round trip wakes a
 * Postgres backend. `fn` gets a real drizzle transaction on one reserved connection (no nested transactions: no
 * savepoints on it); it commits when `fn` resolves and rolls back when it throws.
 */
export async function pipelinedTransaction<T>(db: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  type Session = PostgresJsSession<postgres.Sql, Record<string, unknown>, never>;
  const session = (db as unknown as { session: Session }).session;
  const client = session.client;
  const reserved = await client.reserve();
  try {
    // Not awaited: written together with the first statement, which Postgres then runs inside the transaction. If
    // BEGIN failed, that statement fails too.
    const begin = reserved.unsafe('begin').execute();
    begin.catch(() => {});
    const internals = session as unknown as { dialect: PgDialect; schema: never; options: never };
    // drizzle types a transaction's session over postgres.js's TransactionSql; a reserved connection has all of it
    // that a transaction without savepoints uses.
    const txSession = new PostgresJsSession(reserved, internals.dialect, internals.schema, internals.options);
    type TxSession = ConstructorParameters<typeof PostgresJsTransaction>[1];
    const tx = new PostgresJsTransaction(internals.dialect, txSession as unknown as TxSession, internals.schema) as unknown as Tx;
    let result: T;
    try {
      result = await fn(tx);
      await begin;
    } catch (error) {
      await reserved.unsafe('rollback').catch(() => {});
      throw error;
    }
    await reserved.unsafe('commit');
    return result;
  } finally {
    reserved.release();
  }
}
