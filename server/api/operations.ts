// The operations of /api/v1. Each names its scope, its input and output schemas, and calls the same server
// functions the portal and the engine use: enqueueMessage, decide() through loadFacts, mintPatientLink, retractMessage.
import { and, asc, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx, Tx } from '../../db/client';
import { contactPoints, deliveries, messageReplies, messages, organisations, patients, suppressions, webhookEndpoints, type WebhookDelivery } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { choicesOf } from '../consent/overview';
import { recordOutboundEvent } from '../events/outbound';
import { checkWebhookUrl, createWebhookEndpoint, disableWebhookEndpoint, listWebhookEndpoints, replayWebhookDelivery, WEBHOOK_EVENT_TYPES, webhookLog } from '../delivery/webhooks';
import { enqueueMessage } from '../engine/enqueue';
import { loadPreflightFacts } from '../engine/facts';
import { decide } from '../engine/gate';
import { normaliseContact } from '../identity/contact';
import { mintPatientLink } from '../links/links';
import { accessHistory, REPLY_CONTENT, retractMessage } from '../messages/inbox';
import { openJson } from '../messages/vault';
import { operation, type Operation } from './framework';
import { ApiProblem, problemSchema } from './problem';

const channel = z.enum(['email', 'sms', 'push', 'portal']);
const category = z.enum(['treatment', 'operations', 'marketing']);
const isoDate = z.iso.datetime({ offset: true });
const uuid = z.uuid();

const patientRef = z
  .object({
    id: uuid.optional().describe("Carepost's id for the patient."),
    externalRef: z.string().min(1).max(200).optional().describe('Your own id for the patient (MRN, CRM id).'),
  })
  .refine((p) => (p.id === undefined) !== (p.externalRef === undefined), { message: 'Give exactly one of id or externalRef.' })
  .meta({ id: 'PatientRef' });

const problems = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, { description: { 400: 'Invalid input', 401: 'Bad credentials', 403: 'Missing scope', 404: 'Not found', 409: 'Conflict', 422: 'Idempotency-Key reused with another body', 429: 'Rate limited' }[c] ?? 'Problem', schema: problemSchema }]));
const COMMON = [401, 403, 429];

/** One patient of this organisation, by id or external reference; anything else is a 404 (EN3). */
async function patientIdOf(db: DbOrTx, orgId: string, ref: z.infer<typeof patientRef>, where = 'patient'): Promise<string> {
  const match = ref.id !== undefined ? eq(patients.id, ref.id) : eq(patients.externalRef, ref.externalRef!);
  const [row] = await db.select({ id: patients.id }).from(patients).where(and(eq(patients.orgId, orgId), match));
  if (!row) throw new ApiProblem('not_found', `No such patient in this organisation (${where}).`);
  return row.id;
}

// ---- consent preflight ---------------------------------------------------------------------------------------------

const preflightBody = z
  .object({
    patient: patientRef,
    category,
    topic: z.string().min(1).max(100).optional().describe('The topic key; required for marketing, refused otherwise.'),
    channel,
  })
  .refine((b) => (b.category === 'marketing') === (b.topic !== undefined), { message: 'A marketing question names its topic; other categories do not.', path: ['topic'] })
  .meta({ id: 'PreflightRequest' });

const decisionSchema = z
  .object({
    decision: z.enum(['allow', 'block', 'defer']),
    reason: z.string().describe('A stable reason code, e.g. authorized, care_message, authorization_revoked, quiet_hours.'),
    until: isoDate.optional().describe('For defer: when it may be sent.'),
    basis: z.object({ grantEventId: uuid, textHash: z.string() }).nullable().optional().describe('For an allowed marketing send: the authorisation it rests on.'),
  })
  .meta({ id: 'Decision' });

const preflight = operation({
  method: 'post',
  path: '/consent/preflight',
  operationId: 'consentPreflight',
  tag: 'Consent',
  summary: 'May I send this now?',
  description: 'Answers allow, block or defer with the reason, using the same gate the send engine runs before every hand-off.',
  scope: 'consent',
  readOnly: true,
  body: preflightBody,
  responses: { 200: { description: 'The decision', schema: decisionSchema }, ...problems(400, 404, ...COMMON) },
  handler: async ({ principal, body, db, now }) => {
    // Patient, topic and the engine's own facts in one round trip (the preflight is the API's hot path: issue 7), read
    // without the engine's locks: a question, not a hand-off.
    const patient = body.patient.id !== undefined ? { id: body.patient.id } : { externalRef: body.patient.externalRef! };
    const found = await loadPreflightFacts(db, { orgId: principal.orgId, patient, topicKey: body.topic ?? null, category: body.category, channel: body.channel }, now);
    if (!found.patientId) throw new ApiProblem('not_found', 'No such patient in this organisation (patient).');
    if (body.topic && !found.topicId) throw new ApiProblem('not_found', `No topic "${body.topic}" in this organisation.`);
    const { topicId } = found;
    const { facts } = found.facts!;
    const d = decide({ category: body.category, topicId, channel: body.channel, sendBy: null }, facts, now);
    const out: z.infer<typeof decisionSchema> =
      d.kind === 'defer' ? { decision: 'defer', reason: d.reason, until: d.until.toISOString() } : d.kind === 'allow' ? { decision: 'allow', reason: d.reason, basis: d.basis } : { decision: 'block', reason: d.reason };
    return { status: 200, body: out };
  },
});

// ---- messages ------------------------------------------------------------------------------------------------------

const attachmentInput = z.object({
  name: z.string().min(1).max(255),
  contentType: z.string().min(3).max(255),
  contentBase64: z.base64().describe('The file, base64-encoded. All attachments together: 10 MB at most.'),
});

const messageBody = z
  .object({
    category,
    topic: z.string().min(1).max(100).optional(),
    subject: z.string().min(1).max(200),
    text: z.string().min(1).max(200_000),
    html: z.string().max(200_000).optional().describe('Sanitised before a patient sees it: no script, style, form or remote image survives.'),
    attachments: z.array(attachmentInput).max(10).optional(),
    recipients: z.array(z.object({ patient: patientRef, channels: z.array(channel).min(1) })).min(1).max(1000),
    sendBy: isoDate.optional().describe('After this instant the message is not sent (reason send_by_passed).'),
  })
  .meta({ id: 'MessageRequest' });

const deliverySchema = z
  .object({
    id: uuid,
    patientId: uuid,
    channel,
    status: z.enum(['queued', 'sending', 'sent', 'failed', 'blocked']),
    decision: z.enum(['allow', 'block', 'defer']).nullable(),
    reason: z.string().nullable(),
    route: z.string().nullable().describe('pgp, tls, portal_notice, sms_notice, push_notice or portal'),
    sentAt: isoDate.nullable(),
  })
  .meta({ id: 'Delivery' });

const messageSchema = z
  .object({
    id: uuid,
    category,
    createdAt: isoDate,
    expiresAt: isoDate.nullable(),
    retractedAt: isoDate.nullable(),
    deliveries: z.array(deliverySchema),
  })
  .meta({ id: 'Message' });

const messageParams = z.object({ messageId: uuid });

/** The organisation's message, or a 404 (EN3). */
async function requireMessage(db: DbOrTx, orgId: string, messageId: string) {
  const [m] = await db.select().from(messages).where(and(eq(messages.orgId, orgId), eq(messages.id, messageId)));
  if (!m) throw new ApiProblem('not_found', 'No such message in this organisation.');
  return m;
}

async function messageView(db: DbOrTx, orgId: string, messageId: string): Promise<z.infer<typeof messageSchema>> {
  const m = await requireMessage(db, orgId, messageId);
  const rows = await db.select().from(deliveries).where(and(eq(deliveries.orgId, orgId), eq(deliveries.messageId, messageId))).orderBy(asc(deliveries.createdAt), asc(deliveries.id));
  return {
    id: m.id,
    category: m.category,
    createdAt: m.createdAt.toISOString(),
    expiresAt: m.expiresAt?.toISOString() ?? null,
    retractedAt: m.retractedAt?.toISOString() ?? null,
    deliveries: rows.map((d) => ({
      id: d.id,
      patientId: d.patientId,
      channel: d.channel,
      status: d.status,
      decision: d.decision as 'allow' | 'block' | 'defer' | null,
      reason: d.reason,
      route: d.route,
      sentAt: d.sentAt?.toISOString() ?? null,
    })),
  };
}

const submitMessage = operation({
  method: 'post',
  path: '/messages',
  operationId: 'submitMessage',
  tag: 'Messages',
  summary: 'Send a message',
  description:
    'Stores the message encrypted and queues one delivery per recipient and channel. Consent is checked again by the engine immediately before each hand-off; a delivery that is not allowed ends blocked with its reason.',
  scope: 'messages',
  body: messageBody,
  responses: { 201: { description: 'Queued', schema: messageSchema }, ...problems(400, 404, 422, ...COMMON) },
  handler: async ({ principal, body, db, deps, now }) => {
    const orgId = principal.orgId;
    const recipients = [];
    for (const [i, r] of body.recipients.entries()) recipients.push({ patientId: await patientIdOf(db, orgId, r.patient, `recipients.${i}`), channels: r.channels });
    const result = await enqueueMessage(db as Tx, deps.vault, {
      orgId,
      category: body.category,
      topicKey: body.topic,
      content: { subject: body.subject, text: body.text, ...(body.html ? { html: body.html } : {}) },
      attachments: body.attachments?.map((a) => ({ name: a.name, contentType: a.contentType, content: Buffer.from(a.contentBase64, 'base64') })),
      recipients,
      sendBy: body.sendBy ? new Date(body.sendBy) : undefined,
      actor: { type: 'organisation', id: principal.keyId },
      now,
    });
    if (!result.ok) throw new ApiProblem('validation_failed', 'The message was not accepted.', Object.fromEntries(Object.entries(result.fieldErrors).map(([k, v]) => [`body.${k}`, [v]])));
    return { status: 201, body: await messageView(db, orgId, result.messageId), headers: { Location: `/api/v1/messages/${result.messageId}` } };
  },
});

const getMessage = operation({
  method: 'get',
  path: '/messages/{messageId}',
  operationId: 'getMessage',
  tag: 'Messages',
  summary: 'A message and its deliveries',
  description: 'Each delivery with its status, the gate decision and reason code, and the route it took.',
  scope: 'messages',
  params: messageParams,
  responses: { 200: { description: 'The message', schema: messageSchema }, ...problems(400, 404, ...COMMON) },
  handler: async ({ principal, params, db }) => ({ status: 200, body: await messageView(db, principal.orgId, params.messageId) }),
});

const retract = operation({
  method: 'post',
  path: '/messages/{messageId}/retract',
  operationId: 'retractMessage',
  tag: 'Messages',
  summary: 'Withdraw a message',
  description: 'The patient then sees "withdrawn by the sender", and deliveries not yet handed off are blocked (reason message_withdrawn).',
  scope: 'messages',
  params: messageParams,
  responses: { 200: { description: 'Withdrawn (or already withdrawn)', schema: messageSchema }, ...problems(400, 404, 422, ...COMMON) },
  handler: async ({ principal, params, db, now }) => {
    const result = await retractMessage(db, { orgId: principal.orgId, messageId: params.messageId, actor: { type: 'organisation', id: principal.keyId }, now });
    if (result.status === 'not_found') throw new ApiProblem('not_found', 'No such message in this organisation.');
    return { status: 200, body: await messageView(db, principal.orgId, params.messageId) };
  },
});

const replySchema = z.object({ id: uuid, patientId: uuid, text: z.string(), createdAt: isoDate }).meta({ id: 'Reply' });

const listReplies = operation({
  method: 'get',
  path: '/messages/{messageId}/replies',
  operationId: 'listReplies',
  tag: 'Messages',
  summary: "Patients' replies to a message",
  scope: 'messages',
  params: messageParams,
  responses: { 200: { description: 'Replies, oldest first', schema: z.object({ replies: z.array(replySchema) }) }, ...problems(400, 404, ...COMMON) },
  handler: async ({ principal, params, db, deps }) => {
    await requireMessage(db, principal.orgId, params.messageId);
    const rows = await db
      .select()
      .from(messageReplies)
      .where(and(eq(messageReplies.orgId, principal.orgId), eq(messageReplies.messageId, params.messageId)))
      .orderBy(asc(messageReplies.createdAt));
    const replies = rows.map((r) => ({
      id: r.id,
      patientId: r.patientId,
      text: openJson<{ text: string }>(deps.vault, { orgId: principal.orgId, purpose: REPLY_CONTENT }, r.content).text,
      createdAt: r.createdAt.toISOString(),
    }));
    return { status: 200, body: { replies } };
  },
});

const accessSchema = z
  .object({ at: isoDate, patientId: uuid, attachmentId: uuid.nullable(), sessionRef: z.string(), verificationMethod: z.string(), device: z.string() })
  .meta({ id: 'AccessRecord' });

const messageAccess = operation({
  method: 'get',
  path: '/messages/{messageId}/access',
  operationId: 'messageAccessHistory',
  tag: 'Messages',
  summary: 'Who opened a message',
  description: 'Every open of the message or one of its attachments in the portal: when, by which patient, which session and device, verified how (AU3).',
  scope: 'messages',
  params: messageParams,
  responses: { 200: { description: 'Newest first, at most 500', schema: z.object({ access: z.array(accessSchema) }) }, ...problems(400, 404, ...COMMON) },
  handler: async ({ principal, params, db }) => {
    await requireMessage(db, principal.orgId, params.messageId);
    const rows = await accessHistory(db, { orgId: principal.orgId, messageId: params.messageId, limit: 500 });
    return { status: 200, body: { access: rows.map((r) => ({ at: r.at.toISOString(), patientId: r.patientId, attachmentId: r.attachmentId, sessionRef: r.sessionRef, verificationMethod: r.verificationMethod, device: r.device })) } };
  },
});

// ---- links ---------------------------------------------------------------------------------------------------------

const linkBody = z
  .object({
    patient: patientRef,
    purpose: z.enum(['preferences', 'unsubscribe', 'renewal']),
    topic: z.string().min(1).max(100).optional().describe('unsubscribe and renewal: the topic key.'),
    channel: channel.optional().describe('unsubscribe: the channel it stops.'),
    ttlDays: z.number().int().min(1).max(365).optional().describe('Default: preferences 90, unsubscribe 90, renewal 60.'),
  })
  .meta({ id: 'LinkRequest' });

const linkSchema = z.object({ url: z.url(), expiresAt: isoDate }).meta({ id: 'Link' });

const mintLink = operation({
  method: 'post',
  path: '/links',
  operationId: 'mintLink',
  tag: 'Links',
  summary: 'A signed link for your own emails',
  description: 'A preference-centre link, a one-click unsubscribe link (put it in List-Unsubscribe too) or a renewal link, bound to one patient and purpose.',
  scope: 'links',
  body: linkBody,
  responses: { 201: { description: 'The link', schema: linkSchema }, ...problems(400, 404, 422, ...COMMON) },
  handler: async ({ principal, body, db, deps, now }) => {
    const patientId = await patientIdOf(db, principal.orgId, body.patient);
    const [org] = await db.select({ slug: organisations.slug }).from(organisations).where(eq(organisations.id, principal.orgId));
    const minted = await mintPatientLink(db, deps.links, deps.publicUrl, {
      orgSlug: org!.slug,
      patient: { id: patientId },
      purpose: body.purpose,
      topicKey: body.topic,
      channel: body.channel,
      ttlSeconds: body.ttlDays ? body.ttlDays * 86_400 : undefined,
      now,
    });
    if (!minted.ok) {
      if (minted.error === 'unknown_topic') throw new ApiProblem('not_found', `No topic "${body.topic}" in this organisation.`);
      throw new ApiProblem('validation_failed', 'The link cannot be made as asked.', {
        [minted.error === 'invalid_channel' ? 'body.channel' : 'body.topic']: [minted.error === 'missing_context' ? `A ${body.purpose} link needs ${body.purpose === 'unsubscribe' ? 'a topic and a channel' : 'a topic'}.` : 'Not valid.'],
      });
    }
    return { status: 201, body: { url: minted.url, expiresAt: minted.expiresAt.toISOString() } };
  },
});

// ---- patients ------------------------------------------------------------------------------------------------------

const patientBody = z
  .object({
    displayName: z.string().min(1).max(200),
    dateOfBirth: z.iso.date().optional(),
    timeZone: z.string().min(1).max(64).optional(),
    locale: z.string().min(2).max(16).optional(),
    contactPoints: z
      .array(z.object({ kind: z.enum(['email', 'sms']), value: z.string().min(3).max(320) }))
      .max(10)
      .optional()
      .describe('Added as verified: the organisation vouches for them. Existing ones are kept.'),
  })
  .meta({ id: 'PatientRequest' });

const patientSchema = z
  .object({ id: uuid, externalRef: z.string(), displayName: z.string(), contactPoints: z.array(z.object({ kind: z.enum(['email', 'sms']), value: z.string(), verified: z.boolean() })) })
  .meta({ id: 'Patient' });

const upsertPatient = operation({
  method: 'put',
  path: '/patients/{externalRef}',
  operationId: 'upsertPatient',
  tag: 'Patients',
  summary: 'Create or update a patient by your reference',
  scope: 'patients',
  params: z.object({ externalRef: z.string().min(1).max(200) }),
  body: patientBody,
  responses: { 200: { description: 'The patient', schema: patientSchema }, ...problems(400, 409, ...COMMON) },
  handler: async ({ principal, params, body, db }) => {
    const orgId = principal.orgId;
    if (body.timeZone) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: body.timeZone });
      } catch {
        throw new ApiProblem('validation_failed', 'Unknown time zone.', { 'body.timeZone': ['Use an IANA zone such as America/Chicago.'] });
      }
    }
    const points = (body.contactPoints ?? []).map((c, i) => {
      const n = normaliseContact(c.value);
      if (!n || n.kind !== c.kind) throw new ApiProblem('validation_failed', 'A contact point is not valid.', { [`body.contactPoints.${i}.value`]: [c.kind === 'email' ? 'Not an email address.' : 'Not a phone number in E.164 form.'] });
      return n;
    });
    return (db as Tx).transaction(async (tx) => {
      const [patient] = await tx
        .insert(patients)
        .values({ orgId, externalRef: params.externalRef, displayName: body.displayName, dateOfBirth: body.dateOfBirth ?? null, timeZone: body.timeZone ?? null, locale: body.locale ?? 'en' })
        .onConflictDoUpdate({
          target: [patients.orgId, patients.externalRef],
          set: { displayName: body.displayName, ...(body.dateOfBirth ? { dateOfBirth: body.dateOfBirth } : {}), ...(body.timeZone ? { timeZone: body.timeZone } : {}), ...(body.locale ? { locale: body.locale } : {}) },
        })
        .returning();
      for (const p of points) {
        const [existing] = await tx.select().from(contactPoints).where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.kind, p.kind), eq(contactPoints.value, p.value)));
        if (existing && existing.patientId !== patient!.id) throw new ApiProblem('conflict', `That ${p.kind === 'email' ? 'email address' : 'number'} belongs to another patient.`);
        if (!existing) await tx.insert(contactPoints).values({ orgId, patientId: patient!.id, kind: p.kind, value: p.value, source: 'organisation', verifiedAt: new Date() });
      }
      const cps = await tx.select().from(contactPoints).where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.patientId, patient!.id)));
      return {
        status: 200,
        body: { id: patient!.id, externalRef: patient!.externalRef, displayName: patient!.displayName, contactPoints: cps.map((c) => ({ kind: c.kind, value: c.value, verified: c.verifiedAt !== null })) },
      };
    });
  },
});

const consentStateSchema = z
  .object({
    topics: z.array(
      z.object({
        key: z.string(),
        name: z.string(),
        status: z.enum(['active', 'revoked', 'expired', 'never']),
        channels: z.array(channel),
        expiresAt: isoDate.nullable(),
        grantEventId: uuid.nullable(),
      }),
    ),
  })
  .meta({ id: 'ConsentState' });

const consentState = operation({
  method: 'get',
  path: '/patients/{externalRef}/consent',
  operationId: 'getConsentState',
  tag: 'Consent',
  summary: "A patient's marketing authorisations, per topic",
  scope: 'consent',
  params: z.object({ externalRef: z.string().min(1).max(200) }),
  responses: { 200: { description: 'Per topic', schema: consentStateSchema }, ...problems(400, 404, ...COMMON) },
  handler: async ({ principal, params, db, now }) => {
    const patientId = await patientIdOf(db, principal.orgId, { externalRef: params.externalRef });
    const choices = await choicesOf(db, principal.orgId, patientId, now);
    return {
      status: 200,
      body: {
        topics: choices.map((c) => ({
          key: c.topic.key,
          name: c.topic.name,
          status: c.status.kind,
          channels: c.status.kind === 'active' ? c.status.channels : [],
          expiresAt: c.status.kind === 'active' ? c.status.expiresAt.toISOString() : c.status.kind === 'expired' ? c.status.expiredAt.toISOString() : null,
          grantEventId: c.status.kind === 'never' ? null : c.status.grantEventId,
        })),
      },
    };
  },
});

// ---- suppressions -------------------------------------------------------------------------------------------------

const suppressionKind = z.enum(['email', 'sms']);
const suppressionSchema = z
  .object({ kind: suppressionKind, value: z.string(), reason: z.enum(['hard_bounce', 'complaint', 'sms_stop', 'admin']), createdAt: isoDate })
  .meta({ id: 'Suppression' });
const suppressionView = (r: { kind: 'email' | 'sms'; value: string; reason: 'hard_bounce' | 'complaint' | 'sms_stop' | 'admin'; createdAt: Date }) => ({
  kind: r.kind,
  value: r.value,
  reason: r.reason,
  createdAt: r.createdAt.toISOString(),
});

function normalisedContact(kind: 'email' | 'sms', value: string, field: string): string {
  const n = normaliseContact(value);
  if (!n || n.kind !== kind) throw new ApiProblem('validation_failed', 'Not a valid address or number.', { [field]: [kind === 'email' ? 'Not an email address.' : 'Not a phone number in E.164 form.'] });
  return n.value;
}

const listSuppressions = operation({
  method: 'get',
  path: '/suppressions',
  operationId: 'listSuppressions',
  tag: 'Suppressions',
  summary: 'Addresses and numbers nothing is sent to',
  description: 'Hard bounces, complaints, SMS STOP replies, and the ones you added. Newest first.',
  scope: 'messages',
  query: z.object({ kind: suppressionKind.optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
  responses: { 200: { description: 'Suppressions', schema: z.object({ suppressions: z.array(suppressionSchema) }) }, ...problems(400, ...COMMON) },
  handler: async ({ principal, query, db }) => {
    const rows = await db
      .select()
      .from(suppressions)
      .where(and(eq(suppressions.orgId, principal.orgId), query.kind ? eq(suppressions.kind, query.kind) : undefined))
      .orderBy(desc(suppressions.createdAt))
      .limit(query.limit ?? 100);
    return { status: 200, body: { suppressions: rows.map(suppressionView) } };
  },
});

const addSuppression = operation({
  method: 'post',
  path: '/suppressions',
  operationId: 'addSuppression',
  tag: 'Suppressions',
  summary: 'Stop sending to an address or number',
  scope: 'messages',
  body: z.object({ kind: suppressionKind, value: z.string().min(3).max(320) }).meta({ id: 'SuppressionRequest' }),
  responses: { 201: { description: 'Added (or already there)', schema: suppressionSchema }, ...problems(400, 422, ...COMMON) },
  handler: async ({ principal, body, db, now }) => {
    const value = normalisedContact(body.kind, body.value, 'body.value');
    const [added] = await db.insert(suppressions).values({ orgId: principal.orgId, kind: body.kind, value, reason: 'admin', createdAt: now }).onConflictDoNothing().returning();
    if (added) {
      const [point] = await db.select({ patientId: contactPoints.patientId }).from(contactPoints).where(and(eq(contactPoints.orgId, principal.orgId), eq(contactPoints.kind, body.kind), eq(contactPoints.value, value)));
      // Ids and reason codes only: never the address itself (AU2).
      await appendAudit(db as Tx, principal.orgId, { actorType: 'organisation', actorId: principal.keyId, action: 'suppression.added', subjectType: point ? 'patient' : null, subjectId: point?.patientId ?? null, details: { kind: body.kind, reason: 'admin' } });
      await recordOutboundEvent(db as Tx, principal.orgId, { type: 'suppression.added', patientId: point?.patientId ?? null, payload: { kind: body.kind, reason: 'admin' }, occurredAt: now });
    }
    const [row] = await db.select().from(suppressions).where(and(eq(suppressions.orgId, principal.orgId), eq(suppressions.kind, body.kind), eq(suppressions.value, value)));
    return { status: 201, body: suppressionView(row!) };
  },
});

const removeSuppression = operation({
  method: 'delete',
  path: '/suppressions/{kind}/{value}',
  operationId: 'removeSuppression',
  tag: 'Suppressions',
  summary: 'Allow sending to an address or number again',
  description: 'For example after a patient fixed a full mailbox. An SMS STOP can only be undone by the patient texting START or changing their choices.',
  scope: 'messages',
  params: z.object({ kind: suppressionKind, value: z.string().min(3).max(320) }),
  responses: { 204: { description: 'Removed' }, ...problems(400, 404, 409, ...COMMON) },
  handler: async ({ principal, params, db }) => {
    const value = normalisedContact(params.kind, params.value, 'path.value');
    const [row] = await db.select().from(suppressions).where(and(eq(suppressions.orgId, principal.orgId), eq(suppressions.kind, params.kind), eq(suppressions.value, value)));
    if (!row) throw new ApiProblem('not_found', 'That address or number is not suppressed.');
    // TCPA: a STOP is the patient's word; the organisation cannot take it back on their behalf.
    if (row.reason === 'sms_stop') throw new ApiProblem('conflict', 'The patient texted STOP: only the patient can undo that.');
    await db.delete(suppressions).where(and(eq(suppressions.orgId, principal.orgId), eq(suppressions.kind, params.kind), eq(suppressions.value, value)));
    await appendAudit(db as Tx, principal.orgId, { actorType: 'organisation', actorId: principal.keyId, action: 'suppression.removed', details: { kind: params.kind, reason: row.reason } });
    return { status: 204, body: null };
  },
});

// ---- webhooks ------------------------------------------------------------------------------------------------------

const eventType = z.enum(WEBHOOK_EVENT_TYPES);
const endpointSchema = z.object({ id: uuid, url: z.url(), eventTypes: z.array(eventType), createdAt: isoDate, disabledAt: isoDate.nullable() }).meta({ id: 'WebhookEndpoint' });
const endpointParams = z.object({ endpointId: uuid });

const endpointView = (e: { id: string; url: string; eventTypes: string[]; createdAt: Date; disabledAt: Date | null }) => ({
  id: e.id,
  url: e.url,
  eventTypes: e.eventTypes as z.infer<typeof eventType>[],
  createdAt: e.createdAt.toISOString(),
  disabledAt: e.disabledAt?.toISOString() ?? null,
});

async function endpointOf(db: DbOrTx, orgId: string, endpointId: string) {
  const [row] = await db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, endpointId)));
  if (!row) throw new ApiProblem('not_found', 'No such webhook endpoint in this organisation.');
  return row;
}

const createWebhook = operation({
  method: 'post',
  path: '/webhooks',
  operationId: 'createWebhookEndpoint',
  tag: 'Webhooks',
  summary: 'Register an endpoint for events',
  description:
    'Deliveries are signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 with the secret returned here, shown once). At least once: drop duplicates by webhook-id, which stays the same across retries and replays.',
  scope: 'webhooks',
  body: z.object({ url: z.url().max(2000), eventTypes: z.array(eventType).min(1) }).meta({ id: 'WebhookEndpointRequest' }),
  responses: { 201: { description: 'Registered; the secret is shown only now', schema: endpointSchema.extend({ secret: z.string().startsWith('whsec_') }) }, ...problems(400, 422, ...COMMON) },
  handler: async ({ principal, body, db, deps, now }) => {
    const url = checkWebhookUrl(body.url, deps.allowHttpWebhooks ?? false);
    if (!url.ok) throw new ApiProblem('validation_failed', 'The webhook URL cannot be used.', { 'body.url': [url.message] });
    const actor = { type: 'organisation', id: principal.keyId } as const;
    const { endpoint, secret } = await createWebhookEndpoint(db, deps.vault, { orgId: principal.orgId, url: url.url, eventTypes: body.eventTypes, actor, now });
    return { status: 201, body: { ...endpointView(endpoint), secret } };
  },
});

const listWebhooks = operation({
  method: 'get',
  path: '/webhooks',
  operationId: 'listWebhookEndpoints',
  tag: 'Webhooks',
  summary: 'Registered endpoints',
  scope: 'webhooks',
  responses: { 200: { description: 'Endpoints, newest first', schema: z.object({ endpoints: z.array(endpointSchema) }) }, ...problems(...COMMON) },
  handler: async ({ principal, db }) => {
    const rows = await listWebhookEndpoints(db, principal.orgId);
    return { status: 200, body: { endpoints: rows.map(endpointView) } };
  },
});

const deleteWebhook = operation({
  method: 'delete',
  path: '/webhooks/{endpointId}',
  operationId: 'disableWebhookEndpoint',
  tag: 'Webhooks',
  summary: 'Stop sending to an endpoint',
  scope: 'webhooks',
  params: endpointParams,
  responses: { 204: { description: 'Disabled' }, ...problems(400, 404, ...COMMON) },
  handler: async ({ principal, params, db, now }) => {
    await endpointOf(db, principal.orgId, params.endpointId);
    await disableWebhookEndpoint(db, { orgId: principal.orgId, endpointId: params.endpointId, actor: { type: 'organisation', id: principal.keyId }, now });
    return { status: 204, body: null };
  },
});

const webhookDeliverySchema = z
  .object({
    id: uuid.describe('The webhook-id header.'),
    eventId: uuid,
    eventType: eventType,
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: isoDate,
    deliveredAt: isoDate.nullable(),
    nextAttemptAt: isoDate.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

const deliveryView = (d: WebhookDelivery) => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType as z.infer<typeof eventType>,
  status: d.status,
  attempts: d.attempts,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  createdAt: d.createdAt.toISOString(),
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
  nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
});

const webhookDeliveriesOp = operation({
  method: 'get',
  path: '/webhooks/{endpointId}/deliveries',
  operationId: 'listWebhookDeliveries',
  tag: 'Webhooks',
  summary: "An endpoint's delivery log",
  scope: 'webhooks',
  params: endpointParams,
  query: z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }),
  responses: { 200: { description: 'Newest first', schema: z.object({ deliveries: z.array(webhookDeliverySchema) }) }, ...problems(400, 404, ...COMMON) },
  handler: async ({ principal, params, query, db }) => {
    await endpointOf(db, principal.orgId, params.endpointId);
    const rows = await webhookLog(db, { orgId: principal.orgId, endpointId: params.endpointId, limit: query.limit ?? 100 });
    return { status: 200, body: { deliveries: rows.map(deliveryView) } };
  },
});

const replayWebhook = operation({
  method: 'post',
  path: '/webhooks/deliveries/{deliveryId}/replay',
  operationId: 'replayWebhookDelivery',
  tag: 'Webhooks',
  summary: 'Send a delivery again',
  description: 'Queued again at once with the same webhook-id, whatever its status.',
  scope: 'webhooks',
  params: z.object({ deliveryId: uuid }),
  responses: { 202: { description: 'Queued', schema: webhookDeliverySchema }, ...problems(400, 404, 422, ...COMMON) },
  handler: async ({ principal, params, db }) => {
    const row = await replayWebhookDelivery(db, { orgId: principal.orgId, deliveryId: params.deliveryId });
    if (!row) throw new ApiProblem('not_found', 'No such webhook delivery in this organisation.');
    return { status: 202, body: deliveryView(row) };
  },
});

export const OPERATIONS: Operation[] = [
  preflight,
  submitMessage,
  getMessage,
  retract,
  listReplies,
  messageAccess,
  mintLink,
  upsertPatient,
  consentState,
  listSuppressions,
  addSuppression,
  removeSuppression,
  createWebhook,
  listWebhooks,
  deleteWebhook,
  webhookDeliveriesOp,
  replayWebhook,
];

