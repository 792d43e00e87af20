// The compliance dashboard's figures (issue 8, part 7). Aggregates only: every query returns counts grouped by a code,
// a topic or a week, never a patient, a contact point or a message, so the page cannot leak one (the marketer role
// sees it too). Each figure is one SQL statement scoped by org_id.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { lastChainVerification, type LastVerification } from '../audit/search';

export const DASHBOARD_WEEKS = 12;

export type TopicAuthorisations = { topicId: string; name: string; retired: boolean; active: number };
export type WeekActivity = { weekStart: string; granted: number; revoked: number; renewed: number; expired: number };
export type DecisionCount = { decision: 'allow' | 'block' | 'defer'; reason: string; count: number };
export type RouteCount = { route: string; count: number };
export type SuppressionCount = { reason: string; kind: string; count: number };
export type ChainStatus = { events: number; lastVerification: LastVerification };

export type ComplianceDashboard = {
  timeZone: string;
  since: Date;
  activeByTopic: TopicAuthorisations[];
  weeks: WeekActivity[];
  decisions: DecisionCount[];
  routes: RouteCount[];
  suppressions: SuppressionCount[];
  chain: ChainStatus;
};

type Rows<T> = T[];

/** Active authorisations (status active and not past expiry, AV4) per topic, including topics with none. */
export async function activeAuthorisationsByTopic(db: DbOrTx, orgId: string, now: Date): Promise<TopicAuthorisations[]> {
  const rows = (await db.execute(sql`
    select t.id as "topicId", t.name, t.retired_at is not null as retired,
           count(s.patient_id) filter (where s.status = 'active' and s.expires_at > ${now.toISOString()}::timestamptz) ::int as active
      from consent_topics t
      left join consent_states s on s.org_id = t.org_id and s.topic_id = t.id
     where t.org_id = ${orgId}
     group by t.id, t.name, t.retired_at
     order by t.name, t.id`)) as unknown as Rows<TopicAuthorisations>;
  return rows.map((r) => ({ ...r, active: Number(r.active) }));
}

/**
 * Grants, revocations, renewals and expiries per week for the last `weeks` weeks, weeks starting on Monday in the
 * organisation's time zone; empty weeks are zeros, not gaps.
 */
export async function authorisationActivityByWeek(db: DbOrTx, orgId: string, timeZone: string, now: Date, weeks = DASHBOARD_WEEKS): Promise<WeekActivity[]> {
  const rows = (await db.execute(sql`
    with bounds as (
      select date_trunc('week', ${now.toISOString()}::timestamptz at time zone ${timeZone}::text) as this_week
    ), series as (
      select generate_series(b.this_week - make_interval(weeks => ${weeks - 1}::int), b.this_week, interval '1 week') as week_start from bounds b
    ), counted as (
      select date_trunc('week', e.occurred_at at time zone ${timeZone}::text) as week_start,
             count(*) filter (where e.kind = 'granted')::int as granted,
             count(*) filter (where e.kind = 'revoked')::int as revoked,
             count(*) filter (where e.kind = 'renewed')::int as renewed,
             count(*) filter (where e.kind = 'expired')::int as expired
        from authorization_events e, bounds b
       where e.org_id = ${orgId}
         and e.occurred_at >= ((b.this_week - make_interval(weeks => ${weeks - 1}::int)) at time zone ${timeZone}::text)
         and e.occurred_at <= ${now.toISOString()}::timestamptz
       group by 1
    )
    select to_char(s.week_start, 'YYYY-MM-DD') as "weekStart",
           coalesce(c.granted, 0) as granted, coalesce(c.revoked, 0) as revoked,
           coalesce(c.renewed, 0) as renewed, coalesce(c.expired, 0) as expired
      from series s left join counted c on c.week_start = s.week_start
     order by s.week_start`)) as unknown as Rows<WeekActivity>;
  return rows.map((r) => ({ weekStart: r.weekStart, granted: Number(r.granted), revoked: Number(r.revoked), renewed: Number(r.renewed), expired: Number(r.expired) }));
}

/** Deliveries created since `since`, by their latest gate decision and its stable reason code. */
export async function gateDecisionsByReason(db: DbOrTx, orgId: string, since: Date): Promise<DecisionCount[]> {
  const rows = (await db.execute(sql`
    select d.decision, coalesce(d.reason, 'unknown') as reason, count(*)::int as count
      from deliveries d
     where d.org_id = ${orgId} and d.created_at >= ${since.toISOString()}::timestamptz and d.decision is not null
     group by d.decision, d.reason
     order by count(*) desc, d.decision, d.reason`)) as unknown as Rows<DecisionCount>;
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}

/** Sent deliveries since `since` by route: PGP, TLS, a portal notice (email, SMS, push) or the portal itself. */
export async function routeMix(db: DbOrTx, orgId: string, since: Date): Promise<RouteCount[]> {
  const rows = (await db.execute(sql`
    select coalesce(d.route, 'unknown') as route, count(*)::int as count
      from deliveries d
     where d.org_id = ${orgId} and d.status = 'sent' and d.created_at >= ${since.toISOString()}::timestamptz
     group by d.route
     order by count(*) desc, d.route`)) as unknown as Rows<RouteCount>;
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}

/** Suppressed addresses and numbers by reason and kind: counts only, never a value. */
export async function suppressionCounts(db: DbOrTx, orgId: string): Promise<SuppressionCount[]> {
  const rows = (await db.execute(sql`
    select s.reason, s.kind, count(*)::int as count
      from suppressions s
     where s.org_id = ${orgId}
     group by s.reason, s.kind
     order by count(*) desc, s.reason, s.kind`)) as unknown as Rows<SuppressionCount>;
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}

export async function chainStatus(db: DbOrTx, orgId: string): Promise<ChainStatus> {
  const rows = (await db.execute(sql`select coalesce((select h.last_seq from audit_heads h where h.org_id = ${orgId}), 0)::bigint as events`)) as unknown as Rows<{
    events: string | number;
  }>;
  return { events: Number(rows[0]?.events ?? 0), lastVerification: await lastChainVerification(db, orgId) };
}

const WEEK_MS = 7 * 86_400_000;

export async function complianceDashboard(db: DbOrTx, orgId: string, now = new Date()): Promise<ComplianceDashboard> {
  const tzRows = (await db.execute(sql`select o.time_zone as "timeZone" from organisations o where o.id = ${orgId}`)) as unknown as Rows<{ timeZone: string }>;
  const timeZone = tzRows[0]?.timeZone ?? 'UTC';
  const since = new Date(now.getTime() - DASHBOARD_WEEKS * WEEK_MS);
  const [activeByTopic, weeks, decisions, routes, suppressions, chain] = await Promise.all([
    activeAuthorisationsByTopic(db, orgId, now),
    authorisationActivityByWeek(db, orgId, timeZone, now),
    gateDecisionsByReason(db, orgId, since),
    routeMix(db, orgId, since),
    suppressionCounts(db, orgId),
    chainStatus(db, orgId),
  ]);
  return { timeZone, since, activeByTopic, weeks, decisions, routes, suppressions, chain };
}
