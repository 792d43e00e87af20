// The consent pages and links over real HTTP, against the real app and Postgres.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { authorizationEvents, consentStates, outboundEvents, topicPreferences, patientPreferences, auditEvents } from '../../db/schema/index';
import { createPatientSession } from '../../server/identity/sessions';
import { linkKeyring, mintLink, type LinkPurpose } from '../../server/links/tokens';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
const ORIGIN = 'http://localhost:3999';
const DAY_MS = 86_400_000;

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Consent Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Clinic');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const keyring = () => linkKeyring(dev.config.secrets.LINK_SIGNING_SECRET);

const formHeaders = (cookie?: string) => ({
  'content-type': 'application/x-www-form-urlencoded',
  origin: ORIGIN,
  'sec-fetch-site': 'same-origin',
  'x-forwarded-host': 'localhost:3999',
  'user-agent': 'ConsentTest/1.0',
  ...(cookie ? { cookie } : {}),
});

async function sessionFor(patientId: string, verifiedAt = new Date(), orgId = org.id) {
  const { token } = await db.transaction((tx) => createPatientSession(tx, { orgId, patientId, method: 'code_email', now: verifiedAt }));
  return `carepost_session=${token}`;
}

async function setup() {
  const { patient, email } = await createTestPatient(handle, org.id);
  const { topic, text } = await publishedTopic(handle, org.id);
  return { patient, email, topic, text };
}

async function link(purpose: LinkPurpose, patientId: string, context: Record<string, string> = {}, options: { now?: Date; orgId?: string; ttlSeconds?: number } = {}) {
  return mintLink(keyring(), { purpose, orgId: options.orgId ?? org.id, patientId, context, now: options.now ?? new Date(), linkId: crypto.randomUUID(), ttlSeconds: options.ttlSeconds });
}

async function sign(cookie: string, topicKey: string, textId: string, fields: Record<string, string | string[]> = {}) {
  const body = new URLSearchParams({ textId, signatureName: 'Pat Example', confirm: 'yes' });
  for (const [k, v] of Object.entries(fields)) {
    body.delete(k);
    for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
  }
  if (!('channels' in fields)) body.append('channels', 'email');
  return dev.fetch(`/o/${org.slug}/choices/${topicKey}/sign`, { method: 'POST', headers: formHeaders(cookie), body });
}

const stateOf = async (patientId: string, topicId: string) =>
  (await db.select().from(consentStates).where(and(eq(consentStates.orgId, org.id), eq(consentStates.patientId, patientId), eq(consentStates.topicId, topicId))))[0];
const eventsOf = (patientId: string) => db.select().from(authorizationEvents).where(and(eq(authorizationEvents.orgId, org.id), eq(authorizationEvents.patientId, patientId)));
const topicPrefOf = async (patientId: string, topicId: string) =>
  (await db.select().from(topicPreferences).where(and(eq(topicPreferences.orgId, org.id), eq(topicPreferences.patientId, patientId), eq(topicPreferences.topicId, topicId))))[0];

describe('granting on the My choices pages', () => {
  it('SE5: the signing page and its POST need a verification from the last few minutes', async () => {
    const { patient, topic, text } = await setup();
    const stale = await sessionFor(patient.id, new Date(Date.now() - 6 * 60_000));
    const page = await dev.fetch(`/o/${org.slug}/choices/${topic.key}/sign`, { headers: { cookie: stale } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(`/o/${org.slug}/verify?returnTo=${encodeURIComponent(`/o/${org.slug}/choices/${topic.key}/sign`)}`);
    const post = await sign(stale, topic.key, text.id);
    expect(post.status).toBe(303);
    expect(post.headers.get('location')).toMatch(/\/verify\?/);
    expect(await stateOf(patient.id, topic.id)).toBeUndefined();
  });

  it('AV5, AU1: a grant captures time, method, IP, user agent, text version and hash, and the signature', async () => {
    const { patient, topic, text } = await setup();
    const cookie = await sessionFor(patient.id);
    const page = await dev.fetch(`/o/${org.slug}/choices/${topic.key}/sign`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    // The full text is shown before signing: every element's words are on the page.
    for (const line of text.body!.split('\n').filter(Boolean)) expect(html).toContain(line.replace(/'/g, '&#x27;').slice(0, 40));

    const res = await sign(cookie, topic.key, text.id, { channels: ['email', 'sms'] });
    expect(res.status).toBe(303);
    const [event] = await eventsOf(patient.id);
    expect(res.headers.get('location')).toBe(`/o/${org.slug}/choices/record/${event!.id}?done=granted`);
    expect(event).toMatchObject({ kind: 'granted', textId: text.id, textHash: text.contentHash, channels: ['email', 'sms'] });
    expect(event!.evidence).toMatchObject({ method: 'code_email', ipAddress: '127.0.0.1', userAgent: 'ConsentTest/1.0', signatureName: 'Pat Example', via: 'portal' });
    expect((await stateOf(patient.id, topic.id))!.status).toBe('active');
    const [outbound] = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, org.id), eq(outboundEvents.patientId, patient.id)));
    expect(outbound).toMatchObject({ type: 'consent.granted', payload: { eventId: event!.id, topicId: topic.id, channels: ['email', 'sms'] } });
  });

  it('bad input: no confirmation, no name and no channel give 400 with every field error, and change nothing', async () => {
    const { patient, topic, text } = await setup();
    const cookie = await sessionFor(patient.id);
    const res = await sign(cookie, topic.key, text.id, { confirm: '', signatureName: ' ', channels: [] });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('Tick the box to confirm');
    expect(html).toContain('Type your full name to sign.');
    expect(html).toContain('Choose at least one way');
    const forged = await sign(cookie, topic.key, text.id, { channels: ['email', 'fax'] });
    expect(forged.status).toBe(400);
    expect(await eventsOf(patient.id)).toHaveLength(0);
  });

  it('AV5: a text that changed while the patient read it is not signed (409)', async () => {
    const { patient, topic } = await setup();
    const cookie = await sessionFor(patient.id);
    const res = await sign(cookie, topic.key, crypto.randomUUID());
    expect(res.status).toBe(409);
    expect(await eventsOf(patient.id)).toHaveLength(0);
  });

  it('AV5, EN3: the signed copy downloads as HTML with the exact text and evidence; another patient gets a 404', async () => {
    const { patient, topic, text } = await setup();
    const cookie = await sessionFor(patient.id);
    await sign(cookie, topic.key, text.id);
    const [event] = await eventsOf(patient.id);
    const download = await dev.fetch(`/o/${org.slug}/choices/record/${event!.id}/download`, { headers: { cookie } });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="authorisation-${topic.key}-\\d{4}-\\d{2}-\\d{2}\\.html"$`));
    expect(download.headers.get('cache-control')).toBe('no-store');
    const html = await download.text();
    expect(html).toContain(text.contentHash!);
    expect(html).toContain('Pat Example');
    expect(html).toContain('127.0.0.1');
    expect(html).not.toMatch(/<script/i);
    const other = await createTestPatient(handle, org.id);
    const otherCookie = await sessionFor(other.patient.id);
    expect((await dev.fetch(`/o/${org.slug}/choices/record/${event!.id}/download`, { headers: { cookie: otherCookie } })).status).toBe(404);
    expect((await dev.fetch(`/o/${org.slug}/choices/record/${event!.id}`, { headers: { cookie: otherCookie } })).status).toBe(404);
  });

  it('AV7: renewing from the page is a new signed record that names the old one; the old row is untouched', async () => {
    const { patient, topic, text } = await setup();
    const cookie = await sessionFor(patient.id);
    await sign(cookie, topic.key, text.id);
    const [grant] = await eventsOf(patient.id);
    const renewed = await sign(cookie, topic.key, text.id, { signatureName: 'Pat Renewed' });
    expect(renewed.status).toBe(303);
    const events = await eventsOf(patient.id);
    const renewal = events.find((e) => e.kind === 'renewed')!;
    expect(renewal.renewsEventId).toBe(grant!.id);
    expect(events.find((e) => e.id === grant!.id)).toEqual(grant);
    expect((await stateOf(patient.id, topic.id))!.grantEventId).toBe(renewal.id);
  });

  it('RV1: revoking from the page ends the authorisation at once; history lists every event (AU3)', async () => {
    const { patient, topic, text } = await setup();
    const cookie = await sessionFor(patient.id);
    await sign(cookie, topic.key, text.id);
    const res = await dev.fetch(`/o/${org.slug}/choices/${topic.key}/revoke`, { method: 'POST', headers: formHeaders(cookie), body: 'intent=revoke' });
    expect(res.status).toBe(303);
    expect((await stateOf(patient.id, topic.id))!.status).toBe('revoked');
    const history = await (await dev.fetch(`/o/${org.slug}/choices/history`, { headers: { cookie } })).text();
    expect(history).toContain('You revoked permission');
    expect(history).toContain('You gave permission');
  });
});

describe('preferences', () => {
  it('bad input gets 400 with field errors and changes nothing; good input saves and is audited', async () => {
    const { patient, topic } = await setup();
    const cookie = await sessionFor(patient.id);
    const bad = new URLSearchParams({ weeklyCap: 'lots', timeZone: 'Mars/Olympus', quietHours: 'on', quietStart: '25:00', quietEnd: '08:00', pauseAllUntil: '2001-01-01' });
    bad.append('topicId', topic.id);
    bad.append('topics.0.frequency', 'paused');
    const res = await dev.fetch(`/o/${org.slug}/preferences`, { method: 'POST', headers: formHeaders(cookie), body: bad });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('Keep at least one way to reach you about your care.');
    expect(html).toContain('Choose a time zone from the list.');
    expect(await db.select().from(patientPreferences).where(eq(patientPreferences.patientId, patient.id))).toHaveLength(0);

    const good = new URLSearchParams({ careChannels: 'portal', weeklyCap: '3', timeZone: 'America/Chicago', quietHours: 'on', quietStart: '21:30', quietEnd: '07:00' });
    good.append('careChannels', 'email');
    good.append('topicId', topic.id);
    good.append('topics.0.channels', 'email');
    good.append('topics.0.frequency', 'weekly');
    const saved = await dev.fetch(`/o/${org.slug}/preferences`, { method: 'POST', headers: formHeaders(cookie), body: good });
    expect(saved.status).toBe(303);
    const [prefs] = await db.select().from(patientPreferences).where(eq(patientPreferences.patientId, patient.id));
    expect(prefs).toMatchObject({ careChannels: ['portal', 'email'], weeklyCap: 3, quietStartMinute: 21 * 60 + 30, quietEndMinute: 7 * 60, timeZone: 'America/Chicago' });
    expect(await topicPrefOf(patient.id, topic.id)).toMatchObject({ channels: ['email'], frequency: 'weekly' });
    const audits = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.actorId, patient.id)));
    expect(audits.filter((a) => a.action === 'preferences.updated')).toHaveLength(2);
  });

  it('EN3: a topic id from another organisation is refused and nothing is saved', async () => {
    const { patient } = await setup();
    const foreign = await publishedTopic(handle, otherOrg.id);
    const cookie = await sessionFor(patient.id);
    const body = new URLSearchParams({ careChannels: 'email', weeklyCap: '', timeZone: 'UTC', topicId: foreign.topic.id, 'topics.0.channels': 'email', 'topics.0.frequency': 'immediate' });
    const res = await dev.fetch(`/o/${org.slug}/preferences`, { method: 'POST', headers: formHeaders(cookie), body });
    expect(res.status).toBe(400);
    expect(await db.select().from(patientPreferences).where(eq(patientPreferences.patientId, patient.id))).toHaveLength(0);
  });
});

describe('preference link', () => {
  it('shows choices without a session, never the name or contact details, and sets no cookie', async () => {
    const { patient, email, topic, text } = await setup();
    await sign(await sessionFor(patient.id), topic.key, text.id);
    const token = await link('preferences', patient.id);
    const res = await dev.fetch(`/o/${org.slug}/p/${token}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain(topic.name);
    expect(html).not.toContain(patient.displayName);
    expect(html).not.toContain(email);
    expect(dev.logLines.join('\n')).not.toContain(token);
  });

  it('RV1: revoking and lowering from the link work without a session; granting goes to sign-in', async () => {
    const { patient, topic, text } = await setup();
    await sign(await sessionFor(patient.id), topic.key, text.id, { channels: ['email', 'sms'] });
    const token = await link('preferences', patient.id);
    const post = (fields: Record<string, string>) => dev.fetch(`/o/${org.slug}/p/${token}`, { method: 'POST', headers: formHeaders(), body: new URLSearchParams(fields) });

    expect((await post({ intent: 'channel_off', topicId: topic.id, channel: 'sms' })).status).toBe(200);
    expect((await topicPrefOf(patient.id, topic.id))!.channels).toEqual(['email', 'push', 'portal']);
    expect((await post({ intent: 'pause_topic', topicId: topic.id, days: '90' })).status).toBe(200);
    expect((await topicPrefOf(patient.id, topic.id))!.frequency).toBe('paused');
    // A link cannot shorten a pause or choose its own length.
    expect((await post({ intent: 'pause_topic', topicId: topic.id, days: '1' })).status).toBe(400);
    expect((await post({ intent: 'revoke', topicId: topic.id })).status).toBe(200);
    const state = await stateOf(patient.id, topic.id);
    expect(state!.status).toBe('revoked');
    const revoked = (await eventsOf(patient.id)).find((e) => e.kind === 'revoked')!;
    expect(revoked.evidence).toMatchObject({ via: 'link', method: 'link' });

    const grant = await post({ intent: 'grant', topicKey: topic.key });
    expect(grant.status).toBe(303);
    expect(grant.headers.get('location')).toBe(`/o/${org.slug}/sign-in?returnTo=${encodeURIComponent(`/o/${org.slug}/choices/${topic.key}/sign`)}`);
    expect(grant.headers.get('set-cookie')).toBeNull();
    // The sign-in page remembers where to come back to, for 10 minutes, as a cookie (never in a later URL).
    const signIn = await dev.fetch(grant.headers.get('location')!);
    expect(signIn.headers.get('set-cookie')).toMatch(/^carepost_return=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/);
  });

  it('EN3: a link cannot revoke or change a topic of another organisation', async () => {
    const { patient } = await setup();
    const foreign = await publishedTopic(handle, otherOrg.id);
    const token = await link('preferences', patient.id);
    const res = await dev.fetch(`/o/${org.slug}/p/${token}`, { method: 'POST', headers: formHeaders(), body: new URLSearchParams({ intent: 'channel_off', topicId: foreign.topic.id, channel: 'email' }) });
    expect(res.status).toBe(400);
    expect(await db.select().from(topicPreferences).where(eq(topicPreferences.topicId, foreign.topic.id))).toHaveLength(0);
  });

  it('CX4: every other purpose, a tampered, an expired and a cross-organisation link are refused with the same page', async () => {
    const { patient } = await setup();
    const bodies = new Set<string>();
    const tokens = [
      ...(['unsubscribe', 'pickup', 'renewal'] as const).map((p) => link(p, patient.id, { topicId: crypto.randomUUID(), channel: 'email', deliveryId: crypto.randomUUID() })),
      link('preferences', patient.id, {}, { orgId: otherOrg.id }),
      link('preferences', patient.id, {}, { now: new Date(Date.now() - 100 * DAY_MS) }),
      link('preferences', patient.id).then((t) => `${t.slice(0, -4)}${t.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`),
    ];
    for (const token of await Promise.all(tokens)) {
      const res = await dev.fetch(`/o/${org.slug}/p/${token}`);
      expect(res.status).toBe(404);
      bodies.add((await res.text()).replace(/nonce="[^"]+"/g, ''));
      const post = await dev.fetch(`/o/${org.slug}/p/${token}`, { method: 'POST', headers: formHeaders(), body: 'intent=stop_all' });
      expect(post.status).toBe(404);
    }
    expect(bodies.size).toBe(1);
    expect(await db.select().from(patientPreferences).where(eq(patientPreferences.patientId, patient.id))).toHaveLength(0);
  });
});

describe('one-click unsubscribe (RFC 8058)', () => {
  it('EM2: GET and HEAD show the page and change nothing; the POST needs no cookie and takes effect at once', async () => {
    const { patient, topic, text } = await setup();
    await sign(await sessionFor(patient.id), topic.key, text.id);
    const token = await link('unsubscribe', patient.id, { topicId: topic.id, channel: 'email' });
    const url = `/o/${org.slug}/u/${token}`;
    const get = await dev.fetch(url);
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('Unsubscribe');
    expect((await dev.fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect(await topicPrefOf(patient.id, topic.id)).toBeUndefined();

    // What a mailbox provider sends: no cookie, no Origin, the RFC 8058 body.
    const post = await fetch(`${dev.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(post.status).toBe(200);
    expect((await topicPrefOf(patient.id, topic.id))!.channels).not.toContain('email');
    const [audit] = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'preferences.updated'), eq(auditEvents.subjectId, topic.id)));
    expect(audit!.details).toMatchObject({ via: 'unsubscribe' });
    // Again: still 200, nothing new.
    expect((await fetch(`${dev.url}${url}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status).toBe(200);
    // From another site's page (a webmail client) it works too: the link, not a cookie, is the authority.
    const crossSite = await fetch(`${dev.url}${url}`, { method: 'POST', headers: { origin: 'https://mail.example.net', 'sec-fetch-site': 'cross-site' }, body: 'List-Unsubscribe=One-Click' });
    expect(crossSite.status).toBe(200);
    expect(await (await dev.fetch(url)).text()).toContain('You are unsubscribed');
  });

  it('RV2: a link minted 60 days ago still works; an expired one and a preference link are refused', async () => {
    const { patient, topic } = await setup();
    const old = await link('unsubscribe', patient.id, { topicId: topic.id, channel: 'sms' }, { now: new Date(Date.now() - 60 * DAY_MS) });
    expect((await fetch(`${dev.url}/o/${org.slug}/u/${old}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status).toBe(200);
    expect((await topicPrefOf(patient.id, topic.id))!.channels).not.toContain('sms');
    const expired = await link('unsubscribe', patient.id, { topicId: topic.id, channel: 'email' }, { now: new Date(Date.now() - 91 * DAY_MS) });
    expect((await fetch(`${dev.url}/o/${org.slug}/u/${expired}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status).toBe(404);
    const wrongPurpose = await link('preferences', patient.id, { topicId: topic.id, channel: 'email' });
    expect((await fetch(`${dev.url}/o/${org.slug}/u/${wrongPurpose}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status).toBe(404);
    expect((await topicPrefOf(patient.id, topic.id))!.channels).toContain('email');
  });
});

describe('renewal link', () => {
  it('goes to sign-in without a session and to the renewal page with one; it signs nobody in', async () => {
    const { patient, topic } = await setup();
    const token = await link('renewal', patient.id, { topicId: topic.id });
    const anon = await dev.fetch(`/o/${org.slug}/r/${token}`);
    expect(anon.status).toBe(303);
    expect(anon.headers.get('location')).toBe(`/o/${org.slug}/sign-in?returnTo=${encodeURIComponent(`/o/${org.slug}/choices/${topic.key}/sign`)}`);
    expect(anon.headers.get('set-cookie')).toBeNull();
    const signedIn = await dev.fetch(`/o/${org.slug}/r/${token}`, { headers: { cookie: await sessionFor(patient.id) } });
    expect(signedIn.headers.get('location')).toBe(`/o/${org.slug}/choices/${topic.key}/sign`);
    const someoneElse = await createTestPatient(handle, org.id);
    const wrong = await dev.fetch(`/o/${org.slug}/r/${token}`, { headers: { cookie: await sessionFor(someoneElse.patient.id) } });
    expect(wrong.status).toBe(403);
  });
});

describe('npm run link', () => {
  it('CX4: mints a link the server accepts for its purpose only', async () => {
    const { patient, topic } = await setup();
    const run = promisify(execFile);
    const env = { ...process.env, DATABASE_URL: inject('databaseUrl'), CAREPOST_DATA_DIR: dev.dataDir, PUBLIC_URL: 'http://localhost:3999', NODE_ENV: 'test' } as NodeJS.ProcessEnv;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'server/links/cli.ts', '--org', org.slug, '--patient', patient.externalRef, '--purpose', 'unsubscribe', '--topic', topic.key, '--channel', 'email'], { env });
    const url = new URL(stdout.trim());
    expect(url.pathname).toMatch(new RegExp(`^/o/${org.slug}/u/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    expect((await fetch(`${dev.url}${url.pathname}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status).toBe(200);
    expect((await dev.fetch(url.pathname.replace('/u/', '/p/'))).status).toBe(404);
    const failed = await run(process.execPath, ['--import', 'tsx', 'server/links/cli.ts', '--org', org.slug, '--patient', 'nobody', '--purpose', 'preferences'], { env }).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('No patient with that id');
  });
});
