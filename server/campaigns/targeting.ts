// Campaign targeting: one set-based query over the consent-state rows (ARCHITECTURE.md, "Scale": never a loop of
// queries). The same query counts for the preview, samples a few rows for a role allowed to see them, and is the
// SELECT of the one INSERT ... SELECT that makes the recipients when the campaign starts.
//
// Who is targeted (issue 8, parts 5 and 6):
// - an authorisation (consent_states row) for one of the campaign's topics, not retired, that is active now: never a
//   revoked one, never an expired one (AV4: the expiry instant is already expired);
// - which expires within N days, or was granted (signed, or last renewed) before the date; either matches;
// - reachable on at least one of the campaign's channels, taken in the admin's order: the channel must be covered by
//   the authorisation and kept by the patient's topic preference, and for email or SMS the patient's newest verified
//   contact point of that kind (the one the engine would use) must exist and not be suppressed. The portal needs no
//   contact point. A patient suppressed on every chosen channel, or with no usable contact point, is not targeted;
//   the preview counts them as "unreachable" so the admin sees how many.
// Everything else (quiet hours, frequency caps, a marketing pause or stop, a revocation after targeting) is the
// gate's job at hand-off, since it can change between targeting and sending.
import { sql, type SQL } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client';
import type { Campaign } from '../../db/schema/index';

const DAY_MS = 86_400_000;

export type Targeting = Pick<Campaign, 'orgId' | 'topicIds' | 'channels' | 'expiringWithinDays' | 'grantedBefore'>;

/** The candidates: every matching active authorisation, with the first usable channel (null when none). */
function candidates(t: Targeting, now: Date): SQL {
  const expiringBy = t.expiringWithinDays !== null ? new Date(now.getTime() + t.expiringWithinDays * DAY_MS) : null;
  const window = sql.join(
    [
      expiringBy ? sql`cs.expires_at <= ${expiringBy.toISOString()}::timestamptz` : null,
      t.grantedBefore ? sql`cs.granted_at < ${t.grantedBefore.toISOString()}::timestamptz` : null,
    ].filter((s): s is SQL => s !== null),
    sql` or `,
  );
  const topicIds = sql`${`{${t.topicIds.join(',')}}`}::uuid[]`;
  const channels = sql`${`{${t.channels.join(',')}}`}::text[]`;
  return sql`
    select cs.org_id, cs.patient_id, cs.topic_id, cs.grant_event_id, cs.expires_at,
      (select c.ch
         from unnest(${channels}) with ordinality as c(ch, ord)
        where jsonb_exists(cs.channels, c.ch)
          and (tp.channels is null or jsonb_exists(tp.channels, c.ch))
          and (c.ch = 'portal' or coalesce((
                select s.value is null
                  from contact_points cp
                  left join suppressions s on s.org_id = cp.org_id and s.kind = cp.kind and s.value = cp.value
                 where cp.org_id = cs.org_id and cp.patient_id = cs.patient_id and cp.kind = c.ch and cp.verified_at is not null
                 order by cp.verified_at desc
                 limit 1), false))
        order by c.ord
        limit 1) as channel
      from consent_states cs
      join consent_topics topic on topic.org_id = cs.org_id and topic.id = cs.topic_id and topic.retired_at is null
      left join topic_preferences tp on tp.org_id = cs.org_id and tp.patient_id = cs.patient_id and tp.topic_id = cs.topic_id
     where cs.org_id = ${t.orgId}
       and cs.topic_id = any(${topicIds})
       and cs.status = 'active'
       and cs.expires_at > ${now.toISOString()}::timestamptz
       and (${window})`;
}

export type TargetingCount = { reachable: number; unreachable: number };

/** The preview's figures: how many would be asked, and how many match but cannot be reached on the chosen channels. */
export async function countTargets(db: DbOrTx, t: Targeting, now: Date): Promise<TargetingCount> {
  const rows = await db.execute<{ reachable: string; unreachable: string }>(sql`
    select count(*) filter (where channel is not null) as reachable, count(*) filter (where channel is null) as unreachable
      from (${candidates(t, now)}) as x`);
  return { reachable: Number(rows[0]?.reachable ?? 0), unreachable: Number(rows[0]?.unreachable ?? 0) };
}

export type SampleRecipient = { displayName: string; topicName: string; channel: string; expiresAt: Date };

/** A few would-be recipients, by name: only for a role with the 'campaign_recipients' capability (the caller checks). */
export async function sampleTargets(db: DbOrTx, t: Targeting, now: Date, limit = 5): Promise<SampleRecipient[]> {
  const rows = await db.execute<{ display_name: string; topic_name: string; channel: string; expires_at: string | Date }>(sql`
    select p.display_name, topic.name as topic_name, x.channel, x.expires_at
      from (${candidates(t, now)}) as x
      join patients p on p.org_id = x.org_id and p.id = x.patient_id
      join consent_topics topic on topic.org_id = x.org_id and topic.id = x.topic_id
     where x.channel is not null
     order by x.expires_at, x.patient_id
     limit ${limit}`);
  return rows.map((r) => ({ displayName: r.display_name, topicName: r.topic_name, channel: r.channel, expiresAt: new Date(r.expires_at) }));
}

/**
 * Makes the recipients in one statement. ON CONFLICT DO NOTHING on (org, campaign, patient, topic): however often
 * this runs for a campaign, each patient and topic gets one row, so one request (DL4).
 */
export async function insertTargets(tx: Tx, campaignId: string, t: Targeting, now: Date): Promise<number> {
  const rows = await tx.execute<{ n: string }>(sql`
    with inserted as (
      insert into campaign_recipients (org_id, campaign_id, patient_id, topic_id, channel, grant_event_id, expires_at, created_at)
      select x.org_id, ${campaignId}::uuid, x.patient_id, x.topic_id, x.channel, x.grant_event_id, x.expires_at, ${now.toISOString()}::timestamptz
        from (${candidates(t, now)}) as x
       where x.channel is not null
      on conflict do nothing
      returning 1)
    select count(*) as n from inserted`);
  return Number(rows[0]?.n ?? 0);
}

/** After targeting: a few of the campaign's recipients by name (the 'campaign_recipients' capability; the caller checks). */
export async function sampleRecipients(db: DbOrTx, scope: { orgId: string; campaignId: string }, limit = 20): Promise<SampleRecipient[]> {
  const rows = await db.execute<{ display_name: string; topic_name: string; channel: string; expires_at: string | Date }>(sql`
    select p.display_name, topic.name as topic_name, r.channel, r.expires_at
      from campaign_recipients r
      join patients p on p.org_id = r.org_id and p.id = r.patient_id
      join consent_topics topic on topic.org_id = r.org_id and topic.id = r.topic_id
     where r.org_id = ${scope.orgId} and r.campaign_id = ${scope.campaignId}
     order by r.expires_at, r.id
     limit ${limit}`);
  return rows.map((r) => ({ displayName: r.display_name, topicName: r.topic_name, channel: r.channel, expiresAt: new Date(r.expires_at) }));
}
