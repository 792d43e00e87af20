import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';

export type RateLimit = { name: string; limit: number; windowSeconds: number };
export type RateDecision = { allowed: true } | { allowed: false; limit: RateLimit; retryAfterSeconds: number };

/**
 * Counts one event against each limit (fixed windows in the database, shared by every web process) and says
 * whether all of them still allow it. Counting happens even when refused, so hammering does not help (EN2).
 */
export async function consumeRateLimits(db: DbOrTx, limits: { limit: RateLimit; key: string }[], now: Date): Promise<RateDecision> {
  let refused: { limit: RateLimit; retryAfterSeconds: number } | undefined;
  for (const { limit, key } of limits) {
    const { count, resetSeconds } = await countRateEvent(db, limit, key, now);
    if (count > limit.limit && !refused) refused = { limit, retryAfterSeconds: resetSeconds };
  }
  return refused ? { allowed: false, ...refused } : { allowed: true };
}

/** Counts one event in the limit's current window: the count so far (this one included) and seconds until it resets. */
export async function countRateEvent(db: DbOrTx, limit: Pick<RateLimit, 'name' | 'windowSeconds'>, key: string, now: Date): Promise<{ count: number; resetSeconds: number }> {
  const window = rateWindow(limit, now);
  const rows = await db.execute<{ count: number }>(sql`
    insert into rate_limit_counters (bucket, window_start, count) values (${`${limit.name}:${key}`}, ${window.start.toISOString()}::timestamptz, 1)
    on conflict (bucket, window_start) do update set count = rate_limit_counters.count + 1
    returning count`);
  return { count: Number(rows[0]?.count ?? 0), resetSeconds: window.resetSeconds };
}

/** The fixed window `now` falls in, and the seconds until it ends (what Retry-After and RateLimit headers say). */
export function rateWindow(limit: Pick<RateLimit, 'windowSeconds'>, now: Date): { start: Date; resetSeconds: number } {
  const windowMs = limit.windowSeconds * 1000;
  const start = new Date(Math.floor(now.getTime() / windowMs) * windowMs);
  return { start, resetSeconds: Math.max(1, Math.ceil((start.getTime() + windowMs - now.getTime()) / 1000)) };
}

/** Old windows are useless; the worker calls this now and then. */
export async function pruneRateLimits(db: DbOrTx, now: Date): Promise<void> {
  await db.execute(sql`delete from rate_limit_counters where window_start < ${new Date(now.getTime() - 2 * 86_400_000).toISOString()}::timestamptz`);
}
