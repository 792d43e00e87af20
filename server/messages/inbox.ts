// The patient's secure inbox (issue 6): which messages a patient may read, reading them (each open recorded, AU1),
// attachments, replies, and the sender's retraction. Every query names the organisation and the patient (EN3): a
// message is the patient's when one of its deliveries to them was handed off, whatever the route.
import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database, DbOrTx, Tx } from '../../db/client';
import { deliveries, messageAccess, messageAttachments, messageReplies, messages, type Message } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { MESSAGE_CONTENT } from '../engine/enqueue';
import { recordOutboundEvent } from '../events/outbound';
import { isUuid } from '../ids';
import { ATTACHMENT_CONTENT, ATTACHMENT_NAME } from './attachments';
import { sanitiseMessageHtml } from './sanitise';
import { open, openJson, sealJson, type KekRing, type MessageContent } from './vault';

export const REPLY_CONTENT = 'reply-content';
/** Replies a patient may send to one message. */
export const REPLY_LIMIT = 3;
export const MAX_REPLY_LENGTH = 5_000;

/** available: readable; expired: past the organisation's period; withdrawn: retracted by the sender. */
export type MessageState = 'available' | 'expired' | 'withdrawn';

export function messageState(m: Pick<Message, 'expiresAt' | 'retractedAt'>, now: Date): MessageState {
  if (m.retractedAt) return 'withdrawn';
  if (m.expiresAt && now.getTime() >= m.expiresAt.getTime()) return 'expired';
  return 'available';
}

/** The signed-in session a read is attributed to (AU3: "which verified session or device"). */
export type Reader = { orgId: string; patientId: string; sessionIdHash: string; verificationMethod: string; device: string | null };

/** A short public reference for a session: enough to tell two devices apart, useless as a credential. */
export const sessionRef = (sessionIdHash: string) => sessionIdHash.slice(0, 8);

/** Messages handed off to this patient in this organisation, as a subquery of message ids. */
function deliveredTo(orgId: string, patientId: string) {
  return sql`select ${deliveries.messageId} from ${deliveries} where ${deliveries.orgId} = ${orgId} and ${deliveries.patientId} = ${patientId} and ${deliveries.status} = 'sent'`;
}

async function visibleMessage(db: DbOrTx, orgId: string, patientId: string, messageId: string): Promise<Message | undefined> {
  if (!isUuid(messageId)) return undefined;
  const [message] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.orgId, orgId), eq(messages.id, messageId), sql`${messages.id} in (${deliveredTo(orgId, patientId)})`));
  return message;
}

export type InboxItem = { id: string; subject: string | null; createdAt: Date; state: MessageState; read: boolean; attachments: number };

/** One page of the inbox, newest first. Subjects are opened only for messages that are still available. */
export async function listInbox(
  db: DbOrTx,
  ring: KekRing,
  options: { orgId: string; patientId: string; page: number; pageSize: number; now: Date },
): Promise<{ items: InboxItem[]; hasNext: boolean; unread: number }> {
  const { orgId, patientId, pageSize } = options;
  const mine = sql`${messages.orgId} = ${orgId} and ${messages.id} in (${deliveredTo(orgId, patientId)})`;
  // The outer message id, qualified by hand: in a one-table select drizzle writes columns without their table, and
  // inside these subqueries a bare "id" would be the inner table's own id.
  const outerId = sql`${messages}.${sql.identifier('id')}`;
  const read = sql<boolean>`exists (select 1 from ${messageAccess} where ${messageAccess.orgId} = ${orgId} and ${messageAccess.messageId} = ${outerId} and ${messageAccess.patientId} = ${patientId})`;
  const [rows, [counts]] = await Promise.all([
    db
      .select({
        id: messages.id,
        content: messages.content,
        createdAt: messages.createdAt,
        expiresAt: messages.expiresAt,
        retractedAt: messages.retractedAt,
        read,
        attachments: sql<number>`(select count(*)::int from ${messageAttachments} where ${messageAttachments.orgId} = ${orgId} and ${messageAttachments.messageId} = ${outerId})`,
      })
      .from(messages)
      .where(mine)
      .orderBy(desc(messages.createdAt), desc(messages.id))
      .limit(pageSize + 1)
      .offset((options.page - 1) * pageSize),
    db
      .select({ unread: sql<number>`count(*) filter (where not ${read} and ${messages.retractedAt} is null and (${messages.expiresAt} is null or ${messages.expiresAt} > ${options.now.toISOString()}::timestamptz))::int` })
      .from(messages)
      .where(mine),
  ]);
  const items = rows.slice(0, pageSize).map((r) => {
    const state = messageState(r, options.now);
    const subject = state === 'available' ? openJson<MessageContent>(ring, { orgId, purpose: MESSAGE_CONTENT }, r.content).subject : null;
    return { id: r.id, subject, createdAt: r.createdAt, state, read: r.read, attachments: r.attachments };
  });
  return { items, hasNext: rows.length > pageSize, unread: counts?.unread ?? 0 };
}

export type OpenedMessage =
  | { status: 'not_found' }
  | { status: 'expired' | 'withdrawn'; createdAt: Date }
  | {
      status: 'available';
      id: string;
      createdAt: Date;
      expiresAt: Date | null;
      subject: string;
      text: string;
      /** Sanitised (CX3); null when the sender sent plain text only. */
      safeHtml: string | null;
      attachments: { id: string; name: string; contentType: string; sizeBytes: number }[];
      replies: { id: string; text: string; createdAt: Date }[];
    };

/** Opens a message for its patient and records the open (AU1), in one transaction. Expired or withdrawn: not opened. */
export async function openMessage(db: Database, ring: KekRing, reader: Reader, messageId: string, now: Date): Promise<OpenedMessage> {
  const { orgId, patientId } = reader;
  const message = await visibleMessage(db, orgId, patientId, messageId);
  if (!message) return { status: 'not_found' };
  const state = messageState(message, now);
  if (state !== 'available') return { status: state, createdAt: message.createdAt };

  const content = openJson<MessageContent>(ring, { orgId, purpose: MESSAGE_CONTENT }, message.content);
  const [attachmentRows, replyRows] = await Promise.all([
    db
      .select({ id: messageAttachments.id, name: messageAttachments.name, contentType: messageAttachments.contentType, sizeBytes: messageAttachments.sizeBytes })
      .from(messageAttachments)
      .where(and(eq(messageAttachments.orgId, orgId), eq(messageAttachments.messageId, message.id)))
      .orderBy(asc(messageAttachments.position)),
    db
      .select()
      .from(messageReplies)
      .where(and(eq(messageReplies.orgId, orgId), eq(messageReplies.messageId, message.id), eq(messageReplies.patientId, patientId)))
      .orderBy(asc(messageReplies.createdAt)),
  ]);
  await db.transaction((tx) => recordAccess(tx, reader, message.id, null, now));
  return {
    status: 'available',
    id: message.id,
    createdAt: message.createdAt,
    expiresAt: message.expiresAt,
    subject: content.subject,
    text: content.text,
    safeHtml: content.html ? sanitiseMessageHtml(content.html) : null,
    attachments: attachmentRows.map((a) => ({ ...a, name: open(ring, { orgId, purpose: ATTACHMENT_NAME }, a.name).toString('utf8') })),
    replies: replyRows.map((r) => ({ id: r.id, text: openJson<{ text: string }>(ring, { orgId, purpose: REPLY_CONTENT }, r.content).text, createdAt: r.createdAt })),
  };
}

export type OpenedAttachment = { status: 'not_found' } | { status: 'expired' | 'withdrawn' } | { status: 'available'; name: string; contentType: string; content: Buffer };

/** One attachment of a message the patient may read, recorded as an open (AU1). */
export async function openAttachment(db: Database, ring: KekRing, reader: Reader, messageId: string, attachmentId: string, now: Date): Promise<OpenedAttachment> {
  const { orgId, patientId } = reader;
  if (!isUuid(attachmentId)) return { status: 'not_found' };
  const message = await visibleMessage(db, orgId, patientId, messageId);
  if (!message) return { status: 'not_found' };
  const state = messageState(message, now);
  if (state !== 'available') return { status: state };
  const [row] = await db
    .select()
    .from(messageAttachments)
    .where(and(eq(messageAttachments.orgId, orgId), eq(messageAttachments.messageId, message.id), eq(messageAttachments.id, attachmentId)));
  if (!row) return { status: 'not_found' };
  const content = open(ring, { orgId, purpose: ATTACHMENT_CONTENT }, row.content);
  await db.transaction((tx) => recordAccess(tx, reader, message.id, row.id, now));
  return { status: 'available', name: open(ring, { orgId, purpose: ATTACHMENT_NAME }, row.name).toString('utf8'), contentType: row.contentType, content };
}

async function recordAccess(tx: Tx, reader: Reader, messageId: string, attachmentId: string | null, now: Date) {
  const ref = sessionRef(reader.sessionIdHash);
  await tx.insert(messageAccess).values({
    orgId: reader.orgId,
    messageId,
    patientId: reader.patientId,
    attachmentId,
    sessionRef: ref,
    verificationMethod: reader.verificationMethod,
    device: reader.device ?? 'Unknown browser',
    at: now,
  });
  await appendAudit(tx, reader.orgId, {
    actorType: 'patient',
    actorId: reader.patientId,
    action: attachmentId ? 'message.attachment_opened' : 'message.opened',
    subjectType: 'message',
    subjectId: messageId,
    details: { attachmentId, sessionRef: ref, method: reader.verificationMethod },
  });
  await recordOutboundEvent(tx, reader.orgId, {
    type: 'message.opened',
    patientId: reader.patientId,
    payload: { messageId, attachmentId },
    occurredAt: now,
  });
}

export type AccessRow = { at: Date; messageId: string; attachmentId: string | null; sessionRef: string; verificationMethod: string; device: string; patientId: string };

/**
 * AU3: who opened what, newest first. For a patient (their own opens, optionally of one message) or for the
 * organisation (every patient's opens of one message).
 */
export async function accessHistory(db: DbOrTx, options: { orgId: string; patientId?: string; messageId?: string; limit: number }): Promise<AccessRow[]> {
  if (!options.patientId && !options.messageId) throw new Error('accessHistory: name a patient or a message');
  if (options.messageId && !isUuid(options.messageId)) return [];
  return db
    .select({
      at: messageAccess.at,
      messageId: messageAccess.messageId,
      attachmentId: messageAccess.attachmentId,
      sessionRef: messageAccess.sessionRef,
      verificationMethod: messageAccess.verificationMethod,
      device: messageAccess.device,
      patientId: messageAccess.patientId,
    })
    .from(messageAccess)
    .where(
      and(
        eq(messageAccess.orgId, options.orgId),
        options.patientId ? eq(messageAccess.patientId, options.patientId) : undefined,
        options.messageId ? eq(messageAccess.messageId, options.messageId) : undefined,
      ),
    )
    .orderBy(desc(messageAccess.at), desc(messageAccess.id))
    .limit(options.limit);
}

/** Subjects of the patient's messages named in an access history, for showing what was opened. */
export async function subjectsOf(db: DbOrTx, ring: KekRing, options: { orgId: string; patientId: string; messageIds: string[]; now: Date }) {
  const ids = [...new Set(options.messageIds)].filter(isUuid);
  if (ids.length === 0) return new Map<string, string | null>();
  const rows = await db
    .select({ id: messages.id, content: messages.content, expiresAt: messages.expiresAt, retractedAt: messages.retractedAt })
    .from(messages)
    .where(and(eq(messages.orgId, options.orgId), inArray(messages.id, ids), sql`${messages.id} in (${deliveredTo(options.orgId, options.patientId)})`));
  return new Map(
    rows.map((r) => [
      r.id,
      messageState(r, options.now) === 'available' ? openJson<MessageContent>(ring, { orgId: options.orgId, purpose: MESSAGE_CONTENT }, r.content).subject : null,
    ]),
  );
}

export type ReplyResult = { ok: true; replyId: string } | { ok: false; error: 'not_found' | 'closed' | 'limit' | 'invalid'; message: string };

/**
 * A patient's reply: sealed, at most REPLY_LIMIT per message, announced to the organisation as an outbound event
 * (ids only). Concurrent replies are counted under a per-(message, patient) lock, so the limit holds.
 */
export async function replyToMessage(db: Database, ring: KekRing, reader: Pick<Reader, 'orgId' | 'patientId'>, messageId: string, text: string, now: Date): Promise<ReplyResult> {
  const body = text.trim();
  if (!body) return { ok: false, error: 'invalid', message: 'Write your reply before sending it.' };
  if (body.length > MAX_REPLY_LENGTH) return { ok: false, error: 'invalid', message: `A reply can be at most ${MAX_REPLY_LENGTH.toLocaleString('en')} characters.` };
  const { orgId, patientId } = reader;
  return db.transaction(async (tx) => {
    const message = await visibleMessage(tx, orgId, patientId, messageId);
    if (!message) return { ok: false, error: 'not_found', message: 'There is no such message.' } as const;
    if (messageState(message, now) !== 'available') return { ok: false, error: 'closed', message: 'This message can no longer be replied to.' } as const;
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`reply:${message.id}:${patientId}`}, 0))`);
    const [{ count } = { count: 0 }] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(messageReplies)
      .where(and(eq(messageReplies.orgId, orgId), eq(messageReplies.messageId, message.id), eq(messageReplies.patientId, patientId)));
    if (count >= REPLY_LIMIT) {
      return { ok: false, error: 'limit', message: `You have sent the ${REPLY_LIMIT} replies this message allows. Please contact the sender another way.` } as const;
    }
    const [reply] = await tx
      .insert(messageReplies)
      .values({ orgId, messageId: message.id, patientId, content: sealJson(ring, { orgId, purpose: REPLY_CONTENT }, { text: body }), createdAt: now })
      .returning({ id: messageReplies.id });
    await appendAudit(tx, orgId, { actorType: 'patient', actorId: patientId, action: 'message.reply_received', subjectType: 'message', subjectId: message.id, details: { replyId: reply!.id } });
    await recordOutboundEvent(tx, orgId, { type: 'message.reply_received', patientId, payload: { messageId: message.id, replyId: reply!.id }, occurredAt: now });
    return { ok: true, replyId: reply!.id } as const;
  });
}

/**
 * The sender withdraws a message (the API exposes this with the API issue). Its patients then see "withdrawn by the
 * sender", and the gate blocks every delivery not yet handed off (`message_withdrawn`). Retracting twice is a no-op.
 */
export async function retractMessage(
  db: Database,
  options: { orgId: string; messageId: string; actor: { type: 'admin' | 'organisation' | 'system'; id?: string }; now: Date },
): Promise<{ status: 'retracted' | 'already_retracted' | 'not_found' }> {
  if (!isUuid(options.messageId)) return { status: 'not_found' };
  return db.transaction(async (tx) => {
    const [updated] = await tx
      .update(messages)
      .set({ retractedAt: options.now })
      .where(and(eq(messages.orgId, options.orgId), eq(messages.id, options.messageId), isNull(messages.retractedAt)))
      .returning({ id: messages.id });
    if (!updated) {
      const [exists] = await tx.select({ id: messages.id }).from(messages).where(and(eq(messages.orgId, options.orgId), eq(messages.id, options.messageId)));
      return { status: exists ? 'already_retracted' : 'not_found' } as const;
    }
    await appendAudit(tx, options.orgId, { actorType: options.actor.type, actorId: options.actor.id ?? null, action: 'message.retracted', subjectType: 'message', subjectId: updated.id });
    await recordOutboundEvent(tx, options.orgId, { type: 'message.retracted', patientId: null, payload: { messageId: updated.id }, occurredAt: options.now });
    return { status: 'retracted' } as const;
  });
}

/** The message a pickup link's delivery carries, when that delivery is this patient's in this organisation (EN3). */
export async function messageIdForDelivery(db: DbOrTx, options: { orgId: string; patientId: string; deliveryId: string }): Promise<string | undefined> {
  if (!isUuid(options.deliveryId)) return undefined;
  const [row] = await db
    .select({ messageId: deliveries.messageId })
    .from(deliveries)
    .where(and(eq(deliveries.orgId, options.orgId), eq(deliveries.patientId, options.patientId), eq(deliveries.id, options.deliveryId)));
  return row?.messageId;
}
