// RV3: an SMS reply of STOP (or one of the other carrier opt-out keywords) opts the number out of text messages, and
// at most one confirmation is sent. The webhook (server/http/sms-webhook.ts) verifies the provider and calls
// handleInboundSms; this module never sees HTTP.
import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { contactPoints, inboundSms, organisations, suppressions } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { recordOutboundEvent } from '../events/outbound';
import { keyedHash } from '../identity/codes';

export const OPT_OUT_KEYWORDS = ['STOP', 'STOPALL', 'QUIT', 'END', 'REVOKE', 'OPT OUT', 'OPTOUT', 'CANCEL', 'UNSUBSCRIBE'] as const;
export type OptOutKeyword = (typeof OPT_OUT_KEYWORDS)[number];

const KEYWORDS: ReadonlySet<string> = new Set(OPT_OUT_KEYWORDS);
const TRAILING_PUNCTUATION = /[\s.!?,;:]+$/u;

/**
 * The opt-out keyword when the WHOLE message is one (trimmed, any case, inner whitespace collapsed, trailing
 * punctuation ignored), else undefined. Carriers and providers match the whole message, not a word in it, so
 * "please stop sending" or "Stop by at 3pm?" is not an opt-out; that keeps an ordinary reply from silently cutting
 * a patient off, and it means we never act where the carrier would not (RV3).
 */
export function optOutKeyword(body: string): OptOutKeyword | undefined {
  const normalised = body.replace(/\s+/gu, ' ').trim().replace(TRAILING_PUNCTUATION, '').toUpperCase();
  return KEYWORDS.has(normalised) ? (normalised as OptOutKeyword) : undefined;
}

export type InboundSms = {
  /** The provider's id for the message (Twilio: MessageSid); a retried webhook carries the same one. */
  providerMessageId: string;
  /** The sender, E.164 as the provider gives it. */
  from: string;
  /** Our number it was sent to. Not used yet: every organisation sends from the one configured sender. */
  to: string;
  body: string;
  codeSecret: Buffer;
  now: Date;
};

export type InboundSmsResult = {
  /** True only when this message newly suppressed the number somewhere: then, and only then, confirm (RV3). */
  confirm: boolean;
  /** The organisations it was newly suppressed in, for the confirmation text. */
  orgNames: string[];
};

const NOTHING: InboundSmsResult = { confirm: false, orgNames: [] };

/** The stored stand-in for a sender number: never the number in clear (AU2). */
export function inboundSenderHash(codeSecret: Buffer, from: string): string {
  return keyedHash(codeSecret, 'inbound_sms_from', from);
}

/**
 * Records one inbound SMS (once per provider message id: a retried webhook does nothing the second time) and, for an
 * opt-out keyword, suppresses the number for SMS in every organisation that has it as a contact point. Only the
 * keyword and a keyed hash of the sender are stored; the text and the number are not.
 */
export async function handleInboundSms(db: Database, message: InboundSms): Promise<InboundSmsResult> {
  const keyword = optOutKeyword(message.body);
  return db.transaction(async (tx) => {
    // Idempotency: the primary key on the provider's id. A concurrent retry waits here for this transaction and
    // then inserts nothing.
    const [recorded] = await tx
      .insert(inboundSms)
      .values({
        providerMessageId: message.providerMessageId,
        keyword: keyword ?? null,
        fromHash: inboundSenderHash(message.codeSecret, message.from),
        receivedAt: message.now,
      })
      .onConflictDoNothing()
      .returning({ providerMessageId: inboundSms.providerMessageId });
    if (!recorded || !keyword) return NOTHING;

    // A system-level lookup across organisations, deliberately not scoped to one (EN3 is about what a signed-in
    // patient or admin can read): the sender is a phone, not a tenant, and the same number may be a contact point of
    // patients of several organisations that all send from our one sender number. The opt-out covers all of them.
    // Unverified contact points are included: opting out can only make us send less.
    const holders = await tx
      .select({ orgId: contactPoints.orgId, orgName: organisations.name, contactPointId: contactPoints.id, patientId: contactPoints.patientId })
      .from(contactPoints)
      .innerJoin(organisations, eq(organisations.id, contactPoints.orgId))
      .where(and(eq(contactPoints.kind, 'sms'), eq(contactPoints.value, message.from)))
      .orderBy(organisations.name, contactPoints.orgId);

    const orgNames: string[] = [];
    // (org, kind, value) is unique in contact_points, so each organisation appears once.
    for (const holder of holders) {
      // ON CONFLICT DO NOTHING: a second STOP, or a concurrent one under another message id, adds nothing and so
      // confirms nothing. An existing suppression for another reason (bounce, admin) stays as it was.
      const [added] = await tx
        .insert(suppressions)
        .values({ orgId: holder.orgId, kind: 'sms', value: message.from, reason: 'sms_stop', createdAt: message.now })
        .onConflictDoNothing()
        .returning({ orgId: suppressions.orgId });
      if (!added) continue;
      // AU1/AU2: ids and reason codes only, never the number or the text.
      await appendAudit(tx, holder.orgId, {
        actorType: 'system',
        action: 'suppression.added',
        subjectType: 'patient',
        subjectId: holder.patientId,
        details: { kind: 'sms', reason: 'sms_stop', contactPointId: holder.contactPointId },
      });
      await recordOutboundEvent(tx, holder.orgId, {
        type: 'suppression.added',
        patientId: holder.patientId,
        payload: { kind: 'sms', reason: 'sms_stop', patientId: holder.patientId },
        occurredAt: message.now,
      });
      orgNames.push(holder.orgName);
    }
    return { confirm: orgNames.length > 0, orgNames };
  });
}
