// A campaign's live progress and results funnel: aggregate figures only (no patient appears), so every role that may
// see campaigns may see them. Two set-based queries; "renewed" is a join on the consent ledger, not a loop.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';

export type CampaignResults = {
  targeted: number;
  /** Not yet handed to the engine (waiting for the throttle, or for a paused campaign to resume). */
  waiting: number;
  /** In the engine, not yet decided: queued, being sent, or deferred by the gate (quiet hours, caps). */
  inEngine: number;
  deferred: number;
  sent: number;
  failed: number;
  blocked: number;
  /** Not asked: the campaign was cancelled first, or the topic was retired. */
  cancelled: number;
  /** Asked (sent), and the patient renewed or granted the topic after the request was made. */
  renewed: number;
  noResponse: number;
  blockedByReason: { reason: string; count: number }[];
  /** Decided (sent, blocked, failed) or not asked, out of targeted: what the progress bar shows. */
  done: number;
};

export async function campaignResults(db: DbOrTx, scope: { orgId: string; campaignId: string }): Promise<CampaignResults> {
  const { orgId, campaignId } = scope;
  const [totals] = await db.execute<Record<string, string>>(sql`
    select count(*) as targeted,
           count(*) filter (where r.state = 'pending') as waiting,
           count(*) filter (where r.state = 'cancelled') as cancelled,
           count(*) filter (where d.status in ('queued', 'sending')) as in_engine,
           count(*) filter (where d.status = 'queued' and d.decision = 'defer') as deferred,
           count(*) filter (where d.status = 'sent') as sent,
           count(*) filter (where d.status = 'failed') as failed,
           count(*) filter (where d.status = 'blocked') as blocked,
           count(*) filter (where d.status = 'sent' and exists (
             select 1 from authorization_events e
              where e.org_id = r.org_id and e.patient_id = r.patient_id and e.topic_id = r.topic_id
                and e.kind in ('renewed', 'granted') and e.occurred_at >= r.enqueued_at)) as renewed
      from campaign_recipients r
      left join deliveries d on d.id = r.delivery_id
     where r.org_id = ${orgId} and r.campaign_id = ${campaignId}`);
  const reasons = await db.execute<{ reason: string | null; n: string }>(sql`
    select d.reason, count(*) as n
      from campaign_recipients r
      join deliveries d on d.id = r.delivery_id
     where r.org_id = ${orgId} and r.campaign_id = ${campaignId} and d.status = 'blocked'
     group by d.reason
     order by count(*) desc, d.reason`);
  const n = (key: string) => Number(totals?.[key] ?? 0);
  const sent = n('sent');
  const renewed = n('renewed');
  return {
    targeted: n('targeted'),
    waiting: n('waiting'),
    inEngine: n('in_engine'),
    deferred: n('deferred'),
    sent,
    failed: n('failed'),
    blocked: n('blocked'),
    cancelled: n('cancelled'),
    renewed,
    noResponse: sent - renewed,
    blockedByReason: reasons.map((r) => ({ reason: r.reason ?? 'unknown', count: Number(r.n) })),
    done: sent + n('failed') + n('blocked') + n('cancelled'),
  };
}
