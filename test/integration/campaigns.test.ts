// Renewal campaigns against real Postgres, the real engine and a real SMTP sink: targeting (set-based, what it
// excludes), the state machine (DL4: launching twice, concurrently, from two processes' pools, never sends twice),
// the throttle with an injected clock, the gate still deciding (quiet hours), the renewal notice (EM4), results,
// and the expiry sweep (AV4). The admin pages are tested over HTTP at the end (EN3, roles, field errors).
import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditEvents,
  authorizationEvents,
  campaignRecipients,
  consentStates,
  contactPoints,
  deliveries,
  outboundEvents,
  patientPreferences,
  suppressions,
  type ConsentChannel,
} from '../../db/schema/index';
import { createCampaign, getCampaign, transitionCampaign } from '../../server/campaigns/campaigns';
import type { CampaignDraft } from '../../server/campaigns/form';
import { parseCampaignForm, zonedInstant } from '../../server/campaigns/form';
import { enqueueBatch, runCampaignPass } from '../../server/campaigns/lane';
import { campaignResults } from '../../server/campaigns/results';
import { countTargets } from '../../server/campaigns/targeting';
import { expireDueAuthorizations, grantAuthorization, renewAuthorization, revokeAuthorization } from '../../server/consent/ledger';
import { createSmtpTransport } from '../../server/delivery/transport';
import { runPass, type EngineDeps } from '../../server/engine/engine';
import { decide } from '../../server/engine/gate';
import { loadFacts } from '../../server/engine/facts';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';
import { createTestAdmin } from '../support/admin';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase(8);
// A second pool: another worker process's connections.
const other = testDatabase(4);
const db = handle.db;
const vault = kekRing(Buffer.alloc(32, 7));
const links = linkKeyring(Buffer.alloc(32, 8));
const DAY_MS = 86_400_000;
const evidence = { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: 'vitest', via: 'portal' as const };
let sink: Awaited<ReturnType<typeof startSink>>;
let engine: EngineDeps;

beforeAll(async () => {
  sink = await startSink();
  engine = {
    db,
    vault,
    links,
    publicUrl: new URL('https://portal.example.com'),
    mailFrom: 'Carepost <no-reply@carepost.test>',
    messageIdDomain: 'carepost.test',
    mail: createSmtpTransport(sink.url, { pool: true, maxConnections: 2 }),
    sms: undefined,
    logger: createLogger({ level: 'silent' }),
    workerId: 'campaign-test',
  };
});
afterAll(async () => {
  await engine.mail.close?.();
  await sink.close();
  await other.close();
  await handle.close();
});

/** A clinic with a marketing topic (12-month texts) and an owner to create campaigns. */
async function clinic(name = 'Campaign Clinic') {
  const org = await createTestOrganisation(handle, name);
  const { topic, text } = await publishedTopic(handle, org.id, { validForMonths: 12 });
  const owner = await createTestAdmin(db, org.id, 'owner');
  return { org, topic, text, owner };
}

/** A patient with a verified email whose authorisation was granted `grantedDaysAgo` days ago (12 months: expires about 365 - that from now). */
async function grantedPatient(c: Awaited<ReturnType<typeof clinic>>, grantedDaysAgo: number, channels: ConsentChannel[] = ['email']) {
  const p = await createTestPatient(handle, c.org.id);
  const now = new Date(Date.now() - grantedDaysAgo * DAY_MS);
  const result = await grantAuthorization(db, { orgId: c.org.id, patientId: p.patient.id, topicId: c.topic.id, textId: c.text.id, channels, signatureName: 'Pat Example', evidence, now });
  if (result.status !== 'granted') throw new Error(result.status);
  return p;
}

function draft(c: Awaited<ReturnType<typeof clinic>>, overrides: Partial<CampaignDraft> = {}): CampaignDraft {
  return {
    name: `Renewal ${randomBytes(2).toString('hex')}`,
    kind: 'renewal',
    topicIds: [c.topic.id],
    expiringWithinDays: 30,
    grantedBefore: null,
    channels: ['email'],
    throttlePerMinute: 1000,
    scheduledAt: null,
    ...overrides,
  };
}

const lane = (orgId: string, now = new Date(), pool = db) => runCampaignPass({ db: pool, vault, orgIds: [orgId] }, now);

async function recipientsOf(orgId: string, campaignId: string) {
  return db.select().from(campaignRecipients).where(and(eq(campaignRecipients.orgId, orgId), eq(campaignRecipients.campaignId, campaignId)));
}

async function campaignDeliveries(orgId: string, campaignId: string) {
  return db.execute<{ id: string; patient_id: string; status: string; reason: string | null }>(sql`
    select d.id, d.patient_id, d.status, d.reason from deliveries d
     where d.org_id = ${orgId} and d.message_id in (select message_id from campaign_recipients where org_id = ${orgId} and campaign_id = ${campaignId})`);
}

async function launch(orgId: string, campaignId: string, adminId: string, pool = db) {
  return transitionCampaign(pool, { orgId, campaignId, intent: 'launch', adminId, now: new Date() });
}

describe('targeting (set-based)', () => {
  it('targets active authorisations expiring within N days; never revoked, expired, suppressed or unreachable ones', async () => {
    const c = await clinic();
    const soon = await grantedPatient(c, 360); // expires in about 5 days
    const later = await grantedPatient(c, 200); // expires in about 165 days
    const revoked = await grantedPatient(c, 360);
    await revokeAuthorization(db, { orgId: c.org.id, patientId: revoked.patient.id, topicId: c.topic.id, evidence, now: new Date() });
    const expired = await grantedPatient(c, 370); // expired 5 days ago, not yet swept: still 'active' in the row
    const suppressed = await grantedPatient(c, 360);
    await db.insert(suppressions).values({ orgId: c.org.id, kind: 'email', value: suppressed.email, reason: 'hard_bounce', createdAt: new Date() });
    const unverified = await grantedPatient(c, 360);
    await db.update(contactPoints).set({ verifiedAt: null }).where(and(eq(contactPoints.orgId, c.org.id), eq(contactPoints.patientId, unverified.patient.id)));
    const smsOnly = await grantedPatient(c, 360, ['sms']); // authorised for SMS only, and has no phone

    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c), now: new Date() });
    expect(await countTargets(db, campaign, new Date())).toEqual({ reachable: 1, unreachable: 3 });
    // The portal as a fallback changes nothing here: these authorisations cover email (or SMS) only.
    expect(await countTargets(db, { ...campaign, channels: ['email', 'portal'] }, new Date())).toEqual({ reachable: 1, unreachable: 3 });
    expect(await countTargets(db, { ...campaign, expiringWithinDays: 200 }, new Date())).toEqual({ reachable: 2, unreachable: 3 });
    // Granted before a date: the 200-days-ago grant is not before 250 days ago; the 360-days-ago ones are.
    expect(await countTargets(db, { ...campaign, expiringWithinDays: null, grantedBefore: new Date(Date.now() - 250 * DAY_MS) }, new Date())).toEqual({ reachable: 1, unreachable: 3 });

    await launch(c.org.id, campaign.id, c.owner.adminId);
    await lane(c.org.id);
    const recipients = await recipientsOf(c.org.id, campaign.id);
    expect(recipients.map((r) => r.patientId)).toEqual([soon.patient.id]);
    expect(recipients[0]!.channel).toBe('email');
    for (const p of [later, revoked, expired, suppressed, unverified, smsOnly]) expect(recipients.some((r) => r.patientId === p.patient.id)).toBe(false);
    expect((await getCampaign(db, { orgId: c.org.id, campaignId: campaign.id }))!.targetedCount).toBe(1);
  });

  it('chooses the first of the campaign’s channels that reaches each patient (portal when email is suppressed)', async () => {
    const c = await clinic();
    const fine = await grantedPatient(c, 360, ['email', 'portal']);
    const bounced = await grantedPatient(c, 360, ['email', 'portal']);
    await db.insert(suppressions).values({ orgId: c.org.id, kind: 'email', value: bounced.email, reason: 'hard_bounce', createdAt: new Date() });
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { channels: ['email', 'portal'] }), now: new Date() });
    await launch(c.org.id, campaign.id, c.owner.adminId);
    await lane(c.org.id);
    const byPatient = new Map((await recipientsOf(c.org.id, campaign.id)).map((r) => [r.patientId, r.channel]));
    expect(byPatient.get(fine.patient.id)).toBe('email');
    expect(byPatient.get(bounced.patient.id)).toBe('portal');
  });
});

describe('DL4: launching twice never sends twice', () => {
  it('DL4: a second launch changes nothing, and running the lane again adds no delivery', async () => {
    const c = await clinic();
    for (let i = 0; i < 5; i++) await grantedPatient(c, 360);
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c), now: new Date() });
    expect((await launch(c.org.id, campaign.id, c.owner.adminId)).status).toBe('changed');
    expect((await launch(c.org.id, campaign.id, c.owner.adminId)).status).toBe('unchanged');
    await lane(c.org.id);
    await lane(c.org.id);
    expect((await launch(c.org.id, campaign.id, c.owner.adminId)).status).toBe('unchanged');
    await lane(c.org.id);
    const rows = await campaignDeliveries(c.org.id, campaign.id);
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((r) => r.patient_id)).size).toBe(5);
    const launched = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, c.org.id), eq(auditEvents.action, 'campaign.launched')));
    expect(launched).toHaveLength(1);
  });

  it('a campaign scheduled for later stays scheduled, asking nobody, until its start; then it runs', async () => {
    const c = await clinic();
    for (let i = 0; i < 3; i++) await grantedPatient(c, 360);
    const startsAt = new Date(Date.now() + 3_600_000);
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { scheduledAt: startsAt }), now: new Date() });
    expect((await launch(c.org.id, campaign.id, c.owner.adminId)).status).toBe('changed');
    await lane(c.org.id, new Date(startsAt.getTime() - 1));
    expect((await getCampaign(db, { orgId: c.org.id, campaignId: campaign.id }))?.status).toBe('scheduled');
    expect(await recipientsOf(c.org.id, campaign.id)).toHaveLength(0);
    expect(await campaignDeliveries(c.org.id, campaign.id)).toHaveLength(0);
    await lane(c.org.id, startsAt);
    await lane(c.org.id, startsAt);
    expect((await getCampaign(db, { orgId: c.org.id, campaignId: campaign.id }))?.status).not.toBe('scheduled');
    expect(await campaignDeliveries(c.org.id, campaign.id)).toHaveLength(3);
  });

  it('DL4: concurrent launches from two pools, then two workers claiming at once, give one delivery per recipient', async () => {
    const c = await clinic();
    const N = 40;
    for (let i = 0; i < N; i++) await grantedPatient(c, 360);
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { throttlePerMinute: 100_000 }), now: new Date() });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => launch(c.org.id, campaign.id, c.owner.adminId, i % 2 ? other.db : db)));
    expect(results.filter((r) => r.status === 'changed')).toHaveLength(1);

    // Two "processes" start and work the campaign at the same moment, in small batches so they interleave.
    const worker = (pool: typeof db) => async () => {
      for (let i = 0; i < 30; i++) await runCampaignPass({ db: pool, vault, orgIds: [c.org.id], batchSize: 3 });
    };
    await Promise.all([worker(db)(), worker(other.db)(), enqueueBatch({ db: other.db, vault, batchSize: 5 }, { orgId: c.org.id, id: campaign.id }, new Date())]);
    // On a loaded machine the 60 racing passes may not reach every recipient (a pass that finds the targeting step
    // taken by the other returns at once): finish what is left, one pass at a time, before counting.
    const unfinished = async () => {
      const now = await recipientsOf(c.org.id, campaign.id);
      return now.length < N || now.some((r) => r.state !== 'enqueued');
    };
    for (let i = 0; i < 100 && (await unfinished()); i++) {
      await runCampaignPass({ db, vault, orgIds: [c.org.id], batchSize: 3 });
    }
    const rows = await campaignDeliveries(c.org.id, campaign.id);
    expect(rows).toHaveLength(N);
    expect(new Set(rows.map((r) => r.patient_id)).size).toBe(N);
    const recipients = await recipientsOf(c.org.id, campaign.id);
    expect(recipients).toHaveLength(N);
    expect(recipients.every((r) => r.state === 'enqueued' && r.deliveryId)).toBe(true);
    expect(new Set(recipients.map((r) => r.deliveryId)).size).toBe(N);
  });
});

describe('pause, resume, cancel and the throttle', () => {
  it('the throttle allows at most N requests per minute; pause stops enqueueing and resume continues', async () => {
    const c = await clinic();
    for (let i = 0; i < 25; i++) await grantedPatient(c, 360);
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { throttlePerMinute: 10 }), now: new Date() });
    await launch(c.org.id, campaign.id, c.owner.adminId);
    const t0 = new Date();
    const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
    const enqueued = async () => (await recipientsOf(c.org.id, campaign.id)).filter((r) => r.state === 'enqueued').length;

    await lane(c.org.id, at(0));
    expect(await enqueued()).toBe(10);
    await lane(c.org.id, at(30));
    expect(await enqueued()).toBe(10); // the same minute: nothing more

    expect((await transitionCampaign(db, { orgId: c.org.id, campaignId: campaign.id, intent: 'pause', adminId: c.owner.adminId, now: at(40) })).status).toBe('changed');
    expect((await transitionCampaign(db, { orgId: c.org.id, campaignId: campaign.id, intent: 'pause', adminId: c.owner.adminId, now: at(41) })).status).toBe('unchanged');
    await lane(c.org.id, at(120));
    expect(await enqueued()).toBe(10); // paused

    const resumed = await transitionCampaign(db, { orgId: c.org.id, campaignId: campaign.id, intent: 'resume', adminId: c.owner.adminId, now: at(130) });
    expect(resumed.status === 'changed' && resumed.campaign.status).toBe('running');
    await lane(c.org.id, at(130));
    expect(await enqueued()).toBe(20);
    await lane(c.org.id, at(150));
    expect(await enqueued()).toBe(20);
    await lane(c.org.id, at(191));
    expect(await enqueued()).toBe(25);
    // Never more than 10 in any minute.
    const times = (await recipientsOf(c.org.id, campaign.id)).map((r) => r.enqueuedAt!.getTime()).sort((a, b) => a - b);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(10);
  });

  it('cancel stops for good: pending recipients are never asked, waiting requests are withdrawn, and nothing restarts it', async () => {
    const c = await clinic();
    for (let i = 0; i < 12; i++) await grantedPatient(c, 360);
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { throttlePerMinute: 5 }), now: new Date() });
    await launch(c.org.id, campaign.id, c.owner.adminId);
    await lane(c.org.id);
    const cancel = await transitionCampaign(db, { orgId: c.org.id, campaignId: campaign.id, intent: 'cancel', adminId: c.owner.adminId, now: new Date() });
    expect(cancel.status === 'changed' && cancel.campaign.status).toBe('cancelled');
    for (const intent of ['resume', 'launch', 'pause', 'cancel'] as const) {
      expect((await transitionCampaign(db, { orgId: c.org.id, campaignId: campaign.id, intent, adminId: c.owner.adminId, now: new Date() })).status).toBe('unchanged');
    }
    await lane(c.org.id, new Date(Date.now() + 10 * 60_000));
    const states = (await recipientsOf(c.org.id, campaign.id)).map((r) => r.state);
    expect(states.filter((s) => s === 'enqueued')).toHaveLength(5);
    expect(states.filter((s) => s === 'cancelled')).toHaveLength(7);
    // The 5 already in the engine were withdrawn before hand-off: the gate blocks them.
    await runPass({ ...engine, orgIds: [c.org.id] }, { batchSize: 50, concurrency: 1 });
    const rows = await campaignDeliveries(c.org.id, campaign.id);
    expect(rows.map((r) => `${r.status}:${r.reason}`)).toEqual(Array(5).fill('blocked:message_withdrawn'));
    const results = await campaignResults(db, { orgId: c.org.id, campaignId: campaign.id });
    expect(results).toMatchObject({ targeted: 12, cancelled: 7, blocked: 5, sent: 0, done: 12 });
  });
});

describe('through the engine', () => {
  it('EM4, DL3: each request is a delivery the gate decides; the email is a PHI-free notice with a renewal link; results count renewals', async () => {
    const c = await clinic('Renewal Notice Clinic');
    const patients = [await grantedPatient(c, 360), await grantedPatient(c, 360), await grantedPatient(c, 360)];
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c), now: new Date() });
    await launch(c.org.id, campaign.id, c.owner.adminId);
    await lane(c.org.id);
    // Revoked after targeting, before hand-off: the gate blocks it (DL3).
    await revokeAuthorization(db, { orgId: c.org.id, patientId: patients[2]!.patient.id, topicId: c.topic.id, evidence, now: new Date() });
    await runPass({ ...engine, orgIds: [c.org.id] }, { batchSize: 50, concurrency: 1 });

    const mails = sink.received.filter((m) => m.to.includes(patients[0]!.email) || m.to.includes(patients[1]!.email));
    expect(mails).toHaveLength(2);
    const mail = mails[0]!.raw.replace(/=\r?\n/g, '');
    expect(mail).toMatch(/Subject: Renewal Notice Clinic: please renew your permission/);
    expect(mail).toMatch(/https:\/\/portal\.example\.com\/o\/[a-z0-9-]+\/r\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
    expect(mail).not.toContain(c.topic.name); // the topic may hint at health: not in the notice
    expect(mail).toMatch(/List-Unsubscribe-Post: List-Unsubscribe=One-Click/);
    // The link is nowhere in the audit log or the webhook payloads.
    const token = /\/r\/([A-Za-z0-9_.-]+)/.exec(mail)![1]!;
    const audit = await db.select().from(auditEvents).where(eq(auditEvents.orgId, c.org.id));
    expect(JSON.stringify(audit)).not.toContain(token);
    expect(JSON.stringify(await db.select().from(outboundEvents).where(eq(outboundEvents.orgId, c.org.id)))).not.toContain(token);

    await renewAuthorization(db, { orgId: c.org.id, patientId: patients[0]!.patient.id, topicId: c.topic.id, textId: c.text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now: new Date() });
    await lane(c.org.id);
    const results = await campaignResults(db, { orgId: c.org.id, campaignId: campaign.id });
    expect(results).toMatchObject({ targeted: 3, sent: 2, blocked: 1, renewed: 1, noResponse: 1, done: 3, waiting: 0, inEngine: 0 });
    expect(results.blockedByReason).toEqual([{ reason: 'authorization_revoked', count: 1 }]);
    expect((await getCampaign(db, { orgId: c.org.id, campaignId: campaign.id }))!.status).toBe('completed');
  });

  it('quiet hours apply: the gate defers an SMS request until they end, and the campaign keeps running meanwhile', async () => {
    const c = await clinic();
    const p = await grantedPatient(c, 360, ['sms']);
    await db.insert(contactPoints).values({ orgId: c.org.id, patientId: p.patient.id, kind: 'sms', value: p.phone, source: 'organisation', verifiedAt: new Date() });
    // Quiet all day but one minute, in UTC: whenever the test runs, it is inside them (or a minute from them).
    const nowMinute = new Date().getUTCHours() * 60 + new Date().getUTCMinutes();
    await db.insert(patientPreferences).values({
      orgId: c.org.id,
      patientId: p.patient.id,
      careChannels: ['email'],
      quietStartMinute: (nowMinute + 1439) % 1440,
      quietEndMinute: (nowMinute + 2) % 1440,
      timeZone: 'UTC',
      updatedAt: new Date(),
    });
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { channels: ['sms'] }), now: new Date() });
    await launch(c.org.id, campaign.id, c.owner.adminId);
    await lane(c.org.id);
    const [recipient] = await recipientsOf(c.org.id, campaign.id);
    expect(recipient!.channel).toBe('sms');
    await runPass({ ...engine, orgIds: [c.org.id] }, { batchSize: 10, concurrency: 1 });
    const [after] = await db.select().from(deliveries).where(eq(deliveries.id, recipient!.deliveryId!));
    expect(after).toMatchObject({ status: 'queued', decision: 'defer', reason: 'quiet_hours' });
    expect(after!.dueAt.getTime()).toBeGreaterThan(Date.now());
    await lane(c.org.id);
    expect((await getCampaign(db, { orgId: c.org.id, campaignId: campaign.id }))!.status).toBe('running');
    expect(await campaignResults(db, { orgId: c.org.id, campaignId: campaign.id })).toMatchObject({ targeted: 1, inEngine: 1, deferred: 1, done: 0 });
  });

  it('an expiry reminder uses the same machinery with reminder words', async () => {
    const c = await clinic('Reminder Clinic');
    const p = await grantedPatient(c, 360);
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { kind: 'expiry_reminder', expiringWithinDays: 7 }), now: new Date() });
    await launch(c.org.id, campaign.id, c.owner.adminId);
    await lane(c.org.id);
    await runPass({ ...engine, orgIds: [c.org.id] }, { batchSize: 10, concurrency: 1 });
    const mail = sink.received.find((m) => m.to.includes(p.email))!;
    expect(mail.raw).toMatch(/Subject: Reminder Clinic: a permission you gave ends soon/);
  });
});

describe('AV4: the expiry sweep', () => {
  it('AV4: authorisations past their expiry are marked expired with an event (the instant itself is expired); the gate agrees', async () => {
    const c = await clinic();
    const p = await grantedPatient(c, 300);
    const [state] = await db.select().from(consentStates).where(and(eq(consentStates.orgId, c.org.id), eq(consentStates.patientId, p.patient.id)));
    const expiresAt = state!.expiresAt;

    // The gate treats the expiry instant as exclusive even before the sweep has run.
    const d = { orgId: c.org.id, patientId: p.patient.id, category: 'marketing' as const, topicId: c.topic.id, channel: 'email' as const };
    const { facts } = await loadFacts(db, d, expiresAt, { lock: false });
    const delivery = { category: 'marketing' as const, topicId: c.topic.id, channel: 'email' as const, sendBy: null };
    expect(decide(delivery, facts, new Date(expiresAt.getTime() - 1))).toMatchObject({ kind: 'allow' });
    expect(decide(delivery, facts, expiresAt)).toEqual({ kind: 'block', reason: 'authorization_expired' });

    expect(await expireDueAuthorizations(db, new Date(expiresAt.getTime() - 1), 500, { orgIds: [c.org.id] })).toBe(0);
    expect(await expireDueAuthorizations(db, expiresAt, 500, { orgIds: [c.org.id] })).toBe(1);
    expect(await expireDueAuthorizations(db, expiresAt, 500, { orgIds: [c.org.id] })).toBe(0); // once
    const [after] = await db.select().from(consentStates).where(and(eq(consentStates.orgId, c.org.id), eq(consentStates.patientId, p.patient.id)));
    expect(after!.status).toBe('expired');
    const events = await db.select().from(authorizationEvents).where(and(eq(authorizationEvents.orgId, c.org.id), eq(authorizationEvents.patientId, p.patient.id)));
    expect(events.map((e) => e.kind).sort()).toEqual(['expired', 'granted']);
    expect(events.find((e) => e.kind === 'expired')!.occurredAt.getTime()).toBe(expiresAt.getTime());
    const audit = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, c.org.id), eq(auditEvents.action, 'consent.expired')));
    expect(audit).toHaveLength(1);
    const outbound = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, c.org.id), eq(outboundEvents.type, 'consent.expired')));
    expect(outbound).toHaveLength(1);
    const { facts: later } = await loadFacts(db, d, expiresAt, { lock: false });
    expect(decide(delivery, later, new Date(expiresAt.getTime() - 1))).toEqual({ kind: 'block', reason: 'authorization_expired' });
    // An expired authorisation is never targeted.
    const campaign = await createCampaign(db, { orgId: c.org.id, adminId: c.owner.adminId, draft: draft(c, { expiringWithinDays: 365 }), now: new Date() });
    expect(await countTargets(db, campaign, new Date())).toEqual({ reachable: 0, unreachable: 0 });
  });
});

describe('the form', () => {
  it('reads the schedule in the organisation’s time zone and reports every bad field at once', () => {
    expect(zonedInstant('2030-07-01', '09:00', 'America/New_York').toISOString()).toBe('2030-07-01T13:00:00.000Z');
    expect(zonedInstant('2030-01-15', '09:00', 'America/New_York').toISOString()).toBe('2030-01-15T14:00:00.000Z');
    const topicIds = new Set(['11111111-1111-4111-8111-111111111111']);
    const now = new Date('2030-01-01T00:00:00Z');
    const bad = parseCampaignForm(
      { name: ' ', kind: 'spam', topicIds: [], expiringWithinDays: '0', grantedBefore: '2031-02-30', channels: ['fax'], throttlePerMinute: 'lots', scheduleDate: '2029-12-31', scheduleTime: '25:00' },
      { topicIds, timeZone: 'UTC', now },
    );
    expect(bad.ok).toBe(false);
    expect(Object.keys(!bad.ok ? bad.fieldErrors : {}).sort()).toEqual(['channels', 'expiringWithinDays', 'grantedBefore', 'kind', 'name', 'scheduleTime', 'throttlePerMinute', 'topicIds'].sort());
    const good = parseCampaignForm(
      { name: 'Spring renewals', kind: 'renewal', topicIds: [...topicIds], expiringWithinDays: '30', grantedBefore: '', channels: ['portal', 'email'], throttlePerMinute: '600', scheduleDate: '2030-01-02', scheduleTime: '09:30' },
      { topicIds, timeZone: 'Europe/Paris', now },
    );
    expect(good).toEqual({ ok: true, value: expect.objectContaining({ channels: ['email', 'portal'], scheduledAt: new Date('2030-01-02T08:30:00Z'), expiringWithinDays: 30 }) });
  });
});

describe('admin pages over HTTP (EN3, roles, forms)', () => {
  let dev: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    dev = await startTestServer();
  });
  afterAll(async () => {
    await dev.close();
  });

  const formHeaders = (cookie: string) => ({
    'content-type': 'application/x-www-form-urlencoded',
    origin: 'http://localhost:3999',
    'sec-fetch-site': 'same-origin',
    'x-forwarded-host': 'localhost:3999',
    cookie,
  });
  const get = (path: string, cookie: string) => dev.fetch(path, { headers: { cookie } });
  const post = (path: string, cookie: string, body: Record<string, string | string[]>) => {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(body)) for (const value of [v].flat()) form.append(k, value);
    return dev.fetch(path, { method: 'POST', headers: formHeaders(cookie), body: form.toString() });
  };

  it('a marketer sees counts but never a patient name or email on any campaign page, and gets 403 on sample recipients', async () => {
    const c = await clinic('Marketing Clinic');
    const patients = [await grantedPatient(c, 360), await grantedPatient(c, 360)];
    const marketer = await createTestAdmin(db, c.org.id, 'marketer');
    const compliance = await createTestAdmin(db, c.org.id, 'compliance');
    const base = `/admin/${c.org.slug}/campaigns`;

    // The marketer creates a campaign through the form.
    const created = await post(`${base}/new`, marketer.cookie, {
      name: 'Spring renewals',
      kind: 'renewal',
      topicIds: [c.topic.id],
      expiringWithinDays: '30',
      grantedBefore: '',
      channels: ['email'],
      throttlePerMinute: '600',
      scheduleDate: '',
      scheduleTime: '',
    });
    expect(created.status).toBe(303);
    const detail = new URL(created.headers.get('location')!, dev.url).pathname;
    const id = detail.split('/').pop()!;

    const names = patients.flatMap((p) => [p.patient.displayName, p.email]);
    const noPhi = async (path: string) => {
      const res = await get(path, marketer.cookie);
      expect(res.status, path).toBe(200);
      const html = await res.text();
      for (const value of names) expect(html, `${path} shows ${value}`).not.toContain(value);
      return html;
    };
    expect(await noPhi(detail)).toContain('2 patients would be asked if it started now.');
    await noPhi(base);
    await noPhi(`${base}/new`);
    expect((await get(`${detail}/recipients`, marketer.cookie)).status).toBe(403);

    // The owner and compliance see sample names (so the check above would have caught them).
    expect(await (await get(detail, c.owner.cookie)).text()).toContain(patients[0]!.patient.displayName);
    expect(await (await get(`${detail}/recipients`, compliance.cookie)).text()).toContain(patients[1]!.patient.displayName);
    expect((await get(detail, compliance.cookie)).status).toBe(403); // compliance has no 'campaigns'

    // Launch twice over HTTP: the second changes nothing (DL4).
    const first = await post(detail, marketer.cookie, { intent: 'launch' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toContain('done=launch');
    const second = await post(detail, marketer.cookie, { intent: 'launch' });
    expect(second.headers.get('location')).toContain('done=unchanged');
    await lane(c.org.id);
    await runPass({ ...engine, orgIds: [c.org.id] }, { batchSize: 10, concurrency: 1 });
    await lane(c.org.id);
    const running = await noPhi(detail);
    expect(running).toContain('100% done: 2 of 2 requests decided');
    expect(running).toMatch(/<progress id="campaign-progress"[^>]*max="100"[^>]*value="100"/);
    expect(running).toContain('<svg role="img" aria-label="Results funnel of Spring renewals"');
    expect(running).not.toMatch(/<svg[^>]* style=/);
    expect((await campaignDeliveries(c.org.id, id)).length).toBe(2);
  });

  it('EN3: another organisation’s campaign is a 404 on every page and action', async () => {
    const mine = await clinic('Own Clinic');
    const theirs = await clinic('Their Clinic');
    await grantedPatient(theirs, 360);
    const campaign = await createCampaign(db, { orgId: theirs.org.id, adminId: theirs.owner.adminId, draft: draft(theirs), now: new Date() });
    const base = `/admin/${mine.org.slug}/campaigns/${campaign.id}`;
    expect((await get(base, mine.owner.cookie)).status).toBe(404);
    expect((await get(`${base}/recipients`, mine.owner.cookie)).status).toBe(404);
    expect((await post(base, mine.owner.cookie, { intent: 'launch' })).status).toBe(404);
    expect((await get(`/admin/${mine.org.slug}/campaigns/not-a-uuid`, mine.owner.cookie)).status).toBe(404);
    expect((await getCampaign(db, { orgId: theirs.org.id, campaignId: campaign.id }))!.status).toBe('draft');
    // Their admin, on our organisation's URL: not signed in there.
    expect((await get(`/admin/${mine.org.slug}/campaigns`, theirs.owner.cookie)).status).toBe(303);
  });

  it('bad form input is a 400 with every field error next to its field, and nothing is created', async () => {
    const c = await clinic();
    const count = async () => (await db.execute<{ n: string }>(sql`select count(*) as n from campaigns where org_id = ${c.org.id}`))[0]!.n;
    const before = await count();
    const res = await post(`/admin/${c.org.slug}/campaigns/new`, c.owner.cookie, {
      name: '',
      kind: 'renewal',
      topicIds: ['00000000-0000-4000-8000-000000000000'],
      expiringWithinDays: 'soon',
      channels: [],
      throttlePerMinute: '0',
      scheduleDate: '2001-01-01',
      scheduleTime: '09:00',
    } as Record<string, string | string[]>);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('There is a problem');
    expect(html).toMatch(/id="name"[^>]*aria-describedby="[^"]*name-error/);
    expect(html).toMatch(/id="throttlePerMinute"[^>]*aria-describedby="[^"]*throttlePerMinute-error/);
    expect(html).toContain('id="topicIds-error"');
    expect(html).toContain('id="channels-error"');
    expect(html).toContain('id="scheduleDate-error"');
    expect(await count()).toBe(before);
  });
});
