// What the gate needs to know about a delivery (loadFacts), or about every delivery of a claimed batch
// (loadFactsForBatch, ADR 018), read inside the transaction that holds the consent locks. For marketing, the patient's
// consent-state row is read FOR SHARE and that lock is held until the hand-off is done: a revocation takes the row
// exclusively, so it waits for deliveries in flight and none is handed off after it commits (RV1, DL3).
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { AnyPgTable } from 'drizzle-orm/pg-core';
import type { DbOrTx, Tx } from '../../db/client';
import { executePrepared } from '../../db/prepared';
import {
  consentTopics,
  orgDkimKeys,
  patientPreferences,
  topicPreferences,
  type AuthorizationText,
  type CampaignKind,
  type ConsentChannel,
  type Delivery,
  type Message,
} from '../../db/schema/index';

type OrgDkimKey = typeof orgDkimKeys.$inferSelect;
import { defaultPatientPreferences, DEFAULT_TOPIC_PREFERENCE } from '../consent/preferences';
import { consentLockKey } from '../consent/ledger';
import { checkAuthorizationText } from '../consent/texts';
import type { GateFacts } from './gate';

const WEEK_MS = 7 * 86_400_000;

export type LoadedFacts = { facts: GateFacts; contactValue: string | null };

/** A row that Postgres sent as JSON (`to_jsonb`), back in the shape drizzle gives for the table: keys and value types. */
export function rowFromJson<T extends AnyPgTable>(table: T, json: Record<string, unknown> | null | undefined): T['$inferSelect'] | undefined {
  if (!json) return undefined;
  const row: Record<string, unknown> = {};
  for (const [key, column] of columnsOf(table)) {
    const value = json[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as T['$inferSelect'];
}

/** A table's columns as [property, column] pairs, listed once per table (every claimed and re-read row maps through them). */
const tableColumns = new WeakMap<AnyPgTable, [string, ReturnType<typeof getTableColumns<AnyPgTable>>[string]][]>();
function columnsOf(table: AnyPgTable) {
  let columns = tableColumns.get(table);
  if (!columns) {
    columns = Object.entries(getTableColumns(table));
    tableColumns.set(table, columns);
  }
  return columns;
}

const at = (value: unknown): Date | null => (value === null || value === undefined ? null : new Date(value as string));

type FactsRow = {
  state: { status: 'active' | 'revoked' | 'expired'; expires_at: string; channels: ConsentChannel[]; grant_event_id: string; text_hash: string; elements: unknown; text_id?: string } | null;
  topic: Record<string, unknown> | null;
  topic_pref: Record<string, unknown> | null;
  last_topic_sent_at: string | null;
  window: { n: number; oldest: string | null };
  contact: { value: string; verified_at: string | null; suppressed: string | null } | null;
  push_subscribed: boolean;
  prefs: {
    prefs: Record<string, unknown> | null;
    patient_zone: string | null;
    org_zone: string;
    quiet_start: number | null;
    quiet_end: number | null;
    weekly_cap: number | null;
    locale?: string | null;
  } | null;
};

/** Where the fact subqueries take one delivery's keys from: bound values (loadFacts) or a batch row's columns. */
type FactKeys = { orgId: SQL; patientId: SQL; topicId: SQL; marketing: SQL; channel: SQL; contactKind: SQL; state: SQL; topicWanted?: SQL };

/**
 * The gate's facts as scalar subqueries, one column each, shared by loadFacts, loadPreflightFacts and
 * loadFactsForBatch so all three read exactly the same facts. `state` is the caller's expression for the consent state, from its consent-state CTE (read FOR SHARE under lock).
 */
function factColumns(k: FactKeys, now: Date): SQL {
  const weekAgo = new Date(now.getTime() - WEEK_MS).toISOString();
  const mine = sql`d.org_id = ${k.orgId} and d.patient_id = ${k.patientId} and d.category = 'marketing' and d.status = 'sent'`;
  return sql`
      ${k.state} as state,
      (select to_jsonb(ct) from consent_topics ct where ${k.topicWanted ?? k.marketing} and ct.org_id = ${k.orgId} and ct.id = ${k.topicId}) as topic,
      (select to_jsonb(tp) from topic_preferences tp
        where ${k.marketing} and tp.org_id = ${k.orgId} and tp.patient_id = ${k.patientId} and tp.topic_id = ${k.topicId}) as topic_pref,
      (select max(d.sent_at) from deliveries d where ${k.marketing} and ${mine} and d.topic_id = ${k.topicId} and d.sent_at is not null) as last_topic_sent_at,
      (select json_build_object('n', count(*), 'oldest', min(d.sent_at)) from deliveries d
        where ${k.marketing} and ${mine} and d.sent_at > ${weekAgo}::timestamptz) as window,
      -- The newest verified point of that kind, and whether it is suppressed; an unverified one only tells the gate
      -- why it cannot be used.
      (select json_build_object('value', cp.value, 'verified_at', cp.verified_at, 'suppressed', sp.reason)
        from contact_points cp
        left join suppressions sp on sp.org_id = cp.org_id and sp.kind = cp.kind and sp.value = cp.value
        where cp.org_id = ${k.orgId} and cp.patient_id = ${k.patientId} and cp.kind = ${k.contactKind}
        order by cp.verified_at is null, cp.verified_at desc
        limit 1) as contact,
      (select json_build_object('prefs', to_jsonb(pp), 'patient_zone', p.time_zone, 'org_zone', o.time_zone,
          'quiet_start', o.default_quiet_start_minute, 'quiet_end', o.default_quiet_end_minute, 'weekly_cap', o.default_weekly_cap, 'locale', p.locale)
        from patients p
        join organisations o on o.id = p.org_id
        left join patient_preferences pp on pp.org_id = p.org_id and pp.patient_id = p.id
        where p.org_id = ${k.orgId} and p.id = ${k.patientId}) as prefs,
      -- Push: the patient opted in on at least one device that the push service has not since disowned.
      exists (select 1 from push_subscriptions ps
        where ${k.channel} = 'push' and ps.org_id = ${k.orgId} and ps.patient_id = ${k.patientId} and ps.disabled_at is null) as push_subscribed`;
}

/**
 * One delivery's consent state as the CTE `s` that factColumns' `state` reads, for loadFacts and loadPreflightFacts
 * (the batch has its own, keyed by delivery). FOR SHARE when the facts are for a hand-off (RV1, DL3).
 */
function stateCte(k: Pick<FactKeys, 'orgId' | 'patientId' | 'topicId' | 'marketing'>, lock: boolean): SQL {
  return sql`s as (
      select cs.status, cs.expires_at, cs.channels, cs.grant_event_id, ae.text_hash, t.elements
      from consent_states cs
      join authorization_events ae on ae.id = cs.grant_event_id
      join authorization_texts t on t.org_id = cs.org_id and t.id = cs.text_id
      where ${k.marketing} and cs.org_id = ${k.orgId} and cs.patient_id = ${k.patientId} and cs.topic_id = ${k.topicId}
      ${lock ? sql`for share of cs` : sql``}
    )`;
}

const STATE = sql`(select to_jsonb(s) from s)`;

/**
 * The facts the gate decides on, in one statement: every fact is a scalar subquery, so a decision costs one round trip
 * and one parse/plan/execute in Postgres instead of eight (issues 5 and 7: statements, not plans, were the cost).
 *
 * The engine reads them inside its hand-off transaction under the consent locks (`lock`, the default): the shared
 * advisory lock is its own statement, awaited first, so the facts statement starts (and takes its snapshot) only once
 * the lock is granted, i.e. after any revocation queued ahead of it has committed (RV1, DL3).
 * The consent-state row is also read FOR SHARE, which backs the advisory lock up. A reader that only asks and hands
 * nothing off (support's resend, saying what the gate would decide now) passes `lock: false`: the same facts without locks or a transaction, so it
 * never queues behind or ahead of a revocation. The API's preflight does the same through loadPreflightFacts.
 */
export async function loadFacts(tx: DbOrTx, d: Pick<Delivery, 'orgId' | 'patientId' | 'category' | 'topicId' | 'channel'>, now: Date, options: { lock?: boolean } = {}): Promise<LoadedFacts> {
  const lock = options.lock ?? true;
  const marketing = d.category === 'marketing' && d.topicId !== null;
  const topicId = d.topicId ?? '00000000-0000-0000-0000-000000000000';
  const contactKind = d.channel === 'email' || d.channel === 'sms' ? d.channel : null;
  const keys = {
    orgId: sql`${d.orgId}::uuid`,
    patientId: sql`${d.patientId}::uuid`,
    topicId: sql`${topicId}::uuid`,
    marketing: sql`${marketing}::boolean`,
    channel: sql`${d.channel}::text`,
    contactKind: sql`${contactKind}::text`,
    state: STATE,
  };
  const statement = sql`with ${stateCte(keys, lock)} select ${factColumns(keys, now)}`;
  // The shared advisory lock (RV1) queues fairly behind a waiting revocation (see lockState in server/consent/ledger.ts).
  // It is awaited on its own before the facts statement: that statement reads the consent-state row FOR SHARE, and a
  // revocation holds the advisory lock while it waits for that row, so the row must never be locked first. (Sending
  // both in one write relied on the order two different client paths reach the connection, and that order broke:
  // a deadlock in the RV1 test.)
  if (marketing && lock) await tx.execute(sql`select pg_advisory_xact_lock_shared(${consentLockKey({ orgId: d.orgId, patientId: d.patientId, topicId })})`);
  const rows = await executePrepared<FactsRow>(tx, statement);
  return factsFrom(rows[0], d);
}

/**
 * The API's consent preflight (issue 7): the patient (by id or by the organisation's external reference) and the
 * topic (by key) are resolved in the same statement as the facts, so a question is one round trip, not two. Read
 * like loadFacts with `lock: false`: no advisory lock, no row lock, no transaction. `facts` is undefined when the
 * patient, or a named topic, is not the organisation's.
 */
export async function loadPreflightFacts(
  db: DbOrTx,
  q: {
    orgId: string;
    patient: { id: string } | { externalRef: string };
    topicKey: string | null;
    category: Delivery['category'];
    channel: Delivery['channel'];
  },
  now: Date,
): Promise<{ patientId: string | null; topicId: string | null; facts: LoadedFacts | undefined }> {
  const match = 'id' in q.patient ? sql`p.id = ${q.patient.id}::uuid` : sql`p.external_ref = ${q.patient.externalRef}`;
  const contactKind = q.channel === 'email' || q.channel === 'sms' ? q.channel : null;
  const patientId = sql`(select patient_id from ids)`;
  const topicId = sql`coalesce((select topic_id from ids), '00000000-0000-0000-0000-000000000000'::uuid)`;
  const marketing = sql`(${q.category === 'marketing'}::boolean and (select topic_id from ids) is not null)`;
  const keys = { orgId: sql`${q.orgId}::uuid`, patientId, topicId, marketing, channel: sql`${q.channel}::text`, contactKind: sql`${contactKind}::text`, state: STATE };
  const statement = sql`
    with ids as (
      select (select p.id from patients p where p.org_id = ${q.orgId} and ${match}) as patient_id,
             (select t.id from consent_topics t where t.org_id = ${q.orgId} and t.key = ${q.topicKey}) as topic_id
    ),
    ${stateCte(keys, false)}
    select (select patient_id from ids) as patient_id, (select topic_id from ids) as topic_id, ${factColumns(keys, now)}`;
  const [row] = await executePrepared<FactsRow & { patient_id: string | null; topic_id: string | null }>(db, statement);
  const found = { patientId: row?.patient_id ?? null, topicId: row?.topic_id ?? null };
  if (!found.patientId || (q.topicKey !== null && !found.topicId)) return { ...found, facts: undefined };
  return { ...found, facts: factsFrom(row, q) };
}

type TopicRow = NonNullable<ReturnType<typeof rowFromJson<typeof consentTopics>>>;
/** What a batch reads once for many deliveries (loadFactsForBatch): the delivery's topic row, and text checks made so far. */
type BatchShared = { topicRow: TopicRow | undefined; checks: Map<string, boolean> };

function factsFrom(row: FactsRow | undefined, d: Pick<Delivery, 'channel'>, batch?: BatchShared): LoadedFacts {
  if (!row?.prefs) throw new Error('loadFacts: no such patient in this organisation');
  const state = row.state;
  const topicRow = batch ? batch.topicRow : rowFromJson(consentTopics, row.topic);
  let authorization: GateFacts['authorization'];
  let topic: GateFacts['topic'];
  if (topicRow) {
    // AV2: judged against the topic as it is now (a payer added after the text was signed makes it defective).
    const checkKey = batch && state?.text_id ? `${topicRow.id}:${state.text_id}` : undefined;
    let textCompliant = checkKey === undefined ? undefined : batch!.checks.get(checkKey);
    if (textCompliant === undefined) {
      textCompliant = state ? checkAuthorizationText(topicRow, state.elements as AuthorizationText['elements']).ok : false;
      if (checkKey !== undefined) batch!.checks.set(checkKey, textCompliant);
    }
    topic = { retired: topicRow.retiredAt !== null, textCompliant };
  }
  if (state) {
    authorization = { status: state.status, expiresAt: at(state.expires_at)!, channels: state.channels, grantEventId: state.grant_event_id, textHash: state.text_hash };
  }
  const pref = rowFromJson(topicPreferences, row.topic_pref);
  const topicPreference: GateFacts['topicPreference'] = pref
    ? { channels: pref.channels, frequency: pref.frequency, pausedUntil: pref.pausedUntil }
    : (DEFAULT_TOPIC_PREFERENCE as GateFacts['topicPreference']);

  let contact: GateFacts['contact'];
  let contactValue: string | null = null;
  let suppressed = false;
  if (d.channel === 'email' || d.channel === 'sms') {
    if (row.contact) {
      contact = { kind: d.channel, verified: row.contact.verified_at !== null };
      contactValue = row.contact.value;
      suppressed = row.contact.suppressed !== null;
    }
  } else if (d.channel === 'portal') {
    contact = { kind: 'portal' };
  } else {
    contact = { kind: 'push', subscribed: row.push_subscribed === true };
  }

  return {
    contactValue,
    facts: {
      authorization,
      topic,
      topicPreference,
      patientPreference: effectivePatientPreferences(row.prefs),
      contact,
      suppressed,
      marketingSentLast7Days: Number(row.window?.n ?? 0),
      oldestMarketingSentInWindow: at(row.window?.oldest),
      lastTopicSentAt: at(row.last_topic_sent_at),
    },
  };
}

/** As patientPreferencesOf (server/consent/preferences.ts): the patient's own choices, or the organisation's defaults. */
function effectivePatientPreferences(p: NonNullable<FactsRow['prefs']>): GateFacts['patientPreference'] {
  const own = rowFromJson(patientPreferences, p.prefs);
  if (own) return own;
  return defaultPatientPreferences({ patientZone: p.patient_zone, orgZone: p.org_zone, orgQuietStart: p.quiet_start, orgQuietEnd: p.quiet_end, orgWeeklyCap: p.weekly_cap });
}

/** What the engine asks of each delivery of a claimed batch (ADR 018). */
export type BatchFactsInput = Pick<Delivery, 'id' | 'orgId' | 'patientId' | 'messageId' | 'category' | 'topicId' | 'channel' | 'resendOf' | 'leasedBy' | 'leaseUntil'>;

/** Beside the gate's facts, what the hand-off of one delivery of the batch needs, read in the same statement. */
export type BatchRow = LoadedFacts & {
  locale: string | null;
  /**
   * Whether the delivery, read FOR KEY SHARE, is still as this worker's claim left it: sending, under the same lease
   * (worker and expiry). Nothing but a claim writes those, and only the recorder ends them, so the claimed row is then
   * the row as it is now. False when the lease ran out and another worker claimed it, or it is gone.
   */
  current: boolean;
  message: Pick<Message, 'content' | 'sendBy' | 'retractedAt' | 'expiresAt'> | undefined;
  org: { slug: string; name: string; pickupLinkDays: number; dkim: OrgDkimKey | undefined };
  /** A marketing delivery made by a campaign (or a resend of one): its kind and topic. */
  campaign: { kind: CampaignKind; topicId: string } | undefined;
  /** The patient's PGP key row (email, not a resend), not yet validated. */
  pgpKey: { armoredKey: string; expiresAt: Date | null } | undefined;
};

/**
 * The consent locks for a whole claimed batch, in one statement (ADR 018): the shared advisory lock of every
 * (organisation, patient, topic) of its marketing deliveries, taken in ascending key order so that two batches and the
 * revocations queued between them can never wait on each other in a cycle (each batch only ever waits for a key above
 * every key it holds). Same keys as consentLockKey (server/consent/ledger.ts), so a revocation queues fairly behind
 * them and every later batch queues behind the revocation (RV1, DL3).
 */
export async function lockConsentForBatch(tx: Tx, ds: BatchFactsInput[]): Promise<void> {
  const keys = [...new Set(ds.filter((d) => d.category === 'marketing' && d.topicId !== null).map((d) => `consent:${d.orgId}:${d.patientId}:${d.topicId}`))];
  // Also, for the rest of the batch's transaction, a generic plan for loadFactsForBatch's statement (ADR 026): with the
  // default plan_cache_mode Postgres kept choosing custom plans for it, so it planned the whole statement again on
  // every batch (a fifth of that statement's time in Postgres), and the generic plan runs no slower.
  await executePrepared(
    tx,
    sql`select (select set_config('plan_cache_mode', 'force_generic_plan', true)) as mode, count(pg_advisory_xact_lock_shared(k))::int as n
      from (select distinct hashtextextended(x, 0) as k from jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb) x order by 1) ordered`,
  );
}

/**
 * The gate's facts for every delivery of a claimed batch in one statement: the same scalar subqueries as loadFacts,
 * correlated with one row per delivery, plus the patient's language. The consent-state rows are read FOR SHARE. Must
 * run after lockConsentForBatch has returned, in the same transaction (RV1, DL3), exactly like loadFacts.
 */
export async function loadFactsForBatch(tx: Tx, ds: BatchFactsInput[], now: Date, options: { pgp: boolean }): Promise<Map<string, BatchRow>> {
  // The topic row and the authorisation texts are the same for many deliveries of a batch: each is read once, on the
  // first delivery of its topic (the topic) or on the batch's first row (every text the batch's consent states name).
  const topicKey = (d: Pick<BatchFactsInput, 'orgId' | 'topicId'>) => `${d.orgId}:${d.topicId}`;
  const marketing = (d: BatchFactsInput) => d.category === 'marketing' && d.topicId !== null;
  // The organisation's row likewise, on the first delivery of each organisation.
  const firstOf = (list: BatchFactsInput[], key: (d: BatchFactsInput) => string) => {
    const first = new Map<string, string>();
    for (const d of list) if (!first.has(key(d))) first.set(key(d), d.id);
    return new Set(first.values());
  };
  const firstOfTopic = firstOf(ds.filter(marketing), topicKey);
  const firstOfOrg = firstOf(ds, (d) => d.orgId);
  const input = ds.map((d, i) => ({
    first_row: i === 0,
    first_topic: firstOfTopic.has(d.id),
    first_org: firstOfOrg.has(d.id),
    delivery_id: d.id,
    org_id: d.orgId,
    patient_id: d.patientId,
    topic_id: d.topicId ?? '00000000-0000-0000-0000-000000000000',
    marketing: marketing(d),
    channel: d.channel,
    contact_kind: d.channel === 'email' || d.channel === 'sms' ? d.channel : null,
    message_id: d.messageId,
    campaign_delivery_id: d.category === 'marketing' ? (d.resendOf ?? d.id) : null,
    want_pgp: options.pgp && d.channel === 'email' && !d.resendOf,
    leased_by: d.leasedBy,
    lease_until: d.leaseUntil?.toISOString() ?? null,
  }));
  const statement = sql`
    with b as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
        as b(first_row boolean, first_topic boolean, first_org boolean, delivery_id uuid, org_id uuid, patient_id uuid, topic_id uuid, marketing boolean,
          channel text, contact_kind text, message_id uuid, campaign_delivery_id uuid, want_pgp boolean, leased_by text, lease_until timestamptz)
    ),
    -- Another worker's claim (FOR UPDATE SKIP LOCKED) skips these rows until the batch's transaction ends; the
    -- recorder's updates (no key column changes) do not wait for this lock. "= any (array(...))": an IN (subquery) here
    -- was planned as a hash join over every delivery.
    dl as (select d.id, d.status, d.leased_by, d.lease_until from deliveries d where d.id = any (array(select delivery_id from b)) for key share of d),
    s as (
      select b.delivery_id, cs.org_id, cs.text_id, cs.status, cs.expires_at, cs.channels, cs.grant_event_id, ae.text_hash
      from b
      -- One lookup by key per delivery, whatever the plan: as a join, the generic plan chose to scan every consent state.
      cross join lateral (select * from consent_states c
        where b.marketing and c.org_id = b.org_id and c.patient_id = b.patient_id and c.topic_id = b.topic_id for share) cs
      join authorization_events ae on ae.id = cs.grant_event_id
    )
    select
      b.delivery_id as id,
      ${factColumns(
        {
          orgId: sql`b.org_id`,
          patientId: sql`b.patient_id`,
          topicId: sql`b.topic_id`,
          marketing: sql`b.marketing`,
          channel: sql`b.channel`,
          contactKind: sql`b.contact_kind`,
          state: sql`case when s.delivery_id is not null then to_jsonb(s) - 'delivery_id' - 'org_id' end`,
          topicWanted: sql`(b.marketing and b.first_topic)`,
        },
        now,
      )},
      coalesce(dl.status = 'sending' and dl.leased_by = b.leased_by and dl.lease_until = b.lease_until, false) as current,
      case when b.first_row then (select jsonb_object_agg(t.id, t.elements) from authorization_texts t where (t.org_id, t.id) in (select s.org_id, s.text_id from s)) end as texts,
      (select json_build_object('content', m.content, 'send_by', m.send_by, 'retracted_at', m.retracted_at, 'expires_at', m.expires_at)
        from messages m where m.org_id = b.org_id and m.id = b.message_id) as message,
      case when b.first_org then (select json_build_object('slug', o.slug, 'name', o.name, 'pickup_link_days', o.pickup_link_days,
          'dkim', (select to_jsonb(k) from org_dkim_keys k where k.org_id = o.id))
        from organisations o where o.id = b.org_id) end as org,
      (select json_build_object('kind', c.kind, 'topic_id', cr.topic_id)
        from campaign_recipients cr join campaigns c on c.org_id = cr.org_id and c.id = cr.campaign_id
        where cr.org_id = b.org_id and cr.delivery_id = b.campaign_delivery_id limit 1) as campaign,
      (select json_build_object('armored_key', k.armored_key, 'expires_at', k.expires_at)
        from patient_pgp_keys k where b.want_pgp and k.org_id = b.org_id and k.patient_id = b.patient_id limit 1) as pgp
    -- The delivery as it is now and its consent state (or none): joined, not looked up in their CTEs once per delivery.
    from b left join dl on dl.id = b.delivery_id left join s on s.delivery_id = b.delivery_id`;
  type Extra = {
    id: string;
    current: boolean;
    texts: Record<string, unknown> | null;
    message: { content: Message['content']; send_by: string | null; retracted_at: string | null; expires_at: string | null } | null;
    org: { slug: string; name: string; pickup_link_days: number; dkim: Record<string, unknown> | null } | null;
    campaign: { kind: CampaignKind; topic_id: string } | null;
    pgp: { armored_key: string; expires_at: string | null } | null;
  };
  const rows = await executePrepared<FactsRow & Extra>(tx, statement);
  const byId = new Map(ds.map((d) => [d.id, d]));
  const texts = rows.find((r) => r.texts)?.texts ?? {};
  // Each topic row and organisation as its first delivery read it, parsed once.
  const topicRows = new Map<string, TopicRow | undefined>();
  const orgs = new Map<string, BatchRow['org']>();
  for (const r of rows) {
    const d = byId.get(r.id)!;
    if (r.topic) topicRows.set(topicKey(d), rowFromJson(consentTopics, r.topic));
    if (r.org) orgs.set(d.orgId, { slug: r.org.slug, name: r.org.name, pickupLinkDays: r.org.pickup_link_days, dkim: rowFromJson(orgDkimKeys, r.org.dkim) });
  }
  const orgOf = (orgId: string) => {
    const org = orgs.get(orgId);
    if (!org) throw new Error('loadFactsForBatch: no such organisation');
    return org;
  };
  const checks = new Map<string, boolean>();
  const out = new Map<string, BatchRow>();
  for (const row of rows) {
    const d = byId.get(row.id)!;
    // A consent state whose text is gone is no state, as the single-delivery statement's join makes it.
    if (row.state) {
      const elements = row.state.text_id ? texts[row.state.text_id] : undefined;
      if (elements) row.state.elements = elements;
      else row.state = null;
    }
    out.set(row.id, {
      ...factsFrom(row, d, { topicRow: marketing(d) ? topicRows.get(topicKey(d)) : undefined, checks }),
      locale: row.prefs?.locale ?? null,
      current: row.current,
      message: row.message
        ? { content: row.message.content, sendBy: at(row.message.send_by), retractedAt: at(row.message.retracted_at), expiresAt: at(row.message.expires_at) }
        : undefined,
      org: orgOf(d.orgId),
      campaign: row.campaign ? { kind: row.campaign.kind, topicId: row.campaign.topic_id } : undefined,
      pgpKey: row.pgp ? { armoredKey: row.pgp.armored_key, expiresAt: at(row.pgp.expires_at) } : undefined,
    });
  }
  return out;
}
