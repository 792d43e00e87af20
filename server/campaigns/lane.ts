// The campaign lane of the worker: start due campaigns (target them once), turn pending recipients into deliveries
// through enqueueMessage in throttled batches, and complete campaigns with nothing left to do. Several workers may run
// it at once: each campaign row is taken FOR UPDATE SKIP LOCKED, so one worker at a time works on a campaign, and
// the recipients it claims are locked the same way (DL4: launching or running twice never sends twice; DL1: a
// recipient becomes 'enqueued' in the same transaction as its delivery, so nothing is lost or doubled by a crash).
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { campaignRecipients, campaigns, consentTopics, organisations, patients, type Campaign } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { enqueueMessage } from '../engine/enqueue';
import type { Logger } from '../logger';
import type { KekRing } from '../messages/vault';
import { campaignContent } from './notice';
import { insertTargets } from './targeting';
import { DEFAULT_LOCALE, toLocale } from '../i18n/locale';

export const THROTTLE_WINDOW_MS = 60_000;
/** At most this many recipients per transaction, whatever the throttle allows: keeps locks and transactions short. */
export const MAX_BATCH = 500;

export type CampaignLaneDeps = { db: Database; vault: KekRing; logger?: Logger; batchSize?: number; orgIds?: string[] };

/** One pass over every campaign with work; returns how much it did (0 lets the worker loop sleep until the next poll). */
export async function runCampaignPass(deps: CampaignLaneDeps, now = new Date()): Promise<number> {
  let handled = 0;
  handled += await startDueCampaigns(deps, now);
  handled += await enqueueDueRecipients(deps, now);
  await completeFinishedCampaigns(deps, now);
  return handled;
}

const orgFilter = (deps: CampaignLaneDeps) => (deps.orgIds ? inArray(campaigns.orgId, deps.orgIds) : undefined);

/**
 * Scheduled campaigns whose start has come: the targeting INSERT ... SELECT and the move to running, in one
 * transaction under the campaign's row lock. The unique key on recipients makes a second run add nothing anyway.
 */
export async function startDueCampaigns(deps: CampaignLaneDeps, now: Date): Promise<number> {
  let started = 0;
  for (;;) {
    const done = await deps.db.transaction(async (tx) => {
      const [c] = await tx
        .select()
        .from(campaigns)
        .where(and(eq(campaigns.status, 'scheduled'), sql`(${campaigns.scheduledAt} is null or ${campaigns.scheduledAt} <= ${now.toISOString()}::timestamptz)`, orgFilter(deps)))
        .orderBy(asc(campaigns.launchedAt))
        .limit(1)
        .for('update', { skipLocked: true });
      if (!c) return false;
      const targeted = await insertTargets(tx, c.id, c, now);
      const [total] = await tx.execute<{ n: string }>(sql`select count(*) as n from campaign_recipients where org_id = ${c.orgId} and campaign_id = ${c.id}`);
      const count = Number(total?.n ?? targeted);
      await tx
        .update(campaigns)
        .set({ status: 'running', targetedAt: now, targetedCount: count, updatedAt: now })
        .where(and(eq(campaigns.orgId, c.orgId), eq(campaigns.id, c.id), eq(campaigns.status, 'scheduled')));
      await appendAudit(tx, c.orgId, { actorType: 'system', action: 'campaign.started', subjectType: 'campaign', subjectId: c.id, details: { targeted: count } });
      deps.logger?.info({ campaignId: c.id, targeted: count }, 'campaign started');
      return true;
    });
    if (!done) return started;
    started += 1;
  }
}

/** Every running campaign gets one throttled batch per pass, so a busy campaign does not starve the others. */
export async function enqueueDueRecipients(deps: CampaignLaneDeps, now: Date): Promise<number> {
  const running = await deps.db
    .select({ id: campaigns.id, orgId: campaigns.orgId })
    .from(campaigns)
    .where(and(eq(campaigns.status, 'running'), orgFilter(deps)))
    .orderBy(asc(campaigns.launchedAt));
  let handled = 0;
  for (const c of running) handled += await enqueueBatch(deps, c, now);
  return handled;
}

/** One batch of one campaign: up to what the per-minute throttle still allows, in one transaction. */
export async function enqueueBatch(deps: CampaignLaneDeps, scope: { orgId: string; id: string }, now: Date): Promise<number> {
  return deps.db.transaction(async (tx) => {
    // Held to the end of the transaction: the throttle count below and the batch are one worker's at a time.
    const [c] = await tx
      .select()
      .from(campaigns)
      .where(and(eq(campaigns.orgId, scope.orgId), eq(campaigns.id, scope.id), eq(campaigns.status, 'running')))
      .for('update', { skipLocked: true });
    if (!c) return 0;
    const [recent] = await tx.execute<{ n: string }>(sql`
      select count(*) as n from campaign_recipients
       where org_id = ${c.orgId} and campaign_id = ${c.id} and enqueued_at > ${new Date(now.getTime() - THROTTLE_WINDOW_MS).toISOString()}::timestamptz`);
    const allowance = Math.min(c.throttlePerMinute - Number(recent?.n ?? 0), deps.batchSize ?? MAX_BATCH);
    if (allowance <= 0) return 0;
    const batch = await tx
      .select({ id: campaignRecipients.id, patientId: campaignRecipients.patientId, topicId: campaignRecipients.topicId, channel: campaignRecipients.channel })
      .from(campaignRecipients)
      .where(and(eq(campaignRecipients.orgId, c.orgId), eq(campaignRecipients.campaignId, c.id), eq(campaignRecipients.state, 'pending')))
      .orderBy(asc(campaignRecipients.id))
      .limit(allowance)
      .for('update', { skipLocked: true });
    if (batch.length === 0) return 0;
    await enqueueRequests(tx, deps.vault, c, batch, now);
    return batch.length;
  });
}

type Pending = { id: string; patientId: string; topicId: string; channel: 'email' | 'sms' | 'portal' };

/**
 * One message per topic in the batch (the same words for everyone; the personal renewal link is minted at hand-off),
 * with one delivery per recipient on the recipient's channel, through enqueueMessage: the engine's gate then applies
 * consent, channels, quiet hours and caps to each (DL3). Then the recipients are marked in one UPDATE.
 */
async function enqueueRequests(tx: Tx, vault: KekRing, c: Campaign, batch: Pending[], now: Date): Promise<void> {
  const [org] = await tx.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, c.orgId));
  const topicIds = [...new Set(batch.map((r) => r.topicId))];
  const topics = await tx
    .select({ id: consentTopics.id, key: consentTopics.key, name: consentTopics.name, retiredAt: consentTopics.retiredAt })
    .from(consentTopics)
    .where(and(eq(consentTopics.orgId, c.orgId), inArray(consentTopics.id, topicIds)));
  // The request is written in each recipient's language (issue 9): one message per topic and language.
  const localeRows = await tx
    .select({ id: patients.id, locale: patients.locale })
    .from(patients)
    .where(and(eq(patients.orgId, c.orgId), inArray(patients.id, [...new Set(batch.map((r) => r.patientId))])));
  const localeOf = new Map(localeRows.map((p) => [p.id, toLocale(p.locale) ?? DEFAULT_LOCALE]));
  for (const topic of topics) {
    const topicRows = batch.filter((r) => r.topicId === topic.id);
    if (topic.retiredAt) {
      // Retired since targeting: nothing to renew. Not asked; shown as cancelled.
      await tx.update(campaignRecipients).set({ state: 'cancelled' }).where(inArray(campaignRecipients.id, topicRows.map((r) => r.id)));
      continue;
    }
    for (const locale of new Set(topicRows.map((r) => localeOf.get(r.patientId) ?? DEFAULT_LOCALE))) {
    const rows = topicRows.filter((r) => (localeOf.get(r.patientId) ?? DEFAULT_LOCALE) === locale);
    const result = await enqueueMessage(tx, vault, {
      orgId: c.orgId,
      category: 'marketing',
      topicKey: topic.key,
      content: campaignContent(c.kind, org!, topic, locale),
      recipients: rows.map((r) => ({ patientId: r.patientId, channels: [r.channel] })),
      actor: c.launchedBy ? { type: 'admin', id: c.launchedBy } : { type: 'system' },
      now,
    });
    if (!result.ok) throw new Error(`campaign enqueue refused: ${Object.keys(result.fieldErrors).join(', ')}`);
    await tx.execute(sql`
      update campaign_recipients r
         set state = 'enqueued', message_id = d.message_id, delivery_id = d.id, enqueued_at = ${now.toISOString()}::timestamptz
        from deliveries d
       where r.org_id = ${c.orgId} and r.id = any(${`{${rows.map((x) => x.id).join(',')}}`}::uuid[])
         and d.org_id = r.org_id and d.message_id = ${result.messageId} and d.patient_id = r.patient_id and d.channel = r.channel`);
    }
  }
}

/**
 * Running campaigns with no pending recipient and no request still in the engine (queued, deferred or being sent)
 * are completed. A deferral (quiet hours, a frequency cap) keeps a campaign running until it is decided.
 */
export async function completeFinishedCampaigns(deps: CampaignLaneDeps, now: Date): Promise<number> {
  // Cheap first: running campaigns with no pending recipient (the partial index on pending rows).
  const candidates = await deps.db.execute<{ id: string; org_id: string }>(sql`
    select c.id, c.org_id from campaigns c
     where c.status = 'running'
       ${deps.orgIds ? sql`and c.org_id = any(${`{${deps.orgIds.join(',')}}`}::uuid[])` : sql``}
       and not exists (select 1 from campaign_recipients r where r.org_id = c.org_id and r.campaign_id = c.id and r.state = 'pending')`);
  let completed = 0;
  for (const c of candidates) {
    const done = await deps.db.transaction(async (tx) => {
      // From the engine's unfinished deliveries (a partial index) to their recipients, not the other way round.
      const waiting = await tx.execute(sql`
        select 1 from deliveries d join campaign_recipients r on r.org_id = d.org_id and r.delivery_id = d.id
         where d.status in ('queued', 'sending') and d.org_id = ${c.org_id} and r.campaign_id = ${c.id}
         limit 1`);
      if (waiting.length > 0) return false;
      const [row] = await tx
        .update(campaigns)
        .set({ status: 'completed', completedAt: now, updatedAt: now })
        .where(and(eq(campaigns.orgId, c.org_id), eq(campaigns.id, c.id), eq(campaigns.status, 'running')))
        .returning({ id: campaigns.id });
      if (!row) return false;
      await appendAudit(tx, c.org_id, { actorType: 'system', action: 'campaign.completed', subjectType: 'campaign', subjectId: c.id });
      return true;
    });
    if (done) completed += 1;
  }
  return completed;
}
