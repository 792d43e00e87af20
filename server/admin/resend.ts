// Support's "resend a notice" (issue 8, ADR 016). Support sees a patient's recent messages waiting in the portal as
// metadata only (when, what kind, how the notice went), never a subject or a body, and can ask for the PHI-free pickup
// notice again. A resend is a delivery of its own in the ledger (resend_of, resend_no), claimed and gated by the engine
// like any other (DL3): consent, preferences, quiet hours, suppression and unverified contact points all apply, so it
// may be held or blocked. Nothing here hands anything to a transport.
import { and, desc, eq, gt, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Database, DbOrTx } from '../../db/client';
import { deliveries, messages, type DeliveryStatus, type MessageCategory } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { WORK_CHANNEL } from '../delivery/worker-loop';
import { loadFacts } from '../engine/facts';
import { decide } from '../engine/gate';
import { isUuid } from '../ids';
import { messageState, type MessageState } from '../messages/inbox';

/** Resends of one message to one patient (all channels together) in any 24 hours. */
export const RESENDS_PER_MESSAGE_PER_DAY = 3;
const DAY_MS = 24 * 60 * 60 * 1000;
/** How far back support sees notices, and how many per patient. */
export const NOTICE_WINDOW_DAYS = 30;
export const NOTICES_PER_PATIENT = 20;

export type NoticeChannel = 'email' | 'sms';
type DeliveryOutcome = { status: DeliveryStatus; decision: 'allow' | 'block' | 'defer' | null; reason: string | null; route: string | null; dueAt: Date };

/** What support may see of one notice: no subject, no body, no topic, no address. */
export type SupportNotice = DeliveryOutcome & {
  deliveryId: string;
  patientId: string;
  channel: NoticeChannel;
  category: MessageCategory;
  messageCreatedAt: Date;
  messageState: MessageState;
  /** The newest resend of this notice, if any. */
  lastResend: (DeliveryOutcome & { resendNo: number; createdAt: Date }) | null;
  /** The number a new resend would get: the form sends it back, so a repeated POST cannot make a second one. */
  nextResendNo: number;
  /** Resends of this message to this patient in the last 24 hours. */
  resendsToday: number;
};

/**
 * Recent email and SMS notices of messages waiting in these patients' portals (a delivery to them was handed off),
 * newest first, at most NOTICES_PER_PATIENT each. Two statements for any number of patients.
 */
export async function noticesForSupport(db: DbOrTx, orgId: string, patientIds: string[], now: Date): Promise<Map<string, SupportNotice[]>> {
  const byPatient = new Map<string, SupportNotice[]>();
  const ids = patientIds.filter(isUuid);
  if (ids.length === 0) return byPatient;
  // The outer delivery, qualified by hand inside the raw subquery (drizzle leaves single-table columns bare).
  const outer = (column: string) => sql`${deliveries}.${sql.identifier(column)}`;
  const waiting = sql`exists (select 1 from ${deliveries} s where s.org_id = ${outer('org_id')} and s.message_id = ${outer('message_id')}
    and s.patient_id = ${outer('patient_id')} and s.status = 'sent')`;
  const originals = await db
    .select({
      deliveryId: deliveries.id,
      patientId: deliveries.patientId,
      messageId: deliveries.messageId,
      channel: deliveries.channel,
      status: deliveries.status,
      decision: deliveries.decision,
      reason: deliveries.reason,
      route: deliveries.route,
      dueAt: deliveries.dueAt,
      category: messages.category,
      messageCreatedAt: messages.createdAt,
      expiresAt: messages.expiresAt,
      retractedAt: messages.retractedAt,
    })
    .from(deliveries)
    .innerJoin(messages, and(eq(messages.orgId, deliveries.orgId), eq(messages.id, deliveries.messageId)))
    .where(
      and(
        eq(deliveries.orgId, orgId),
        inArray(deliveries.patientId, ids),
        eq(deliveries.resendNo, 0),
        inArray(deliveries.channel, ['email', 'sms']),
        gt(messages.createdAt, new Date(now.getTime() - NOTICE_WINDOW_DAYS * DAY_MS)),
        waiting,
      ),
    )
    .orderBy(desc(messages.createdAt), desc(deliveries.id))
    .limit(NOTICES_PER_PATIENT * ids.length);
  if (originals.length === 0) return byPatient;
  const resends = await db
    .select({
      resendOf: deliveries.resendOf,
      messageId: deliveries.messageId,
      patientId: deliveries.patientId,
      resendNo: deliveries.resendNo,
      status: deliveries.status,
      decision: deliveries.decision,
      reason: deliveries.reason,
      route: deliveries.route,
      dueAt: deliveries.dueAt,
      createdAt: deliveries.createdAt,
    })
    .from(deliveries)
    .where(and(eq(deliveries.orgId, orgId), inArray(deliveries.patientId, ids), inArray(deliveries.messageId, [...new Set(originals.map((o) => o.messageId))]), isNotNull(deliveries.resendOf)))
    .orderBy(desc(deliveries.resendNo));
  for (const o of originals) {
    const list = byPatient.get(o.patientId) ?? [];
    if (list.length >= NOTICES_PER_PATIENT) continue;
    const mine = resends.filter((r) => r.resendOf === o.deliveryId);
    const last = mine[0];
    list.push({
      deliveryId: o.deliveryId,
      patientId: o.patientId,
      channel: o.channel as NoticeChannel,
      category: o.category,
      messageCreatedAt: o.messageCreatedAt,
      messageState: messageState(o, now),
      status: o.status,
      decision: o.decision,
      reason: o.reason,
      route: o.route,
      dueAt: o.dueAt,
      lastResend: last
        ? { resendNo: last.resendNo, status: last.status, decision: last.decision, reason: last.reason, route: last.route, dueAt: last.dueAt, createdAt: last.createdAt }
        : null,
      nextResendNo: (last?.resendNo ?? 0) + 1,
      resendsToday: resends.filter((r) => r.messageId === o.messageId && r.patientId === o.patientId && r.createdAt.getTime() > now.getTime() - DAY_MS).length,
    });
    byPatient.set(o.patientId, list);
  }
  return byPatient;
}

export type ResendResult =
  | { status: 'queued'; deliveryId: string; patientId: string; preview: { kind: 'allow' } | { kind: 'block'; reason: string } | { kind: 'defer'; reason: string; until: Date } }
  | { status: 'not_found' }
  | { status: 'invalid'; error: string; patientId: string }
  | { status: 'already_requested'; patientId: string }
  | { status: 'pending'; patientId: string }
  | { status: 'rate_limited'; patientId: string; retryAt: Date };

/**
 * Queues one resend of a notice. The original delivery's row is locked, so two requests for it run one after the
 * other; the form's `resendNo` must be the next number, so a double-click (or a replayed POST) finds its number
 * taken and adds nothing, and the unique key backs that up. The delivery, its audit event and the NOTIFY commit
 * together (DL1). The returned preview is the gate's answer right now, read without locks, for the page to say what
 * to expect; the engine decides again when it claims the resend (DL3).
 */
export async function resendNotice(
  db: Database,
  options: { orgId: string; deliveryId: string; resendNo: string; actor: { type: 'admin'; id: string }; now: Date },
): Promise<ResendResult> {
  const { orgId, now } = options;
  if (!isUuid(options.deliveryId)) return { status: 'not_found' };
  const result = await db.transaction(async (tx) => {
    const [original] = await tx
      .select()
      .from(deliveries)
      .where(and(eq(deliveries.orgId, orgId), eq(deliveries.id, options.deliveryId), eq(deliveries.resendNo, 0)))
      .for('update');
    // EN3: another organisation's delivery, or a resend's own id, is simply unknown here.
    if (!original) return { status: 'not_found' } as const;
    const patientId = original.patientId;
    if (original.channel !== 'email' && original.channel !== 'sms') return { status: 'invalid', error: 'Only email and text-message notices can be resent.', patientId } as const;
    const [message] = await tx.select().from(messages).where(and(eq(messages.orgId, orgId), eq(messages.id, original.messageId)));
    const [waiting] = await tx
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(and(eq(deliveries.orgId, orgId), eq(deliveries.messageId, original.messageId), eq(deliveries.patientId, patientId), eq(deliveries.status, 'sent')))
      .limit(1);
    if (!message || !waiting) return { status: 'invalid', error: 'This message is not waiting in the patient’s portal, so there is nothing to pick up.', patientId } as const;
    const state = messageState(message, now);
    if (state !== 'available') {
      return { status: 'invalid', error: state === 'withdrawn' ? 'The sender withdrew this message: a notice would lead nowhere.' : 'This message has expired: a notice would lead nowhere.', patientId } as const;
    }

    const previous = await tx
      .select({ resendNo: deliveries.resendNo, status: deliveries.status, createdAt: deliveries.createdAt, resendOf: deliveries.resendOf })
      .from(deliveries)
      .where(and(eq(deliveries.orgId, orgId), eq(deliveries.messageId, original.messageId), eq(deliveries.patientId, patientId), isNotNull(deliveries.resendOf)))
      .orderBy(desc(deliveries.resendNo));
    const mine = previous.filter((r) => r.resendOf === original.id);
    const next = (mine[0]?.resendNo ?? 0) + 1;
    if (options.resendNo !== String(next)) return { status: 'already_requested', patientId } as const;
    if (mine.some((r) => r.status === 'queued' || r.status === 'sending')) return { status: 'pending', patientId } as const;
    const today = previous.filter((r) => r.createdAt.getTime() > now.getTime() - DAY_MS);
    if (today.length >= RESENDS_PER_MESSAGE_PER_DAY) {
      const oldest = Math.min(...today.map((r) => r.createdAt.getTime()));
      return { status: 'rate_limited', patientId, retryAt: new Date(oldest + DAY_MS) } as const;
    }

    const [created] = await tx
      .insert(deliveries)
      .values({
        orgId,
        messageId: original.messageId,
        patientId,
        channel: original.channel,
        category: original.category,
        topicId: original.topicId,
        resendOf: original.id,
        resendNo: next,
        dueAt: now,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (!created) return { status: 'already_requested', patientId } as const;
    // AU1: who asked for what, by ids; never an address, a subject or a topic name.
    await appendAudit(tx, orgId, {
      actorType: options.actor.type,
      actorId: options.actor.id,
      action: 'support.notice_resent',
      subjectType: 'delivery',
      subjectId: created.id,
      details: { resendOf: original.id, messageId: original.messageId, patientId, channel: original.channel, resendNo: next },
    });
    await tx.execute(sql`select pg_notify(${WORK_CHANNEL}, '')`);
    return { status: 'queued', created } as const;
  });
  if (result.status !== 'queued') return result;

  const { created } = result;
  const [message] = await db.select().from(messages).where(and(eq(messages.orgId, orgId), eq(messages.id, created.messageId)));
  const { facts } = await loadFacts(db, created, now, { lock: false });
  const decision = decide(
    { category: created.category, topicId: created.topicId, channel: created.channel, sendBy: message!.sendBy, retracted: message!.retractedAt !== null, expiresAt: message!.expiresAt },
    facts,
    now,
  );
  const preview = decision.kind === 'allow' ? { kind: 'allow' as const } : decision.kind === 'block' ? { kind: 'block' as const, reason: decision.reason } : { kind: 'defer' as const, reason: decision.reason, until: decision.until };
  return { status: 'queued', deliveryId: created.id, patientId: created.patientId, preview };
}
