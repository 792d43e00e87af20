// Campaigns as an admin sees them: create, find (always by organisation and id, EN3), and the state machine.
// Every transition is one conditional UPDATE ... WHERE status IN (...): repeating it, or racing it from another
// request or process, changes nothing the second time (DL4). Recipients are made only by the worker, in the same
// transaction that moves a campaign from scheduled to running (server/campaigns/lane.ts).
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { campaignRecipients, campaigns, consentTopics, organisations, type Campaign, type CampaignStatus } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { WORK_CHANNEL } from '../delivery/worker-loop';
import { recordOutboundEvent } from '../events/outbound';
import { isUuid } from '../ids';
import type { CampaignDraft } from './form';

type Scope = { orgId: string; campaignId: string };

/** EN3: a campaign of this organisation, or nothing (another organisation's id is simply unknown). */
export async function getCampaign(db: DbOrTx, scope: Scope): Promise<Campaign | undefined> {
  if (!isUuid(scope.campaignId)) return undefined;
  const [row] = await db.select().from(campaigns).where(and(eq(campaigns.orgId, scope.orgId), eq(campaigns.id, scope.campaignId)));
  return row;
}

/** The organisation's topics a campaign may target: not retired. */
export async function campaignTopics(db: DbOrTx, orgId: string) {
  return db
    .select({ id: consentTopics.id, key: consentTopics.key, name: consentTopics.name })
    .from(consentTopics)
    .where(and(eq(consentTopics.orgId, orgId), isNull(consentTopics.retiredAt)))
    .orderBy(consentTopics.name);
}

export async function topicNames(db: DbOrTx, orgId: string, topicIds: string[]): Promise<Map<string, string>> {
  if (topicIds.length === 0) return new Map();
  const rows = await db
    .select({ id: consentTopics.id, name: consentTopics.name })
    .from(consentTopics)
    .where(and(eq(consentTopics.orgId, orgId), inArray(consentTopics.id, topicIds)));
  return new Map(rows.map((r) => [r.id, r.name]));
}

export async function createCampaign(db: Database, input: { orgId: string; adminId: string; draft: CampaignDraft; now: Date }): Promise<Campaign> {
  const { orgId, adminId, draft, now } = input;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(campaigns)
      .values({ orgId, createdBy: adminId, ...draft, status: 'draft', createdAt: now, updatedAt: now })
      .returning();
    await appendAudit(tx, orgId, {
      actorType: 'admin',
      actorId: adminId,
      action: 'campaign.created',
      subjectType: 'campaign',
      subjectId: row!.id,
      details: { kind: draft.kind, topicIds: draft.topicIds, channels: draft.channels, throttlePerMinute: draft.throttlePerMinute, scheduledAt: draft.scheduledAt?.toISOString() ?? null },
    });
    return row!;
  });
}

/** The organisation's campaigns, newest first, with their progress (one grouped query for the page). */
export async function listCampaigns(db: DbOrTx, orgId: string, limit = 50) {
  const rows = await db.select().from(campaigns).where(eq(campaigns.orgId, orgId)).orderBy(desc(campaigns.createdAt)).limit(limit);
  if (rows.length === 0) return [];
  const done = await db.execute<{ campaign_id: string; done: string }>(sql`
    select r.campaign_id, count(*) filter (where r.state = 'cancelled' or d.status in ('sent', 'blocked', 'failed')) as done
      from campaign_recipients r
      left join deliveries d on d.id = r.delivery_id
     where r.org_id = ${orgId} and r.campaign_id = any(${`{${rows.map((r) => r.id).join(',')}}`}::uuid[])
     group by r.campaign_id`);
  const doneBy = new Map(done.map((d) => [d.campaign_id, Number(d.done)]));
  return rows.map((c) => ({ campaign: c, done: doneBy.get(c.id) ?? 0 }));
}

export type TransitionIntent = 'launch' | 'pause' | 'resume' | 'cancel';
export type TransitionResult = { status: 'changed' | 'unchanged'; campaign: Campaign } | { status: 'not_found' };

/**
 * Launch, pause, resume or cancel. Each is a conditional UPDATE; when it matches no row (already done, or not
 * allowed from the current status) nothing changes and the caller shows the campaign as it is.
 */
export async function transitionCampaign(db: Database, input: Scope & { intent: TransitionIntent; adminId: string; now: Date }): Promise<TransitionResult> {
  const { orgId, campaignId, intent, adminId, now } = input;
  if (!isUuid(campaignId)) return { status: 'not_found' };
  const mine = and(eq(campaigns.orgId, orgId), eq(campaigns.id, campaignId));
  return db.transaction(async (tx) => {
    let changed: Campaign | undefined;
    let details: Record<string, unknown> = {};
    switch (intent) {
      case 'launch':
        // DL4: only a draft launches; the worker starts it at scheduled_at (or at once) and targets it once.
        [changed] = await tx
          .update(campaigns)
          .set({ status: 'scheduled', launchedAt: now, launchedBy: adminId, updatedAt: now })
          .where(and(mine, eq(campaigns.status, 'draft')))
          .returning();
        if (changed) await tx.execute(sql`select pg_notify(${WORK_CHANNEL}, '')`);
        break;
      case 'pause':
        [changed] = await tx
          .update(campaigns)
          .set({ status: 'paused', pausedFrom: sql`${campaigns.status}`, updatedAt: now })
          .where(and(mine, inArray(campaigns.status, ['scheduled', 'running'])))
          .returning();
        break;
      case 'resume':
        [changed] = await tx
          .update(campaigns)
          .set({ status: sql`${campaigns.pausedFrom}`, pausedFrom: null, updatedAt: now })
          .where(and(mine, eq(campaigns.status, 'paused')))
          .returning();
        if (changed) await tx.execute(sql`select pg_notify(${WORK_CHANNEL}, '')`);
        break;
      case 'cancel': {
        [changed] = await tx
          .update(campaigns)
          .set({ status: 'cancelled', pausedFrom: null, cancelledAt: now, updatedAt: now })
          .where(and(mine, inArray(campaigns.status, ['draft', 'scheduled', 'running', 'paused'])))
          .returning();
        if (!changed) break;
        // For good: nothing more is enqueued, and requests still waiting in the engine (a quiet-hours deferral, say)
        // are withdrawn, so the gate blocks them (`message_withdrawn`) instead of sending them later.
        const cancelled = await tx
          .update(campaignRecipients)
          .set({ state: 'cancelled' })
          .where(and(eq(campaignRecipients.orgId, orgId), eq(campaignRecipients.campaignId, campaignId), eq(campaignRecipients.state, 'pending')))
          .returning({ id: campaignRecipients.id });
        const withdrawn = await tx.execute<{ id: string }>(sql`
          update messages m set retracted_at = ${now.toISOString()}::timestamptz
           where m.org_id = ${orgId} and m.retracted_at is null
             and m.id in (select r.message_id
                            from campaign_recipients r
                            join deliveries d on d.id = r.delivery_id
                           where r.org_id = ${orgId} and r.campaign_id = ${campaignId} and d.status in ('queued', 'sending'))
          returning m.id`);
        for (const m of withdrawn) {
          await appendAudit(tx, orgId, { actorType: 'admin', actorId: adminId, action: 'message.retracted', subjectType: 'message', subjectId: m.id, details: { campaignId } });
          await recordOutboundEvent(tx, orgId, { type: 'message.retracted', patientId: null, payload: { messageId: m.id }, occurredAt: now });
        }
        details = { cancelledRecipients: cancelled.length, withdrawnMessages: withdrawn.length };
        break;
      }
    }
    if (!changed) {
      const [current] = await tx.select().from(campaigns).where(mine);
      return current ? ({ status: 'unchanged', campaign: current } as const) : ({ status: 'not_found' } as const);
    }
    await appendAudit(tx, orgId, {
      actorType: 'admin',
      actorId: adminId,
      action: `campaign.${intent === 'launch' ? 'launched' : intent === 'pause' ? 'paused' : intent === 'resume' ? 'resumed' : 'cancelled'}`,
      subjectType: 'campaign',
      subjectId: campaignId,
      details: { status: changed.status, ...details },
    });
    return { status: 'changed', campaign: changed } as const;
  });
}

/** Which buttons make sense for a status (the server accepts any and ignores what does not apply). */
export function allowedIntents(status: CampaignStatus): TransitionIntent[] {
  switch (status) {
    case 'draft':
      return ['launch', 'cancel'];
    case 'scheduled':
    case 'running':
      return ['pause', 'cancel'];
    case 'paused':
      return ['resume', 'cancel'];
    default:
      return [];
  }
}

/** The organisation's time zone: schedules are typed and shown in it. */
export async function orgTimeZone(db: DbOrTx, orgId: string): Promise<string> {
  const [row] = await db.select({ timeZone: organisations.timeZone }).from(organisations).where(eq(organisations.id, orgId));
  return row?.timeZone ?? 'UTC';
}
