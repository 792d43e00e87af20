// `npm run bench:campaign -- [--json] [--authorisations 100000]`
// A renewal campaign over AUTHORISATIONS authorisations in a throwaway embedded Postgres: the targeting INSERT ...
// SELECT (as the worker runs it when a campaign starts) and the enqueue lane (enqueueMessage in batches of 500) until
// every recipient is a delivery. In the same run, the references: a plain INSERT ... SELECT of the same number of
// rows into a table shaped like campaign_recipients (same indexes, no targeting logic), and plain multi-row INSERTs of
// the same number of delivery rows (no checks, no audit). Figures are also given as ratios, since the machine is shared.
// The last line printed is one JSON object.
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { admins, campaigns, deliveries, messages } from '../db/schema/index';
import { transitionCampaign } from '../server/campaigns/campaigns';
import { enqueueBatch, startDueCampaigns } from '../server/campaigns/lane';
import { MESSAGE_CONTENT } from '../server/engine/enqueue';
import { kekRing, sealJson } from '../server/messages/vault';
import { createBenchClinic, progress, withBenchDatabase } from './support';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    authorisations: { type: 'string', default: '100000' },
  },
});
const AUTHORISATIONS = Number(values.authorisations);
const log = progress(values.json!);
const DAY_MS = 86_400_000;

await withBenchDatabase('campaign', 4, async (handle) => {
  const db = handle.db;
  const vault = kekRing(Buffer.alloc(32, 1));
  const now = new Date();
  const { org, topic, text } = await createBenchClinic(handle, 'bench', 'Bench Clinic', now);
  const [admin] = await db.insert(admins).values({ orgId: org.id, role: 'owner', email: 'owner@bench.test', name: 'Bench Owner' }).returning();

  // AUTHORISATIONS patients, each with a verified email and one authorisation for the topic: 5% revoked, the rest
  // active and ending within the next 30 days, so 95% are targeted.
  const seedStart = performance.now();
  const evidence = JSON.stringify({ method: 'code_email', verifiedAt: now.toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal', signatureName: 'Bench' });
  await handle.sql.begin(async (tx) => {
    await tx`insert into patients (org_id, external_ref, display_name)
             select ${org.id}, 'B-' || g, 'Patient ' || g from generate_series(1, ${AUTHORISATIONS}) as g`;
    await tx`insert into contact_points (org_id, patient_id, kind, value, source, verified_at)
             select org_id, id, 'email', lower(external_ref) || '@bench.test', 'organisation', now() from patients where org_id = ${org.id}`;
    await tx`insert into authorization_events (org_id, patient_id, topic_id, kind, text_id, text_hash, channels, expires_at, evidence, occurred_at)
             select org_id, id, ${topic.id}, 'granted', ${text.id}, ${text.contentHash!}, '["email"]'::jsonb,
                    ${now.toISOString()}::timestamptz + (1 + (hashtext(id::text) & 1023) % 29) * interval '1 day',
                    ${evidence}::jsonb, ${new Date(now.getTime() - 340 * DAY_MS).toISOString()}::timestamptz
               from patients where org_id = ${org.id}`;
    await tx`insert into consent_states (org_id, patient_id, topic_id, status, grant_event_id, text_id, channels, granted_at, expires_at, revoked_at, updated_at)
             select e.org_id, e.patient_id, e.topic_id,
                    case when row_number() over (order by e.id) % 20 = 0 then 'revoked' else 'active' end,
                    e.id, e.text_id, e.channels, e.occurred_at, e.expires_at, null, now()
               from authorization_events e where e.org_id = ${org.id}`;
  });
  await handle.sql`analyze`;
  log(`bench: ${AUTHORISATIONS} authorisations seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

  // The campaign, launched; the worker's start step runs the targeting INSERT ... SELECT.
  const [campaign] = await db
    .insert(campaigns)
    .values({
      orgId: org.id,
      name: 'Bench renewals',
      kind: 'renewal',
      topicIds: [topic.id],
      expiringWithinDays: 30,
      channels: ['email'],
      throttlePerMinute: 100_000,
      createdBy: admin!.id,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  await transitionCampaign(db, { orgId: org.id, campaignId: campaign!.id, intent: 'launch', adminId: admin!.id, now });
  const targetStart = performance.now();
  await startDueCampaigns({ db, vault }, new Date());
  const targetMs = performance.now() - targetStart;
  const [{ targeted }] = (await handle.sql`select count(*)::int as targeted from campaign_recipients where campaign_id = ${campaign!.id}`) as unknown as [{ targeted: number }];
  log(`targeting: ${targeted} recipients in ${targetMs.toFixed(0)} ms`);

  // Reference: the same number of rows, INSERT ... SELECT into a table with the same columns and indexes.
  await handle.sql`create table ref_recipients (like campaign_recipients including defaults including indexes)`;
  const refStart = performance.now();
  await handle.sql`insert into ref_recipients (org_id, campaign_id, patient_id, topic_id, channel, grant_event_id, expires_at, created_at)
                   select org_id, ${randomUUID()}, patient_id, topic_id, 'email', grant_event_id, expires_at, now()
                     from consent_states where org_id = ${org.id} limit ${targeted}`;
  const refTargetMs = performance.now() - refStart;
  log(`reference INSERT ... SELECT: ${targeted} rows in ${refTargetMs.toFixed(0)} ms`);

  // Enqueue: batches of 500 through enqueueMessage. The clock moves a minute per batch so the throttle never binds:
  // this measures the enqueue work itself.
  let clock = Date.now();
  const enqueueStart = performance.now();
  for (;;) {
    clock += 61_000;
    const n = await enqueueBatch({ db, vault }, { orgId: org.id, id: campaign!.id }, new Date(clock));
    if (n === 0) break;
  }
  const enqueueSeconds = (performance.now() - enqueueStart) / 1000;
  const [check] = (await handle.sql`
    select count(*)::int as deliveries, count(distinct (d.patient_id, d.message_id))::int as distinct_pairs,
           (select count(*)::int from campaign_recipients where campaign_id = ${campaign!.id} and state = 'pending') as pending
      from deliveries d where d.org_id = ${org.id}`) as unknown as [{ deliveries: number; distinct_pairs: number; pending: number }];
  const enqueuePerSecond = check.deliveries / enqueueSeconds;
  log(`enqueue: ${check.deliveries} deliveries in ${enqueueSeconds.toFixed(1)} s = ${enqueuePerSecond.toFixed(0)}/s (${check.pending} pending)`);

  // Reference: plain INSERTs of the same number of delivery rows, 500 per statement, with their messages.
  const sealed = sealJson(vault, { orgId: org.id, purpose: MESSAGE_CONTENT }, { subject: 'Renew', text: 'Please renew.' });
  const patientIds = (await handle.sql`select patient_id from campaign_recipients where campaign_id = ${campaign!.id}`).map((r) => r.patient_id as string);
  const refEnqueueStart = performance.now();
  for (let i = 0; i < patientIds.length; i += 500) {
    await db.transaction(async (tx) => {
      const [m] = await tx.insert(messages).values({ orgId: org.id, category: 'marketing', topicId: topic.id, content: sealed, createdAt: now }).returning({ id: messages.id });
      await tx.insert(deliveries).values(
        patientIds.slice(i, i + 500).map((patientId) => ({ orgId: org.id, messageId: m!.id, patientId, channel: 'email' as const, category: 'marketing' as const, topicId: topic.id, dueAt: now, createdAt: now, updatedAt: now })),
      );
    });
  }
  const refEnqueuePerSecond = patientIds.length / ((performance.now() - refEnqueueStart) / 1000);
  log(`reference plain delivery INSERTs: ${refEnqueuePerSecond.toFixed(0)}/s`);

  const result = {
    authorisations: AUTHORISATIONS,
    targeted,
    target_ms: Math.round(targetMs),
    ref_insert_select_ms: Math.round(refTargetMs),
    ratio_target: Number((targetMs / refTargetMs).toFixed(2)),
    enqueued: check.deliveries,
    enqueue_per_s: Math.round(enqueuePerSecond),
    ref_insert_per_s: Math.round(refEnqueuePerSecond),
    ratio_enqueue: Number((enqueuePerSecond / refEnqueuePerSecond).toFixed(2)),
    duplicates: check.deliveries - check.distinct_pairs,
    pending: check.pending,
  };
  console.log(JSON.stringify(result));
});

