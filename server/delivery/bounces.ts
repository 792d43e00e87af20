// Hard bounces and complaints feed the suppression list (ARCHITECTURE.md, "The send engine", step 5; issue 5).
// Receivers report back by mail: a delivery status notification (DSN, RFC 3464) for a bounce, an abuse report
// (ARF, RFC 5965) for a complaint. Both quote the original message, whose Message-ID is derived from the delivery id
// (DL2), so the report leads back to the delivery, its organisation and its patient. A hard bounce or a complaint
// suppresses that address for the organisation (the gate then blocks with `suppressed`); a soft bounce is only
// recorded.
import { and, desc, eq, isNotNull, lte, sql } from 'drizzle-orm';
import { simpleParser, type Attachment, type StructuredHeader } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { Database, Tx } from '../../db/client';
import { auditEvents, contactPoints, deliveries, suppressions, type Delivery } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { recordOutboundEvent } from '../events/outbound';
import type { LinkKeyring } from '../links/tokens';
import type { Logger } from '../logger';
import { handleUnsubscribeMail } from './mail-unsubscribe';

export type FeedbackKind = 'hard_bounce' | 'soft_bounce' | 'complaint';

export type Feedback = {
  kind: FeedbackKind;
  /** The quoted original's Message-ID, angle brackets included, as it appeared; null when the report quoted none. */
  originalMessageId: string | null;
  /** The address the report is about (DSN Final-Recipient, ARF Original-Rcpt-To), if it names one. */
  recipient: string | null;
  /** The DSN status code, e.g. `5.1.1`; null for a complaint. */
  status: string | null;
};

const DELIVERY_STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const ORIGINAL_MESSAGE_TYPES = new Set(['message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers']);
const STATUS_CODE = /^([245])\.\d{1,3}\.\d{1,3}\b/;

/**
 * Reads a DSN or an ARF abuse report. Anything else (an ordinary reply, an auto-responder, a report of successful
 * delivery, an ARF report of another feedback type, mail that does not parse) is undefined.
 */
export async function parseFeedback(raw: Buffer | string): Promise<Feedback | undefined> {
  let mail;
  try {
    // keepDeliveryStatus: the delivery-status part stays a part of its own instead of being folded into the text;
    // ignoreEmbedded: a quoted original stays one part with its headers, even when marked inline (ARF usually is).
    mail = await simpleParser(raw, { keepDeliveryStatus: true, ignoreEmbedded: true, skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true, checksumAlgo: false });
  } catch {
    return undefined;
  }
  const contentType = mail.headers.get('content-type') as StructuredHeader | undefined;
  if (contentType?.value?.toLowerCase() !== 'multipart/report') return undefined;
  const reportType = String(contentType.params?.['report-type'] ?? '').toLowerCase();

  // Only the report's own parts count (part "2", "3", ...), not anything nested inside the quoted original.
  const parts = mail.attachments.filter((a) => a.partId !== null && !a.partId.includes('.'));
  const partOf = (types: Set<string>) => parts.find((a) => types.has(a.contentType.toLowerCase()));
  const originalMessageId = messageIdOf(partOf(ORIGINAL_MESSAGE_TYPES));

  if (reportType === 'delivery-status') {
    const report = partOf(DELIVERY_STATUS_TYPES);
    if (!report) return undefined;
    // The first group holds the per-message fields; every further group is one recipient.
    const recipients = fieldGroups(report.content.toString('utf8')).slice(1).map(recipientOutcome);
    // We send one recipient per message, so normally there is one group; if there are more, a hard bounce wins.
    const outcome = recipients.find((r) => r?.kind === 'hard_bounce') ?? recipients.find((r) => r !== undefined);
    return outcome ? { ...outcome, originalMessageId } : undefined;
  }

  if (reportType === 'feedback-report') {
    const report = partOf(new Set(['message/feedback-report']));
    if (!report) return undefined;
    const [fields] = fieldGroups(report.content.toString('utf8'));
    if (fields?.get('feedback-type')?.toLowerCase() !== 'abuse') return undefined;
    return { kind: 'complaint', originalMessageId, recipient: bareAddress(fields.get('original-rcpt-to')), status: null };
  }
  return undefined;
}

/**
 * One per-recipient group: `Action: failed` with a 5.x.x status is a hard bounce; `delayed`, or `failed` with a
 * 4.x.x status (a sender that gave up after retrying) or no readable status, is soft. Suppressing an address is
 * consequential, so only a permanent failure does it. Other actions (delivered, relayed, expanded) are not bounces.
 */
function recipientOutcome(fields: Map<string, string>): Omit<Feedback, 'originalMessageId'> | undefined {
  const action = fields.get('action')?.toLowerCase();
  if (action !== 'failed' && action !== 'delayed') return undefined;
  const status = STATUS_CODE.exec(fields.get('status') ?? '')?.[0] ?? null;
  const hard = action === 'failed' && status?.startsWith('5.') === true;
  const recipient = typedAddress(fields.get('final-recipient')) ?? typedAddress(fields.get('original-recipient'));
  return { kind: hard ? 'hard_bounce' : 'soft_bounce', recipient, status };
}

/** RFC 3464 `address-type; address`: only rfc822 (mail) addresses are ours to compare. */
function typedAddress(value: string | undefined): string | null {
  const match = /^\s*rfc822\s*;\s*(.+)$/i.exec(value ?? '');
  return match ? bareAddress(match[1]) : null;
}

function bareAddress(value: string | undefined): string | null {
  const address = value?.trim().replace(/^<(.*)>$/, '$1').trim();
  return address && /^[^\s@<>]+@[^\s@<>]+$/.test(address) ? address : null;
}

/** Header-style field groups separated by blank lines (RFC 3464 and RFC 5965 reports, a header block); names lower-cased. */
function fieldGroups(text: string): Map<string, string>[] {
  const groups: Map<string, string>[] = [];
  let current: Map<string, string> | undefined;
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      current = undefined;
      last = undefined;
      continue;
    }
    if (/^[ \t]/.test(line) && current && last) {
      current.set(last, `${current.get(last)} ${line.trim()}`); // a folded line continues the field before it
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (!current) groups.push((current = new Map()));
    last = line.slice(0, colon).trim().toLowerCase();
    // The first occurrence of a field counts; a report has each once.
    if (!current.has(last)) current.set(last, line.slice(colon + 1).trim());
  }
  return groups;
}

/** The Message-ID in the header block of a quoted original (a whole message, or its headers only). */
function messageIdOf(part: Attachment | undefined): string | null {
  if (!part) return null;
  const text = part.content.toString('utf8');
  const headerEnd = text.search(/\r?\n\r?\n/);
  const [headers] = fieldGroups(headerEnd === -1 ? text : text.slice(0, headerEnd));
  const value = headers?.get('message-id');
  return value ? (/<[^<>\s]+>/.exec(value)?.[0] ?? null) : null;
}

export type FeedbackResult =
  | { status: 'unknown' }
  | { status: 'soft_bounce'; deliveryId: string; recorded: boolean }
  | { status: 'applied'; kind: 'hard_bounce' | 'complaint'; deliveryId: string; deliveryFailed: boolean; suppressionAdded: boolean };

const OUR_MESSAGE_ID = /^<([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@[^<>\s@]+>$/;

/**
 * Applies one parsed report to the delivery it quotes. A hard bounce or a complaint fails a delivery that was `sent`
 * (sent_at is kept: it was handed off) and suppresses the patient's address for the organisation; a soft bounce is
 * audited only. Idempotent: a repeated report finds the work done and writes nothing.
 */
export async function applyFeedback(db: Database, feedback: Feedback, now: Date): Promise<FeedbackResult> {
  // Our Message-IDs are `<delivery id@domain>` (DL2); a lowercase UUID, as we generate them, is the only shape that can
  // be ours. The lookup then goes by the primary key, and the stored header must match the whole value.
  const header = feedback.originalMessageId?.trim().toLowerCase() ?? '';
  const deliveryId = OUR_MESSAGE_ID.exec(header)?.[1];
  if (!deliveryId) return { status: 'unknown' };

  return db.transaction(async (tx) => {
    // A system-level lookup across organisations, deliberately not scoped to one (EN3 is about what a signed-in
    // patient or admin can read): the report arrives from a mail server, not a tenant, and the Message-ID it quotes
    // is ours and unguessable (a random UUID), so it identifies the delivery and through it the organisation.
    // FOR UPDATE: a repeated report, arriving concurrently, waits here and then finds the work done.
    const [d] = await tx
      .select()
      .from(deliveries)
      .where(and(eq(deliveries.id, deliveryId), eq(deliveries.messageIdHeader, header), eq(deliveries.channel, 'email')))
      .for('update');
    if (!d) return { status: 'unknown' as const };

    if (feedback.kind === 'soft_bounce') {
      // Audit only (no suppression, the delivery stays as it is). Once per delivery and status code, so a repeated
      // notice writes nothing. There is no index on the subject: this scans the organisation's events, which is
      // acceptable for the rare soft bounce.
      const details = { status: feedback.status, channel: 'email' };
      const [seen] = await tx
        .select({ seq: auditEvents.seq })
        .from(auditEvents)
        .where(
          and(
            eq(auditEvents.orgId, d.orgId),
            eq(auditEvents.action, 'delivery.soft_bounce'),
            eq(auditEvents.subjectId, d.id),
            sql`${auditEvents.details} @> ${JSON.stringify({ status: feedback.status })}::jsonb`,
          ),
        )
        .limit(1);
      if (seen) return { status: 'soft_bounce' as const, deliveryId: d.id, recorded: false };
      await appendAudit(tx, d.orgId, { actorType: 'system', action: 'delivery.soft_bounce', subjectType: 'delivery', subjectId: d.id, details });
      return { status: 'soft_bounce' as const, deliveryId: d.id, recorded: true };
    }

    const reason = feedback.kind;
    let deliveryFailed = false;
    if (d.status === 'sent') {
      await tx.update(deliveries).set({ status: 'failed', reason, updatedAt: now }).where(eq(deliveries.id, d.id));
      // The ledger changed after the hand-off: recorded like any other delivery outcome (AU1).
      await appendAudit(tx, d.orgId, { actorType: 'system', action: 'delivery.failed', subjectType: 'delivery', subjectId: d.id, details: { reason, channel: 'email' } });
      await recordOutboundEvent(tx, d.orgId, {
        type: reason === 'complaint' ? 'delivery.complained' : 'delivery.bounced',
        patientId: d.patientId,
        payload: { deliveryId: d.id, messageId: d.messageId, channel: 'email', reason },
        occurredAt: now,
      });
      deliveryFailed = true;
    }

    const address = await addressSentTo(tx, d, feedback.recipient);
    let suppressionAdded = false;
    if (address) {
      // ON CONFLICT DO NOTHING: already suppressed (this report again, or an earlier one for another reason) adds nothing.
      const [added] = await tx
        .insert(suppressions)
        .values({ orgId: d.orgId, kind: 'email', value: address, reason, createdAt: now })
        .onConflictDoNothing()
        .returning({ orgId: suppressions.orgId });
      if (added) {
        suppressionAdded = true;
        // AU1, AU2: ids and reason codes only, never the address.
        await appendAudit(tx, d.orgId, {
          actorType: 'system',
          action: 'suppression.added',
          subjectType: 'patient',
          subjectId: d.patientId,
          details: { kind: 'email', reason, deliveryId: d.id },
        });
        await recordOutboundEvent(tx, d.orgId, { type: 'suppression.added', patientId: d.patientId, payload: { kind: 'email', reason, patientId: d.patientId }, occurredAt: now });
      }
    }
    return { status: 'applied' as const, kind: reason, deliveryId: d.id, deliveryFailed, suppressionAdded };
  });
}

/**
 * The address the delivery went to. Deliveries do not store it, so: the report's recipient when it is one of the
 * patient's email points (the engine uses only those); else the point the engine would have chosen at send time,
 * the newest verified before it was sent. Never an address that is not the patient's.
 */
async function addressSentTo(tx: Tx, d: Delivery, recipient: string | null): Promise<string | null> {
  const points = await tx
    .select({ value: contactPoints.value, verifiedAt: contactPoints.verifiedAt })
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, d.orgId), eq(contactPoints.patientId, d.patientId), eq(contactPoints.kind, 'email')));
  const reported = recipient?.toLowerCase();
  const match = reported ? points.find((p) => p.value === reported) : undefined;
  if (match) return match.value;
  const sentAt = d.sentAt ?? d.updatedAt;
  const [atSend] = await tx
    .select({ value: contactPoints.value })
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, d.orgId), eq(contactPoints.patientId, d.patientId), eq(contactPoints.kind, 'email'), isNotNull(contactPoints.verifiedAt), lte(contactPoints.verifiedAt, sentAt)))
    .orderBy(desc(contactPoints.verifiedAt))
    .limit(1);
  return atSend?.value ?? null;
}

export type FeedbackServer = { port: number; close: () => Promise<void> };

export const DEFAULT_FEEDBACK_MAX_BYTES = 10 * 1024 * 1024;

/**
 * The inbound SMTP listener for bounces and complaints: accepts any recipient (point the return path and the
 * feedback-loop address at it), applies each report and answers 250 even for mail that is not one, so senders do not
 * retry it; 552 over `maxBytes`; 451 when applying failed (a database outage), so the sender retries later. Logs ids
 * and outcomes only, never an address.
 */
export async function startFeedbackServer(options: {
  db: Database;
  port: number;
  host?: string;
  logger: Logger;
  maxBytes?: number;
  /** With it, mail to unsubscribe@ carrying a signed token is the mailto: unsubscribe (server/delivery/mail-unsubscribe.ts). */
  links?: LinkKeyring;
}): Promise<FeedbackServer> {
  const { db, logger } = options;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new Error('startFeedbackServer: the port must be an integer from 0 to 65535');
  const maxBytes = options.maxBytes ?? DEFAULT_FEEDBACK_MAX_BYTES;
  const server = new SMTPServer({
    // Reports come from mail servers, which do not authenticate; TLS would need a certificate we do not configure.
    disabledCommands: ['AUTH', 'STARTTLS'],
    authOptional: true,
    size: maxBytes,
    banner: 'Carepost feedback',
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= maxBytes) chunks.push(chunk); // past the limit, drain without keeping anything
      });
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded || bytes > maxBytes) {
          logger.info({ bytes }, 'feedback mail over size refused');
          callback(Object.assign(new Error('Message too large'), { responseCode: 552 }));
          return;
        }
        handle(Buffer.concat(chunks)).then(
          () => callback(),
          (error: unknown) => {
            logger.error({ errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'feedback mail could not be applied');
            callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
          },
        );
      });
    },
  });
  const handle = async (raw: Buffer) => {
    const feedback = await parseFeedback(raw);
    if (!feedback) {
      if (options.links) {
        const unsubscribe = await handleUnsubscribeMail(db, options.links, raw, new Date());
        if (unsubscribe.status !== 'no_token') {
          logger.info({ status: unsubscribe.status }, 'unsubscribe mail');
          return;
        }
      }
      logger.info('feedback mail ignored: not a bounce or complaint report');
      return;
    }
    const result = await applyFeedback(db, feedback, new Date());
    logger.info({ kind: feedback.kind, dsnStatus: feedback.status, ...result }, 'feedback mail applied');
  };
  server.on('error', (error: Error & { code?: string }) => logger.warn({ errorName: error.name, errorCode: error.code }, 'feedback server error'));
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.server.address();
      resolve(typeof address === 'object' && address ? address.port : options.port);
    });
  });
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
