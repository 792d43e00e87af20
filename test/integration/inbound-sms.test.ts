// RV3: inbound SMS opt-out through the real HTTP app and the test database. The dev server (dev SMS sink) accepts
// unsigned webhooks; a second app is configured for Twilio and checks X-Twilio-Signature, computed here the way
// Twilio documents it; a production server without an SMS provider has no webhook at all.
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect } from '../../db/client';
import { auditEvents, contactPoints, inboundSms, outboundEvents, patients, suppressions } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import { loadConfig } from '../../server/config';
import { inboundSenderHash, optOutKeyword } from '../../server/delivery/inbound-sms';
import { createTwilioSmsTransport } from '../../server/delivery/sms';
import { createSmtpTransport } from '../../server/delivery/transport';
import { createHttpApp } from '../../server/http/app';
import { listen, loadRemixBuild } from '../../server/http/server';
import { SMS_WEBHOOK_PATH, twilioSignature } from '../../server/http/sms-webhook';
import { createLogger } from '../../server/logger';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let prod: Awaited<ReturnType<typeof startTestServer>>;

const AUTH_TOKEN = 'inbound-test-auth-token-not-real';
const PUBLIC_ORIGIN = 'https://portal.example.com';
const twilio: { url: string; codeSecret: Buffer; logLines: string[]; close: () => Promise<void> } = { url: '', codeSecret: Buffer.alloc(0), logLines: [], close: async () => {} };

/** A number no other test uses: the lookup is across every organisation in the shared database. */
function freshNumber(): string {
  return `+4477${randomInt(0, 1e9).toString().padStart(9, '0')}`;
}

function freshSid(): string {
  return `SM${randomBytes(16).toString('hex')}`;
}

/** What Twilio posts for an inbound SMS (a realistic subset of its fields). */
function inboundFields(from: string, body: string, sid = freshSid()): Record<string, string> {
  return {
    ToCountry: 'US',
    SmsMessageSid: sid,
    NumMedia: '0',
    SmsSid: sid,
    SmsStatus: 'received',
    Body: body,
    To: '+15005550006',
    NumSegments: '1',
    MessageSid: sid,
    AccountSid: `AC${'0123456789abcdef'.repeat(2)}`,
    From: from,
    ApiVersion: '2010-04-01',
  };
}

/** Twilio's documented algorithm, written out independently of the server's code: URL + sorted name+value, HMAC-SHA1. */
function documentedSignature(authToken: string, url: string, fields: Record<string, string>): string {
  const data = Object.keys(fields)
    .sort()
    .reduce((acc, name) => acc + name + fields[name], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

function post(baseUrl: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${baseUrl}${SMS_WEBHOOK_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

async function patientWithNumber(orgId: string, number: string) {
  const tag = randomBytes(4).toString('hex');
  const [patient] = await db.insert(patients).values({ orgId, externalRef: `ext-${tag}`, displayName: `Pat ${tag}` }).returning();
  const [contact] = await db
    .insert(contactPoints)
    .values({ orgId, patientId: patient!.id, kind: 'sms', value: number, source: 'organisation', verifiedAt: new Date() })
    .returning();
  return { patient: patient!, contactPointId: contact!.id };
}

async function suppressionsFor(number: string) {
  return db.select().from(suppressions).where(and(eq(suppressions.kind, 'sms'), eq(suppressions.value, number)));
}

async function suppressionAudits(orgId: string) {
  return db.select().from(auditEvents).where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, 'suppression.added')));
}

async function suppressionEvents(orgId: string) {
  return db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, orgId), eq(outboundEvents.type, 'suppression.added')));
}

async function inboundRow(sid: string) {
  const [row] = await db.select().from(inboundSms).where(eq(inboundSms.providerMessageId, sid));
  return row;
}

function messageOf(twiml: string): string | undefined {
  return /<Message>([\s\S]*)<\/Message>/.exec(twiml)?.[1];
}

beforeAll(async () => {
  dev = await startTestServer();
  prod = await startTestServer({ production: true });

  // The whole app again, configured for Twilio. TWILIO_BASE_URL points at a closed local port: nothing here sends.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-inbound-'));
  const databaseUrl = inject('databaseUrl');
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    CAREPOST_DATA_DIR: dataDir,
    PUBLIC_URL: PUBLIC_ORIGIN,
    TWILIO_ACCOUNT_SID: `AC${'0123456789abcdef'.repeat(2)}`,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_FROM: '+15005550006',
    TWILIO_BASE_URL: 'http://127.0.0.1:1',
  });
  if (config.sms.provider !== 'twilio') throw new Error('expected a Twilio configuration');
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      twilio.logLines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  const database = connect(databaseUrl, { max: 3 });
  const mail = createSmtpTransport('smtp://127.0.0.1:1', { pool: false });
  const sms = createTwilioSmsTransport(config.sms);
  const app = createHttpApp({ config, database, logger: createLogger({ destination }), build: await loadRemixBuild(), mail, sms });
  const server = await listen(app, 0, '127.0.0.1');
  twilio.url = server.url;
  twilio.codeSecret = config.secrets.CODE_HMAC_SECRET;
  twilio.close = async () => {
    await server.close(1_000);
    await mail.close?.();
    await database.close();
  };
});

afterAll(async () => {
  await dev?.close();
  await prod?.close();
  await twilio.close();
  await handle.close();
});

describe('RV3: opt-out keywords', () => {
  it('RV3: the whole message must be a keyword, in any case, spacing or trailing punctuation', () => {
    expect(optOutKeyword('sToP')).toBe('STOP');
    expect(optOutKeyword('  Opt   Out!! ')).toBe('OPT OUT');
    expect(optOutKeyword(' cancel. ')).toBe('CANCEL');
    expect(optOutKeyword('OptOut')).toBe('OPTOUT');
    expect(optOutKeyword('stopall')).toBe('STOPALL');
    expect(optOutKeyword('end\n')).toBe('END');
    for (const text of ['please stop sending', 'Stop by at 3pm?', 'HELP', 'START', '', '   ', 'STOP STOP', 'stopp', '.stop', 'opt-out please']) {
      expect(optOutKeyword(text)).toBeUndefined();
    }
  });
});

describe('RV3: inbound SMS webhook (dev sink, unsigned)', () => {
  const cases = ['sToP', 'qUiT', 'End', 'rEvOkE', 'Opt Out', 'cAnCeL', 'unSubscribe', ' cancel. ', 'oPtOuT', 'StopAll', 'STOP!'];

  it.each(cases)('RV3: each keyword, in mixed case, opts the number out: %j', async (text) => {
    const org = await createTestOrganisation(handle, 'Keyword Clinic');
    const number = freshNumber();
    const { patient, contactPointId } = await patientWithNumber(org.id, number);
    const sid = freshSid();

    const res = await post(dev.url, inboundFields(number, text, sid));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    const twiml = await res.text();
    expect(messageOf(twiml)).toBe('You will get no more text messages from Keyword Clinic. Messages about your care will come another way.');

    const rows = await suppressionsFor(number);
    expect(rows).toEqual([expect.objectContaining({ orgId: org.id, kind: 'sms', value: number, reason: 'sms_stop' })]);
    const [audit] = await suppressionAudits(org.id);
    expect(audit).toMatchObject({ actorType: 'system', subjectType: 'patient', subjectId: patient.id });
    expect(audit!.details).toEqual({ kind: 'sms', reason: 'sms_stop', contactPointId });
    const [event] = await suppressionEvents(org.id);
    expect(event).toMatchObject({ patientId: patient.id, payload: { kind: 'sms', reason: 'sms_stop', patientId: patient.id } });

    // Only the keyword and a keyed hash of the sender are kept.
    const stored = await inboundRow(sid);
    expect(stored).toMatchObject({ keyword: optOutKeyword(text), fromHash: inboundSenderHash(dev.config.secrets.CODE_HMAC_SECRET, number) });
    expect(JSON.stringify(stored)).not.toContain(number.slice(1));
  });

  it('RV3: at most one confirmation: a second STOP and a replayed MessageSid get an empty reply and no second audit event', async () => {
    const org = await createTestOrganisation(handle, 'Once Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    const first = inboundFields(number, 'STOP');

    const one = await (await post(dev.url, first)).text();
    expect(messageOf(one)).toContain('Once Clinic');

    const again = await post(dev.url, inboundFields(number, 'stop'));
    expect(again.status).toBe(200);
    const againText = await again.text();
    expect(againText).toContain('<Response/>');
    expect(againText).not.toContain('<Message>');

    const replay = await post(dev.url, first); // the provider retrying the same webhook
    expect(replay.status).toBe(200);
    const replayText = await replay.text();
    expect(replayText).toContain('<Response/>');
    expect(replayText).not.toContain('<Message>');

    expect(await suppressionAudits(org.id)).toHaveLength(1);
    expect(await suppressionEvents(org.id)).toHaveLength(1);
    expect(await suppressionsFor(number)).toHaveLength(1);
  });

  it('RV3: at most one confirmation even when several STOPs arrive at once', async () => {
    const org = await createTestOrganisation(handle, 'Race Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    const sid = freshSid();
    // Five different messages and the same message delivered three times, all concurrently.
    const requests = [
      ...Array.from({ length: 5 }, () => inboundFields(number, 'STOP')),
      ...Array.from({ length: 3 }, () => inboundFields(number, 'Stop', sid)),
    ];
    const replies = await Promise.all(requests.map(async (fields) => (await post(dev.url, fields)).text()));
    expect(replies.filter((twiml) => messageOf(twiml) !== undefined)).toHaveLength(1);
    expect(await suppressionAudits(org.id)).toHaveLength(1);
    expect(await suppressionEvents(org.id)).toHaveLength(1);
  });

  it('RV3: a message that is not a keyword changes nothing and its text is not stored', async () => {
    const org = await createTestOrganisation(handle, 'Chatty Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    for (const text of ['Stop by at 3pm?', 'HELP', '', 'please stop sending']) {
      const sid = freshSid();
      const res = await post(dev.url, inboundFields(number, text, sid));
      expect(res.status).toBe(200);
      const twiml = await res.text();
      expect(twiml).toContain('<Response/>');
      expect(twiml).not.toContain('<Message>');
      const stored = await inboundRow(sid);
      expect(stored).toMatchObject({ keyword: null, fromHash: inboundSenderHash(dev.config.secrets.CODE_HMAC_SECRET, number) });
      const flat = JSON.stringify(stored);
      expect(flat).not.toContain(number.slice(1));
      if (text) expect(flat.toLowerCase()).not.toContain(text.toLowerCase());
    }
    expect(await suppressionsFor(number)).toEqual([]);
    expect(await suppressionAudits(org.id)).toEqual([]);
    expect(await suppressionEvents(org.id)).toEqual([]);
  });

  it('RV3: a number held in two organisations is opted out of both; the names are escaped in the TwiML', async () => {
    const a = await createTestOrganisation(handle, 'Smith & Jones <Dental>');
    const b = await createTestOrganisation(handle, 'Zeta Eye Care');
    const other = await createTestOrganisation(handle, 'Unrelated Clinic');
    const number = freshNumber();
    await patientWithNumber(a.id, number);
    await patientWithNumber(b.id, number);
    await patientWithNumber(other.id, freshNumber());

    const res = await post(dev.url, inboundFields(number, 'UNSUBSCRIBE'));
    const twiml = await res.text();
    expect(messageOf(twiml)).toBe(
      'You will get no more text messages from Smith &amp; Jones &lt;Dental&gt; and Zeta Eye Care. Messages about your care will come another way.',
    );
    expect((await suppressionsFor(number)).map((s) => s.orgId).sort()).toEqual([a.id, b.id].sort());
    expect(await suppressionAudits(a.id)).toHaveLength(1);
    expect(await suppressionAudits(b.id)).toHaveLength(1);
    expect(await suppressionAudits(other.id)).toEqual([]);
    expect(await db.select().from(suppressions).where(eq(suppressions.orgId, other.id))).toEqual([]);
  });

  it('RV3: a number that is in no organisation gets an empty reply', async () => {
    const number = freshNumber();
    const sid = freshSid();
    const res = await post(dev.url, inboundFields(number, 'STOP', sid));
    expect(res.status).toBe(200);
    const twiml = await res.text();
    expect(twiml).toContain('<Response/>');
    expect(twiml).not.toContain('<Message>');
    expect(await suppressionsFor(number)).toEqual([]);
    expect(await inboundRow(sid)).toMatchObject({ keyword: 'STOP' });
  });

  it('a request without MessageSid or From is refused with 400', async () => {
    const fields = inboundFields(freshNumber(), 'STOP');
    const { MessageSid: _m, SmsSid: _s, ...withoutSid } = fields;
    expect((await post(dev.url, withoutSid)).status).toBe(400);
    const { From: _f, ...withoutFrom } = fields;
    expect((await post(dev.url, withoutFrom)).status).toBe(400);
  });

  it('AU2: audit and outbound rows carry no number and no text, the chains verify, and the logs hold neither', async () => {
    const org = await createTestOrganisation(handle, 'Private Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    await post(dev.url, inboundFields(number, 'Revoke'));
    await post(dev.url, inboundFields(number, 'Stop by at 3pm?'));

    const audits = await db.select().from(auditEvents).where(eq(auditEvents.orgId, org.id));
    const events = await db.select().from(outboundEvents).where(eq(outboundEvents.orgId, org.id));
    expect(audits.map((a) => a.action)).toContain('suppression.added');
    const flat = JSON.stringify([audits, events]);
    expect(flat).not.toContain(number.slice(1));
    expect(flat.toLowerCase()).not.toContain('revoke');
    expect(flat).not.toContain('3pm');
    expect(await verifyAuditChain(db, org.id)).toMatchObject({ ok: true, problems: [] });

    const logs = dev.logLines.join('\n');
    expect(logs).not.toContain(number.slice(1));
    expect(logs).not.toContain('3pm');
    expect(logs).toContain('inbound sms handled');
  });
});

describe('RV3: inbound SMS webhook (Twilio, signed)', () => {
  const signedUrl = `${PUBLIC_ORIGIN}${SMS_WEBHOOK_PATH}`;

  it("the server's signature matches Twilio's documented example", () => {
    // From Twilio's request-validation documentation (auth token 12345).
    const params = new URLSearchParams({ CallSid: 'CA1234567890ABCDE', Caller: '+14158675310', Digits: '1234', From: '+14158675310', To: '+18005551212' });
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=');
  });

  it('RV3: a correct signature over the public URL is accepted and opts the number out', async () => {
    const org = await createTestOrganisation(handle, 'Signed Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    const fields = inboundFields(number, 'Stop');
    const res = await post(twilio.url, fields, { 'x-twilio-signature': documentedSignature(AUTH_TOKEN, signedUrl, fields) });
    expect(res.status).toBe(200);
    expect(messageOf(await res.text())).toContain('Signed Clinic');
    expect(await suppressionsFor(number)).toHaveLength(1);
    expect(await inboundRow(fields.MessageSid!)).toMatchObject({ keyword: 'STOP', fromHash: inboundSenderHash(twilio.codeSecret, number) });
  });

  it('RV3: the default port may or may not be in the signed URL', async () => {
    const org = await createTestOrganisation(handle, 'Port Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    const fields = inboundFields(number, 'quit');
    const res = await post(twilio.url, fields, { 'x-twilio-signature': documentedSignature(AUTH_TOKEN, `https://portal.example.com:443${SMS_WEBHOOK_PATH}`, fields) });
    expect(res.status).toBe(200);
    expect(await suppressionsFor(number)).toHaveLength(1);
  });

  it('RV3: a forged or missing signature gets 403 and changes nothing', async () => {
    const org = await createTestOrganisation(handle, 'Forged Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    const fields = inboundFields(number, 'STOP');
    const attempts: Array<Record<string, string>> = [
      {}, // missing
      { 'x-twilio-signature': '' },
      { 'x-twilio-signature': documentedSignature('the-wrong-auth-token-entirely', signedUrl, fields) },
      // Signed for the address the request reached, not the configured public URL.
      { 'x-twilio-signature': documentedSignature(AUTH_TOKEN, `${twilio.url}${SMS_WEBHOOK_PATH}`, fields) },
      // Signed over another body: a HELP turned into a STOP in transit.
      { 'x-twilio-signature': documentedSignature(AUTH_TOKEN, signedUrl, { ...fields, Body: 'HELP' }) },
      { 'x-twilio-signature': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
    ];
    for (const headers of attempts) {
      const res = await post(twilio.url, fields, headers);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('<Response');
    }
    expect(await inboundRow(fields.MessageSid!)).toBeUndefined();
    expect(await suppressionsFor(number)).toEqual([]);
    expect(await suppressionAudits(org.id)).toEqual([]);
    expect(twilio.logLines.join('\n')).not.toContain(number.slice(1));
  });

  it('a body over 16 KiB is refused before any work', async () => {
    const fields = inboundFields(freshNumber(), 'x'.repeat(17 * 1024));
    const res = await post(twilio.url, fields, { 'x-twilio-signature': documentedSignature(AUTH_TOKEN, signedUrl, fields) });
    expect(res.status).toBe(413);
    expect(await inboundRow(fields.MessageSid!)).toBeUndefined();
  });
});

describe('RV3: inbound SMS webhook without an SMS provider', () => {
  it('production with no provider answers 404 and stores nothing', async () => {
    const org = await createTestOrganisation(handle, 'No Provider Clinic');
    const number = freshNumber();
    await patientWithNumber(org.id, number);
    const fields = inboundFields(number, 'STOP');
    const res = await post(prod.url, fields);
    expect(res.status).toBe(404);
    expect(await inboundRow(fields.MessageSid!)).toBeUndefined();
    expect(await suppressionsFor(number)).toEqual([]);
  });
});
