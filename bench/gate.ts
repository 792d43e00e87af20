// `npm run bench:gate -- [--json] [--small 10000] [--large 1000000] [--samples 3000]`
// The cost of one gate decision as the worker pays it (load the facts inside a transaction, under the consent lock,
// then decide) with a small and then a large number of patients in the same database. The gate's queries are index
// lookups, so the cost should barely grow: `growth` = large / small. The last line printed is one JSON object.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Delivery } from '../db/schema/index';
import { loadFacts } from '../server/engine/facts';
import { decide } from '../server/engine/gate';
import { createBenchClinic, progress, withBenchDatabase } from './support';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    small: { type: 'string', default: '10000' },
    large: { type: 'string', default: '1000000' },
    samples: { type: 'string', default: '3000' },
  },
});
const SMALL = Number(values.small);
const LARGE = Number(values.large);
const SAMPLES = Number(values.samples);
const log = progress(values.json!);

await withBenchDatabase('gate', 4, async (handle) => {
  const { db, sql } = handle;
  const now = new Date();
  const { org, topic, text } = await createBenchClinic(handle, 'gate', 'Gate Clinic', now);

  /** Patients [from, to): a verified email each, 70% with an authorisation, and one sent marketing delivery each. */
  async function populate(from: number, to: number) {
    const step = 200_000;
    for (let a = from; a < to; a += step) {
      const b = Math.min(to, a + step);
      await sql`insert into patients (id, org_id, external_ref, display_name)
        select md5('p' || i)::uuid, ${org.id}, 'G-' || i, 'Patient ' || i from generate_series(${a}::int, ${b - 1}::int) i`;
      await sql`insert into contact_points (org_id, patient_id, kind, value, source, verified_at)
        select ${org.id}, md5('p' || i)::uuid, 'email', 'p' || i || '@gate.test', 'organisation', now() from generate_series(${a}::int, ${b - 1}::int) i`;
      await sql`insert into authorization_events (id, org_id, patient_id, topic_id, kind, text_id, text_hash, channels, expires_at, evidence, occurred_at)
        select md5('g' || i)::uuid, ${org.id}, md5('p' || i)::uuid, ${topic.id}, 'granted', ${text.id}, ${text.contentHash!}, '["email"]',
               now() + interval '1 year', '{"method":"code_email","verifiedAt":"x","ipAddress":"127.0.0.1","userAgent":null,"via":"portal"}', now()
        from generate_series(${a}::int, ${b - 1}::int) i where i % 10 < 7`;
      await sql`insert into consent_states (org_id, patient_id, topic_id, status, grant_event_id, text_id, channels, granted_at, expires_at, updated_at)
        select ${org.id}, md5('p' || i)::uuid, ${topic.id}, 'active', md5('g' || i)::uuid, ${text.id}, '["email"]', now(), now() + interval '1 year', now()
        from generate_series(${a}::int, ${b - 1}::int) i where i % 10 < 7`;
      await sql`insert into messages (id, org_id, category, topic_id, content, created_at)
        select md5('m' || i)::uuid, ${org.id}, 'marketing', ${topic.id}, '{"v":1,"kid":"x","wk":"x","iv":"x","ct":"x"}', now() - interval '3 days'
        from generate_series(${a}::int, ${b - 1}::int) i`;
      await sql`insert into deliveries (org_id, message_id, patient_id, channel, category, topic_id, status, due_at, created_at, updated_at, sent_at)
        select ${org.id}, md5('m' || i)::uuid, md5('p' || i)::uuid, 'email', 'marketing', ${
        topic.id
      }, 'sent', now() - interval '3 days', now() - interval '3 days', now(), now() - interval '3 days'
        from generate_series(${a}::int, ${b - 1}::int) i`;
    }
    await sql`analyze`;
  }

  async function measure(population: number): Promise<number> {
    const ids = Array.from({ length: SAMPLES }, () => Math.floor(Math.random() * population));
    const patientIds = (await sql<{ id: string }[]>`select md5('p' || i)::uuid as id from unnest(${ids}::int[]) i`).map((r) => r.id);
    const decideOne = async (patientId: string) => {
      const d: Delivery = {
        id: randomUUID(),
        orgId: org.id,
        messageId: randomUUID(),
        patientId,
        channel: 'email',
        category: 'marketing',
        topicId: topic.id,
        status: 'sending',
        dueAt: now,
        attempts: 0,
        leasedBy: 'bench',
        leaseUntil: null,
        decision: null,
        reason: null,
        basisEventId: null,
        basisTextHash: null,
        route: null,
        messageIdHeader: null,
        lastError: null,
        createdAt: now,
        updatedAt: now,
        sentAt: null,
        resendOf: null,
        resendNo: 0,
      };
      await db.transaction(async (tx) => {
        const { facts } = await loadFacts(tx, d, new Date());
        decide(
          {
            category: d.category,
            topicId: d.topicId,
            channel: d.channel,
            sendBy: null,
          },
          facts,
          new Date(),
        );
      });
    };
    for (const id of patientIds.slice(0, 200)) await decideOne(id); // warm caches and plans
    const start = performance.now();
    for (const id of patientIds) await decideOne(id);
    return ((performance.now() - start) * 1000) / patientIds.length;
  }

  await populate(0, SMALL);
  const small = await measure(SMALL);
  log(`gate: ${SMALL} patients: ${small.toFixed(0)} µs per decision`);
  log(`populating to ${LARGE} patients...`);
  const t = performance.now();
  await populate(SMALL, LARGE);
  log(`  (${((performance.now() - t) / 1000).toFixed(0)} s)`);
  const large = await measure(LARGE);
  log(`gate: ${LARGE} patients: ${large.toFixed(0)} µs per decision`);
  console.log(
    JSON.stringify({
      patients_small: SMALL,
      patients_large: LARGE,
      samples: SAMPLES,
      us_per_decision_small: Math.round(small),
      us_per_decision_large: Math.round(large),
      growth: Number((large / small).toFixed(3)),
    }),
  );
});
