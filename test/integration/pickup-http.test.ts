// Secure message pickup over real HTTP, against the real app, Postgres and SMTP catcher: the pickup link, the inbox, a
// message, its attachments, replies, expiry and retraction, and who may see what (EN3, OT5, CX3, PW1, AU1, AU3).
import { randomUUID } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, deliveries, messageAccess, messages, organisations, outboundEvents, type ConsentChannel } from '../../db/schema/index';
import { enqueueMessage } from '../../server/engine/enqueue';
import { createPatientSession, type VerificationMethod } from '../../server/identity/sessions';
import { linkKeyring, mintLink } from '../../server/links/tokens';
import { accessHistory, REPLY_LIMIT, replyToMessage, retractMessage } from '../../server/messages/inbox';
import { vaultRing, type KekRing } from '../../server/messages/vault';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';
import { mailSnapshot, waitForCode } from '../support/mailbox';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
let otherOrg: Awaited<ReturnType<typeof createTestOrganisation>>;
let ring: KekRing;
const ORIGIN = 'http://localhost:3999';

beforeAll(async () => {
  dev = await startTestServer();
  ring = vaultRing(dev.config);
  org = await createTestOrganisation(handle, 'Pickup Clinic');
  otherOrg = await createTestOrganisation(handle, 'Other Pickup Clinic');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const formHeaders = (cookie?: string) => ({
  'content-type': 'application/x-www-form-urlencoded',
  origin: ORIGIN,
  'sec-fetch-site': 'same-origin',
  'x-forwarded-host': 'localhost:3999',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36',
  ...(cookie ? { cookie } : {}),
});

async function sessionFor(patientId: string, orgId = org.id, method: VerificationMethod = 'code_email') {
  const { token } = await db.transaction((tx) => createPatientSession(tx, { orgId, patientId, method, now: new Date() }));
  return `carepost_session=${token}`;
}

const cookieFrom = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`))
    ?.slice(name.length + 1);

type Sent = { messageId: string; deliveryIds: string[] };

/** A message enqueued through the real function, its deliveries then marked handed off (the engine is tested elsewhere). */
async function sendMessage(
  orgId: string,
  patientId: string,
  content: { subject: string; text: string; html?: string },
  options: { channels?: ConsentChannel[]; attachments?: { name: string; contentType: string; content: Buffer }[]; handedOff?: boolean } = {},
): Promise<Sent> {
  const result = await db.transaction((tx) =>
    enqueueMessage(tx, ring, {
      orgId,
      category: 'treatment',
      content,
      attachments: options.attachments,
      recipients: [{ patientId, channels: options.channels ?? ['portal', 'email'] }],
      actor: { type: 'system' },
      now: new Date(),
    }),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.fieldErrors));
  if (options.handedOff !== false) {
    await db.update(deliveries).set({ status: 'sent', decision: 'allow', route: 'portal', sentAt: new Date() }).where(inArray(deliveries.id, result.deliveryIds));
  }
  return result;
}

async function pickupLink(patientId: string, deliveryId: string, options: { orgId?: string; now?: Date; ttlSeconds?: number } = {}) {
  const token = await mintLink(linkKeyring(dev.config.secrets.LINK_SIGNING_SECRET), {
    purpose: 'pickup',
    orgId: options.orgId ?? org.id,
    patientId,
    context: { deliveryId },
    now: options.now ?? new Date(),
    ttlSeconds: options.ttlSeconds,
    linkId: randomUUID(),
  });
  return `/o/${org.slug}/m/${token}`;
}

const accessCount = async (messageId: string) => (await db.select().from(messageAccess).where(eq(messageAccess.messageId, messageId))).length;

describe('the inbox and a message', () => {
  it('AU1, AU3: the inbox lists the message unread; opening it records the open, shows it in its history and marks it read', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    const { messageId } = await sendMessage(org.id, patient.id, { subject: 'Your scan results', text: 'The scan was clear.' });
    const queued = await sendMessage(org.id, patient.id, { subject: 'Not handed off yet', text: 'Still queued.' }, { handedOff: false });

    const inbox = await dev.fetch(`/o/${org.slug}/messages`, { headers: { cookie } });
    expect(inbox.status).toBe(200);
    const inboxHtml = await inbox.text();
    expect(inboxHtml).toContain('Your scan results');
    expect(inboxHtml).toContain('Unread');
    expect(inboxHtml).toContain('1 unread.');
    expect(inboxHtml).not.toContain('Not handed off yet');
    expect(await accessCount(messageId)).toBe(0);

    const view = await dev.fetch(`/o/${org.slug}/messages/${messageId}`, { headers: { cookie, 'user-agent': formHeaders()['user-agent'] } });
    expect(view.status).toBe(200);
    const html = await view.text();
    expect(html).toContain('<h1>Your scan results</h1>');
    expect(html).toContain('The scan was clear.');
    expect(html).toMatch(/Who opened this message[\s\S]*Chrome on Linux \(this device\)[\s\S]*a code sent by email/);
    const [access] = await db.select().from(messageAccess).where(eq(messageAccess.messageId, messageId));
    expect(access).toMatchObject({ orgId: org.id, patientId: patient.id, attachmentId: null, verificationMethod: 'code_email', device: 'Chrome on Linux' });
    const audit = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.subjectId, messageId), eq(auditEvents.action, 'message.opened')));
    expect(audit).toHaveLength(1);
    const events = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, org.id), eq(outboundEvents.type, 'message.opened'), eq(outboundEvents.patientId, patient.id)));
    expect(events.map((e) => e.payload)).toEqual([{ messageId, attachmentId: null }]);

    // The organisation sees the same record of opens for its message; another organisation sees nothing.
    expect(await accessHistory(db, { orgId: org.id, messageId, limit: 10 })).toEqual([expect.objectContaining({ patientId: patient.id, device: 'Chrome on Linux' })]);
    expect(await accessHistory(db, { orgId: otherOrg.id, messageId, limit: 10 })).toEqual([]);

    const after = await (await dev.fetch(`/o/${org.slug}/messages`, { headers: { cookie } })).text();
    expect(after).toContain('You have read them all.');
    expect(after).not.toContain('inbox__badge');
    expect(after).not.toContain('inbox__item--unread');
    const overall = await (await dev.fetch(`/o/${org.slug}/messages/access`, { headers: { cookie } })).text();
    expect(overall).toContain('Who opened your messages');
    expect(overall).toContain(`/o/${org.slug}/messages/${messageId}`);
    // The queued one is not the patient's to read yet.
    expect((await dev.fetch(`/o/${org.slug}/messages/${queued.messageId}`, { headers: { cookie } })).status).toBe(404);
  });

  it("EN3: another patient's message and another organisation's message both answer 404, and nothing is recorded", async () => {
    const { patient: alice } = await createTestPatient(handle, org.id);
    const { patient: bob } = await createTestPatient(handle, org.id);
    const { patient: carol } = await createTestPatient(handle, otherOrg.id);
    const bobs = await sendMessage(org.id, bob.id, { subject: 'Bob only', text: 'For Bob.' }, { attachments: [{ name: 'b.txt', contentType: 'text/plain', content: Buffer.from('bob') }] });
    const carols = await sendMessage(otherOrg.id, carol.id, { subject: 'Carol only', text: 'For Carol.' });
    const cookie = await sessionFor(alice.id);
    for (const id of [bobs.messageId, carols.messageId, 'not-a-uuid']) {
      const res = await dev.fetch(`/o/${org.slug}/messages/${id}`, { headers: { cookie } });
      expect(res.status).toBe(404);
      expect(await res.text()).not.toMatch(/Bob only|Carol only/);
    }
    const [att] = await db.select({ id: messageAccess.id }).from(messageAccess).where(eq(messageAccess.messageId, bobs.messageId));
    expect(att).toBeUndefined();
    const { messageAttachments } = await import('../../db/schema/index');
    const [bobFile] = await db.select({ id: messageAttachments.id }).from(messageAttachments).where(eq(messageAttachments.messageId, bobs.messageId));
    expect((await dev.fetch(`/o/${org.slug}/messages/${bobs.messageId}/attachments/${bobFile!.id}`, { headers: { cookie } })).status).toBe(404);
    // Carol's session is for the other organisation: it is no session here at all.
    const carolCookie = await sessionFor(carol.id, otherOrg.id);
    const res = await dev.fetch(`/o/${org.slug}/messages/${carols.messageId}`, { headers: { cookie: carolCookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/o/${org.slug}/sign-in`);
    expect(await accessCount(bobs.messageId)).toBe(0);
    expect(await accessCount(carols.messageId)).toBe(0);
  });

  it('CX3: a script, an event handler and a javascript: URL in the body are neutralised; plain text is escaped', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    const html =
      '<p onclick="steal()">Hello <script>alert("x")</script><img src="https://tracker.example/p.gif" onerror="alert(1)" alt="logo">' +
      '<a href="javascript:alert(1)">click</a> <a href="https://clinic.example/info">info</a><iframe src="https://evil.example"></iframe>' +
      '<svg onload="alert(1)"></svg><style>body{display:none}</style><form action="https://evil.example"><input name="p"></form></p>';
    const { messageId } = await sendMessage(org.id, patient.id, { subject: 'Formatted', text: 'Plain', html });
    const page = await (await dev.fetch(`/o/${org.slug}/messages/${messageId}`, { headers: { cookie } })).text();
    const body = page.slice(page.indexOf('class="message-body"'), page.indexOf('id="reply-heading"'));
    expect(body).toContain('Hello');
    expect(body).toContain('href="https://clinic.example/info"');
    expect(body).toContain('[Image: logo]');
    for (const bad of ['<script', 'onclick', 'onerror', 'onload', 'javascript:', '<iframe', '<svg', '<style', '<form', 'tracker.example', 'steal()']) expect(body).not.toContain(bad);

    const plain = await sendMessage(org.id, patient.id, { subject: 'Plain <b>text</b>', text: 'Line one\n<script>alert(1)</script>' });
    const plainPage = await (await dev.fetch(`/o/${org.slug}/messages/${plain.messageId}`, { headers: { cookie } })).text();
    expect(plainPage).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(plainPage).toContain('<h1>Plain &lt;b&gt;text&lt;/b&gt;</h1>');
  });

  it('PW1: inbox, message, access history, attachment and pickup responses are no-store; attachments download with their type', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    const pdf = Buffer.from('%PDF-1.4 fake but typed');
    const sent = await sendMessage(org.id, patient.id, { subject: 'With files', text: 'See attached.' }, {
      attachments: [
        { name: 'résultats du test.pdf', contentType: 'application/pdf', content: pdf },
        { name: '../../evil.html', contentType: 'text/html', content: Buffer.from('<script>alert(1)</script>') },
      ],
    });
    const listed = await (await dev.fetch(`/o/${org.slug}/messages`, { headers: { cookie } })).text();
    expect(listed).toContain('· 2 attachments');
    const page = await (await dev.fetch(`/o/${org.slug}/messages/${sent.messageId}`, { headers: { cookie } })).text();
    const ids = [...page.matchAll(/\/attachments\/([0-9a-f-]{36})/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);
    expect(page).toContain('résultats du test.pdf');

    const file = await dev.fetch(`/o/${org.slug}/messages/${sent.messageId}/attachments/${ids[0]}`, { headers: { cookie } });
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/pdf');
    expect(file.headers.get('content-disposition')).toBe(`attachment; filename="r_sultats du test.pdf"; filename*=UTF-8''r%C3%A9sultats%20du%20test.pdf`);
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(pdf);

    // HTML is never served as HTML from our origin, and a path in the name is dropped.
    const evil = await dev.fetch(`/o/${org.slug}/messages/${sent.messageId}/attachments/${ids[1]}`, { headers: { cookie } });
    expect(evil.headers.get('content-type')).toBe('application/octet-stream');
    expect(evil.headers.get('content-disposition')).toMatch(/^attachment; filename="evil.html"/);

    const accesses = await db.select().from(messageAccess).where(eq(messageAccess.messageId, sent.messageId));
    expect(accesses.filter((a) => a.attachmentId !== null).map((a) => a.attachmentId).sort()).toEqual([...ids].sort());

    const link = await pickupLink(patient.id, sent.deliveryIds[0]!);
    for (const path of [
      `/o/${org.slug}/messages`,
      `/o/${org.slug}/messages/${sent.messageId}`,
      `/o/${org.slug}/messages/access`,
      `/o/${org.slug}/messages/${sent.messageId}/attachments/${ids[0]}`,
      link,
    ]) {
      const res = await dev.fetch(path, { headers: { cookie } });
      expect(res.headers.get('cache-control'), path).toBe('no-store');
    }
    const anonymous = await dev.fetch(link);
    expect(anonymous.headers.get('cache-control')).toBe('no-store');
  });

  it('an expired message says so and a withdrawn one says it was withdrawn; neither shows its content or records an open', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    const old = await sendMessage(org.id, patient.id, { subject: 'Old news', text: 'Expired body' });
    await db.update(messages).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(messages.id, old.messageId));
    const taken = await sendMessage(org.id, patient.id, { subject: 'Sent by mistake', text: 'Withdrawn body' });
    expect(await retractMessage(db, { orgId: otherOrg.id, messageId: taken.messageId, actor: { type: 'organisation' }, now: new Date() })).toEqual({ status: 'not_found' });
    expect(await retractMessage(db, { orgId: org.id, messageId: taken.messageId, actor: { type: 'organisation' }, now: new Date() })).toEqual({ status: 'retracted' });
    expect(await retractMessage(db, { orgId: org.id, messageId: taken.messageId, actor: { type: 'organisation' }, now: new Date() })).toEqual({ status: 'already_retracted' });

    const expired = await dev.fetch(`/o/${org.slug}/messages/${old.messageId}`, { headers: { cookie } });
    expect(expired.status).toBe(410);
    const expiredHtml = await expired.text();
    expect(expiredHtml).toContain('This message has expired');
    expect(expiredHtml).toContain('contact Pickup Clinic');
    expect(expiredHtml).not.toMatch(/Old news|Expired body/);
    const withdrawn = await dev.fetch(`/o/${org.slug}/messages/${taken.messageId}`, { headers: { cookie } });
    expect(withdrawn.status).toBe(410);
    const withdrawnHtml = await withdrawn.text();
    expect(withdrawnHtml).toContain('This message was withdrawn by the sender');
    expect(withdrawnHtml).not.toMatch(/Sent by mistake|Withdrawn body/);
    const inbox = await (await dev.fetch(`/o/${org.slug}/messages`, { headers: { cookie } })).text();
    expect(inbox).toContain('Expired: contact the sender');
    expect(inbox).toContain('Withdrawn by the sender');
    expect(inbox).not.toMatch(/Old news|Sent by mistake/);
    expect(await accessCount(old.messageId)).toBe(0);
    expect(await accessCount(taken.messageId)).toBe(0);
    const [event] = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, org.id), eq(outboundEvents.type, 'message.retracted')));
    expect(event?.payload).toMatchObject({ messageId: expect.any(String) });
  });

  it('replies are sealed, announced as events, limited per message, and the limit holds under concurrent replies', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    const { messageId } = await sendMessage(org.id, patient.id, { subject: 'Question time', text: 'Any questions?' });
    const empty = await dev.fetch(`/o/${org.slug}/messages/${messageId}`, { method: 'POST', headers: formHeaders(cookie), body: new URLSearchParams({ intent: 'reply', reply: '   ' }) });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('Write your reply before sending it.');

    const first = await dev.fetch(`/o/${org.slug}/messages/${messageId}`, { method: 'POST', headers: formHeaders(cookie), body: new URLSearchParams({ intent: 'reply', reply: 'Can I come on Friday instead?' }) });
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('Your reply was sent securely');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => replyToMessage(db, ring, { orgId: org.id, patientId: patient.id }, messageId, `Reply ${i}`, new Date())));
    expect(results.filter((r) => r.ok)).toHaveLength(REPLY_LIMIT - 1);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.error === 'limit')).toBe(true);
    const over = await dev.fetch(`/o/${org.slug}/messages/${messageId}`, { method: 'POST', headers: formHeaders(cookie), body: new URLSearchParams({ intent: 'reply', reply: 'One more' }) });
    expect(over.status).toBe(409);

    const page = await (await dev.fetch(`/o/${org.slug}/messages/${messageId}`, { headers: { cookie } })).text();
    expect(page).toContain('Can I come on Friday instead?');
    expect(page).toContain(`You have sent the ${REPLY_LIMIT} replies this message allows.`);
    const { messageReplies } = await import('../../db/schema/index');
    const stored = await db.select().from(messageReplies).where(eq(messageReplies.messageId, messageId));
    expect(stored).toHaveLength(REPLY_LIMIT);
    expect(JSON.stringify(stored)).not.toContain('Friday');
    const events = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, org.id), eq(outboundEvents.type, 'message.reply_received'), eq(outboundEvents.patientId, patient.id)));
    expect(events).toHaveLength(REPLY_LIMIT);
    expect(JSON.stringify(events)).not.toContain('Friday');
  });
});

describe('the pickup link', () => {
  it('a GET changes nothing; the code goes to the patient on record; the right code opens that message (OT5 "code")', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    const sent = await sendMessage(org.id, patient.id, { subject: 'Biopsy result', text: 'Benign.' });
    const link = await pickupLink(patient.id, sent.deliveryIds[0]!);
    const before = await mailSnapshot(dev.dataDir);

    const landing = await dev.fetch(link);
    expect(landing.status).toBe(200);
    const html = await landing.text();
    expect(html).toContain('You have a secure message from Pickup Clinic');
    expect(html).toContain('Email to p•••@example.com');
    expect(html).not.toMatch(/Biopsy|Benign|Pat /);
    await dev.fetch(link, { method: 'HEAD' });
    expect((await mailSnapshot(dev.dataDir)).size).toBe(before.size);
    expect(await accessCount(sent.messageId)).toBe(0);

    const contactId = /name="contactId"[^>]*value="([0-9a-f-]{36})"/.exec(html)![1]!;
    const asked = await dev.fetch(link, { method: 'POST', headers: formHeaders(), body: new URLSearchParams({ intent: 'send', contactId }) });
    expect(asked.status).toBe(200);
    const attempt = cookieFrom(asked, 'carepost_attempt')!;
    const code = await waitForCode(dev.dataDir, email, { ignore: before });
    const wrong = await dev.fetch(link, { method: 'POST', headers: formHeaders(`carepost_attempt=${attempt}`), body: new URLSearchParams({ intent: 'verify', code: code === '000000' ? '111111' : '000000' }) });
    expect(wrong.status).toBe(400);
    const opened = await dev.fetch(link, { method: 'POST', headers: formHeaders(`carepost_attempt=${attempt}`), body: new URLSearchParams({ intent: 'verify', code }) });
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe(`/o/${org.slug}/messages/${sent.messageId}`);
    const session = cookieFrom(opened, 'carepost_session')!;
    const message = await (await dev.fetch(opened.headers.get('location')!, { headers: { cookie: `carepost_session=${session}` } })).text();
    expect(message).toContain('Benign.');
    // Signed in now, the link goes straight to the message.
    const again = await dev.fetch(link, { headers: { cookie: `carepost_session=${session}` } });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`/o/${org.slug}/messages/${sent.messageId}`);
  });

  it('an expired link says so and offers sign-in; a forged, cross-organisation or other-purpose link does not work', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const sent = await sendMessage(org.id, patient.id, { subject: 'Old link', text: 'x' });
    const expired = await dev.fetch(await pickupLink(patient.id, sent.deliveryIds[0]!, { now: new Date(Date.now() - 40 * 86_400_000) }));
    expect(expired.status).toBe(410);
    const expiredHtml = await expired.text();
    expect(expiredHtml).toContain('This link has expired');
    expect(expiredHtml).toContain(`/o/${org.slug}/sign-in?returnTo=${encodeURIComponent(`/o/${org.slug}/messages`)}`);

    const good = await pickupLink(patient.id, sent.deliveryIds[0]!);
    const token = good.split('/').pop()!;
    const forged = `/o/${org.slug}/m/${token.slice(0, -3)}${token.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    const otherOrgLink = await pickupLink(patient.id, sent.deliveryIds[0]!, { orgId: otherOrg.id });
    const preferenceToken = await mintLink(linkKeyring(dev.config.secrets.LINK_SIGNING_SECRET), { purpose: 'preferences', orgId: org.id, patientId: patient.id, now: new Date(), linkId: randomUUID() });
    for (const path of [forged, otherOrgLink, `/o/${org.slug}/m/${preferenceToken}`, `/o/${org.slug}/m/nonsense`]) {
      const res = await dev.fetch(path);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toContain('This link does not work');
    }
  });

  it("EN3: a link never opens another patient's message, and a link for someone else says so to a signed-in patient", async () => {
    const { patient: alice } = await createTestPatient(handle, org.id);
    const { patient: bob } = await createTestPatient(handle, org.id);
    const bobs = await sendMessage(org.id, bob.id, { subject: 'Bob private', text: 'Bob body' });
    // A validly signed link naming Alice but Bob's delivery (what a bug minting links might make): refused.
    const mixed = await pickupLink(alice.id, bobs.deliveryIds[0]!);
    expect((await dev.fetch(mixed)).status).toBe(404);
    expect((await dev.fetch(mixed, { headers: { cookie: await sessionFor(alice.id) } })).status).toBe(404);
    // Bob's own link while Alice is signed in on this browser.
    const bobsLink = await pickupLink(bob.id, bobs.deliveryIds[0]!);
    const res = await dev.fetch(bobsLink, { headers: { cookie: await sessionFor(alice.id) } });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain('This message is for someone else');
    expect(html).not.toMatch(/Bob private|Bob body/);
    expect(await accessCount(bobs.messageId)).toBe(0);
  });

  it('OT5: with a passkey policy a code alone does not open the message; with "code plus date of birth" a plain code session is asked for the date', async () => {
    const passkeyOrg = await createTestOrganisation(handle, 'Passkey Clinic');
    await db.update(organisations).set({ pickupPolicy: 'passkey' }).where(eq(organisations.id, passkeyOrg.id));
    const { patient } = await createTestPatient(handle, passkeyOrg.id);
    const sent = await sendMessage(passkeyOrg.id, patient.id, { subject: 'Passkey only', text: 'Strong body' });
    const token = await mintLink(linkKeyring(dev.config.secrets.LINK_SIGNING_SECRET), {
      purpose: 'pickup',
      orgId: passkeyOrg.id,
      patientId: patient.id,
      context: { deliveryId: sent.deliveryIds[0]! },
      now: new Date(),
      linkId: randomUUID(),
    });
    const link = `/o/${passkeyOrg.slug}/m/${token}`;
    const landing = await (await dev.fetch(link)).text();
    expect(landing).toContain('asks for a passkey');
    expect(landing).not.toContain('name="contactId"');
    const codeAsked = await dev.fetch(link, { method: 'POST', headers: formHeaders(), body: new URLSearchParams({ intent: 'send', contactId: randomUUID() }) });
    expect(codeAsked.status).toBe(400);
    expect(await codeAsked.text()).toContain('a code is not enough');

    // A session from a code (or a code and date of birth) is sent to confirm with a passkey, and sees nothing.
    for (const method of ['code_email', 'code_sms', 'code_dob'] as const) {
      const cookie = await sessionFor(patient.id, passkeyOrg.id, method);
      for (const path of [`/o/${passkeyOrg.slug}/messages/${sent.messageId}`, `/o/${passkeyOrg.slug}/messages`]) {
        const res = await dev.fetch(path, { headers: { cookie } });
        expect(res.status, `${method} ${path}`).toBe(303);
        expect(res.headers.get('location')).toBe(`/o/${passkeyOrg.slug}/verify?returnTo=${encodeURIComponent(path)}&level=passkey`);
      }
    }
    expect(await accessCount(sent.messageId)).toBe(0);
    const passkeySession = await sessionFor(patient.id, passkeyOrg.id, 'passkey');
    const opened = await dev.fetch(`/o/${passkeyOrg.slug}/messages/${sent.messageId}`, { headers: { cookie: passkeySession } });
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain('Strong body');

    const verifyPage = await (await dev.fetch(`/o/${passkeyOrg.slug}/verify?returnTo=${encodeURIComponent(`/o/${passkeyOrg.slug}/messages`)}&level=passkey`, { headers: { cookie: await sessionFor(patient.id, passkeyOrg.id) } })).text();
    expect(verifyPage).toContain('asks for a passkey before you read your messages');

    const dobOrg = await createTestOrganisation(handle, 'Birthday Clinic');
    await db.update(organisations).set({ pickupPolicy: 'code_dob' }).where(eq(organisations.id, dobOrg.id));
    const { patient: dobPatient } = await createTestPatient(handle, dobOrg.id, { dateOfBirth: '1980-02-29' });
    const dobSent = await sendMessage(dobOrg.id, dobPatient.id, { subject: 'Date needed', text: 'Dob body' });
    const res = await dev.fetch(`/o/${dobOrg.slug}/messages/${dobSent.messageId}`, { headers: { cookie: await sessionFor(dobPatient.id, dobOrg.id) } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('level=code_dob');
    const ok = await dev.fetch(`/o/${dobOrg.slug}/messages/${dobSent.messageId}`, { headers: { cookie: await sessionFor(dobPatient.id, dobOrg.id, 'code_dob') } });
    expect(ok.status).toBe(200);
  });
});
