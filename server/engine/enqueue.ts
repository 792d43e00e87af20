// Enqueue (ARCHITECTURE.md, "The send engine", step 1; DL1): the message, sealed, and one delivery row per
// (message, patient, channel), in the caller's transaction, so a message exists exactly when the business decision
// that made it committed. NOTIFY is sent in the same transaction and only wakes workers when it commits.
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { consentTopics, deliveries, messageAttachments, messages, organisations, patients, type ConsentChannel, type MessageCategory } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { WORK_CHANNEL } from '../delivery/worker-loop';
import { attachmentErrors, sealAttachments, type AttachmentInput } from '../messages/attachments';
import { sealJson, type KekRing, type MessageContent } from '../messages/vault';
import { isUuid } from '../ids';

export const MESSAGE_CONTENT = 'message-content';
const CHANNELS: ConsentChannel[] = ['email', 'sms', 'push', 'portal'];
export const MAX_SUBJECT = 200;
export const MAX_BODY = 200_000;

export type EnqueueInput = {
  orgId: string;
  category: MessageCategory;
  /** The topic key; required for marketing (AV6), refused otherwise. */
  topicKey?: string;
  content: MessageContent;
  /** Files the patient downloads from the portal; sealed like the content. */
  attachments?: AttachmentInput[];
  sendBy?: Date;
  recipients: { patientId: string; channels: ConsentChannel[] }[];
  /** Who asked: an admin, the organisation's API client, or the system (for audit). */
  actor: { type: 'admin' | 'organisation' | 'system'; id?: string };
  now: Date;
};

export type EnqueueResult =
  | { ok: true; messageId: string; deliveryIds: string[] }
  | { ok: false; fieldErrors: Record<string, string> };


/** Checks and writes; the caller owns the transaction (DL1). Every patient must belong to the organisation. */
export async function enqueueMessage(tx: Tx, ring: KekRing, input: EnqueueInput): Promise<EnqueueResult> {
  const fieldErrors: Record<string, string> = {};
  const { orgId, now } = input;
  if (!['treatment', 'operations', 'marketing'].includes(input.category)) fieldErrors.category = 'Choose treatment, operations or marketing.';
  if (input.category === 'marketing' && !input.topicKey) fieldErrors.topic = 'A marketing message needs its topic.';
  if (input.category !== 'marketing' && input.topicKey) fieldErrors.topic = 'Only marketing messages have a topic.';
  if (!input.content.subject.trim() || input.content.subject.length > MAX_SUBJECT) fieldErrors.subject = `A subject of 1 to ${MAX_SUBJECT} characters.`;
  if (!input.content.text.trim() || input.content.text.length > MAX_BODY || (input.content.html?.length ?? 0) > MAX_BODY) fieldErrors.text = 'A text body, at most 200,000 characters.';
  if (input.sendBy && input.sendBy.getTime() <= now.getTime()) fieldErrors.sendBy = 'The send-by time must be in the future.';
  if (input.recipients.length === 0) fieldErrors.recipients = 'At least one recipient.';
  const attachmentProblem = attachmentErrors(input.attachments ?? []);
  if (attachmentProblem) fieldErrors.attachments = attachmentProblem;
  if (input.recipients.some((r) => r.channels.length === 0 || r.channels.some((c) => !CHANNELS.includes(c)))) fieldErrors.channels = 'Each recipient needs channels from email, sms, push, portal.';

  let topicId: string | null = null;
  if (input.topicKey && !fieldErrors.topic) {
    const [topic] = await tx
      .select({ id: consentTopics.id })
      .from(consentTopics)
      .where(and(eq(consentTopics.orgId, orgId), eq(consentTopics.key, input.topicKey), isNull(consentTopics.retiredAt)));
    if (!topic) fieldErrors.topic = 'No such topic.';
    topicId = topic?.id ?? null;
  }
  const patientIds = [...new Set(input.recipients.map((r) => r.patientId))];
  if (patientIds.length > 0 && !fieldErrors.recipients) {
    const valid = patientIds.filter((id) => isUuid(id));
    const found = valid.length
      ? await tx.select({ id: patients.id }).from(patients).where(and(eq(patients.orgId, orgId), inArray(patients.id, valid)))
      : [];
    // EN3: another organisation's patient is simply unknown here.
    if (found.length !== patientIds.length) fieldErrors.recipients = 'Some recipients are not patients of this organisation.';
  }
  if (Object.keys(fieldErrors).length > 0) return { ok: false, fieldErrors };

  const [org] = await tx.select({ expiryDays: organisations.messageExpiryDays }).from(organisations).where(eq(organisations.id, orgId));
  const [message] = await tx
    .insert(messages)
    .values({
      orgId,
      category: input.category,
      topicId,
      content: sealJson(ring, { orgId, purpose: MESSAGE_CONTENT }, input.content),
      sendBy: input.sendBy ?? null,
      expiresAt: new Date(now.getTime() + (org?.expiryDays ?? 365) * 86_400_000),
      createdAt: now,
    })
    .returning({ id: messages.id });
  if (input.attachments?.length) await tx.insert(messageAttachments).values(sealAttachments(ring, orgId, message!.id, input.attachments));
  const rows = input.recipients.flatMap((r) =>
    [...new Set(r.channels)].map((channel) => ({
      orgId,
      messageId: message!.id,
      patientId: r.patientId,
      channel,
      category: input.category,
      topicId,
      dueAt: now,
      createdAt: now,
      updatedAt: now,
    })),
  );
  const deliveryIds: string[] = [];
  for (let i = 0; i < rows.length; i += 5_000) {
    const inserted = await tx.insert(deliveries).values(rows.slice(i, i + 5_000)).onConflictDoNothing().returning({ id: deliveries.id });
    deliveryIds.push(...inserted.map((d) => d.id));
  }
  await appendAudit(tx, orgId, {
    actorType: input.actor.type,
    actorId: input.actor.id ?? null,
    action: 'message.enqueued',
    subjectType: 'message',
    subjectId: message!.id,
    details: { category: input.category, topicId, deliveries: deliveryIds.length, attachments: input.attachments?.length ?? 0 },
  });
  await tx.execute(sql`select pg_notify(${WORK_CHANNEL}, '')`);
  return { ok: true, messageId: message!.id, deliveryIds };
}
