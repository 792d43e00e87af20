// Claim, gate, route, hand off and record (ARCHITECTURE.md, "The send engine", steps 2-5).
// - Claim: due rows in batches, FOR UPDATE SKIP LOCKED, with a lease; an expired lease is claimed again.
// - Each claimed delivery then runs in its own transaction: facts (the consent row FOR SHARE), decide(), and for an
//   allow the hand-off to the transport, then the outcome, committed right after the transport accepts. The lock is
//   held across the hand-off, so a revocation that commits first blocks the delivery, and one that comes later waits
//   for the hand-off (RV1, DL3).
// - At-least-once: if the process dies between the transport's acceptance and the commit, the lease expires and the
//   delivery is handed off again with the same Message-ID (DL2), which receivers use to drop the copy.
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, inArray, isNotNull, lte, or, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { contactPoints, deliveries, messages, orgDkimKeys, organisations, patients, type CampaignKind, type Delivery, type DeliveryRoute } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { recordOutboundEvent } from '../events/outbound';
import type { SmsTransport } from '../delivery/sms';
import { composeMail } from '../delivery/compose';
import { unsubscribeMailto } from '../delivery/mail-unsubscribe';
import { buildPgpMime, ensureOrgSigningKey, loadOrgSigningKey, pgpKeyFor } from '../delivery/pgp';
import { mailDomainOf, tlsDecision, type ProbeResult, type TlsDecision } from '../delivery/tls';
import type { PrivateKey } from 'openpgp';
import { openDkimKey } from '../delivery/dkim-keys';
import { TransportError, type DkimOptions, type MailTransport } from '../delivery/transport';
import { LINK_PATHS } from '../links/links';
import { DEFAULT_TTL_SECONDS, mintLink, type LinkKeyring } from '../links/tokens';
import { campaignNotice, campaignOfDelivery } from '../campaigns/notice';
import { noticeTexts } from '../i18n/notices';
import type { Logger } from '../logger';
import { openJson, type KekRing, type MessageContent } from '../messages/vault';
import { MESSAGE_CONTENT } from './enqueue';
import { loadFacts } from './facts';
import { decide, type Decision } from './gate';

export const LEASE_MS = 60_000;
/** After this long from enqueue, a delivery that still fails is given up (failed, `max_age`). */
export const MAX_AGE_MS = 24 * 60 * 60 * 1000;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 60 * 60 * 1000;

export type EngineDeps = {
  db: Database;
  vault: KekRing;
  links: LinkKeyring;
  publicUrl: URL;
  mailFrom: string;
  /** The domain of our Message-IDs (DL2). */
  messageIdDomain: string;
  /** The relay for notices (and everything, until direct TLS delivery is configured). */
  mail: MailTransport;
  sms: SmsTransport | undefined;
  logger: Logger;
  workerId?: string;
  /** PGP/MIME for patients with a valid key (on unless false). */
  pgp?: boolean;
  /** Direct delivery over required TLS to domains that take it (TR1); unset: no TLS route, notices only. */
  tls?: { probe: (domain: string) => Promise<ProbeResult>; transport: MailTransport };
  /** Claim only these organisations' deliveries (a worker dedicated to some tenants; tests sharing a database). */
  orgIds?: string[];
  /** How long a claim lasts (LEASE_MS) and the first retry delay (doubling, with jitter); tests shorten them. */
  leaseMs?: number;
  retryBaseMs?: number;
  /** Decrypted organisation signing keys, per organisation, for the life of the process. */
  signingKeys?: Map<string, Promise<PrivateKey>>;
  /** Opened organisation DKIM keys, by org id and key creation time (a new key replaces the cached one). */
  dkimKeys?: Map<string, DkimOptions>;
};

export type Outcome = 'sent' | 'blocked' | 'deferred' | 'retry' | 'failed';

/** Claims up to `limit` due deliveries for this worker. Rows another worker holds are skipped, never waited for. */
export async function claimBatch(deps: EngineDeps, limit: number, now: Date): Promise<Delivery[]> {
  const workerId = deps.workerId ?? 'worker';
  return deps.db.transaction(async (tx) => {
    const due = await tx
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(
        and(
          lte(deliveries.dueAt, now),
          or(eq(deliveries.status, 'queued'), and(eq(deliveries.status, 'sending'), lte(deliveries.leaseUntil, now))),
          deps.orgIds ? inArray(deliveries.orgId, deps.orgIds) : undefined,
        ),
      )
      .orderBy(asc(deliveries.dueAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    if (due.length === 0) return [];
    return tx
      .update(deliveries)
      .set({ status: 'sending', leasedBy: workerId, leaseUntil: new Date(now.getTime() + (deps.leaseMs ?? LEASE_MS)), updatedAt: now })
      .where(inArray(deliveries.id, due.map((d) => d.id)))
      .returning();
  });
}

function backoff(attempts: number, baseMs = BACKOFF_BASE_MS): number {
  const base = Math.min(BACKOFF_CAP_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base / 2 + Math.random() * (base / 2)); // "equal jitter"
}

type Handoff = { route: DeliveryRoute; messageIdHeader: string | null };

/** Gates one claimed delivery and, when allowed, hands it off; every outcome is recorded in the same transaction. */
export async function processDelivery(deps: EngineDeps, claimed: Delivery, now = new Date()): Promise<Outcome> {
  try {
    // The TLS route may need a probe (seconds): decided before any lock is taken.
    const tls = await tlsRouteFor(deps, claimed, now);
    return await deps.db.transaction(async (tx) => {
      // Re-read under a row lock: the lease may have expired and another worker may have finished it meanwhile.
      const [d] = await tx.select().from(deliveries).where(eq(deliveries.id, claimed.id)).for('update');
      if (!d || d.status !== 'sending' || d.leasedBy !== claimed.leasedBy) return 'deferred' as const;
      const [message] = await tx.select().from(messages).where(and(eq(messages.orgId, d.orgId), eq(messages.id, d.messageId)));
      const { facts, contactValue } = await loadFacts(tx, d, now);
      const decision = decide(
        { category: d.category, topicId: d.topicId, channel: d.channel, sendBy: message!.sendBy, retracted: message!.retractedAt !== null, expiresAt: message!.expiresAt },
        facts,
        now,
      );
      if (decision.kind !== 'allow') return record(tx, d, decision, now);

      const handoff = await handOff(deps, tx, d, message!.content, contactValue, tls, now);
      await tx
        .update(deliveries)
        .set({
          status: 'sent',
          decision: 'allow',
          reason: decision.reason,
          basisEventId: decision.basis?.grantEventId ?? null,
          basisTextHash: decision.basis?.textHash ?? null,
          route: handoff.route,
          messageIdHeader: handoff.messageIdHeader,
          attempts: d.attempts + 1,
          leasedBy: null,
          leaseUntil: null,
          lastError: null,
          sentAt: now,
          updatedAt: now,
        })
        .where(eq(deliveries.id, d.id));
      await appendAudit(tx, d.orgId, {
        actorType: 'system',
        action: 'delivery.sent',
        subjectType: 'delivery',
        subjectId: d.id,
        details: { reason: decision.reason, route: handoff.route, basisEventId: decision.basis?.grantEventId ?? null, channel: d.channel },
      });
      await recordOutboundEvent(tx, d.orgId, {
        type: 'delivery.sent',
        patientId: d.patientId,
        payload: { deliveryId: d.id, messageId: d.messageId, channel: d.channel, route: handoff.route, reason: decision.reason },
        occurredAt: now,
      });
      return 'sent' as const;
    });
  } catch (error) {
    if (!(error instanceof TransportError)) throw error;
    return recordFailure(deps, claimed, error, now);
  }
}

async function record(tx: Tx, d: Delivery, decision: Exclude<Decision, { kind: 'allow' }>, now: Date): Promise<Outcome> {
  const blocked = decision.kind === 'block';
  await tx
    .update(deliveries)
    .set({
      status: blocked ? 'blocked' : 'queued',
      decision: decision.kind,
      reason: decision.reason,
      dueAt: blocked ? d.dueAt : decision.until,
      leasedBy: null,
      leaseUntil: null,
      updatedAt: now,
    })
    .where(eq(deliveries.id, d.id));
  await appendAudit(tx, d.orgId, {
    actorType: 'system',
    action: blocked ? 'delivery.blocked' : 'delivery.deferred',
    subjectType: 'delivery',
    subjectId: d.id,
    details: { reason: decision.reason, channel: d.channel, ...(blocked ? {} : { until: decision.until.toISOString() }) },
  });
  // A deferral is announced once per reason, not on every wake-up that finds it still deferred.
  if (blocked || d.reason !== decision.reason) {
    await recordOutboundEvent(tx, d.orgId, {
      type: blocked ? 'delivery.blocked' : 'delivery.deferred',
      patientId: d.patientId,
      payload: { deliveryId: d.id, messageId: d.messageId, channel: d.channel, reason: decision.reason, ...(blocked ? {} : { until: decision.until.toISOString() }) },
      occurredAt: now,
    });
  }
  return blocked ? 'blocked' : 'deferred';
}

/** A transport error: 4xx and network errors retry with backoff until the maximum age; 5xx fails. */
async function recordFailure(deps: EngineDeps, claimed: Delivery, error: TransportError, now: Date): Promise<Outcome> {
  const attempts = claimed.attempts + 1;
  const tooOld = now.getTime() - claimed.createdAt.getTime() >= MAX_AGE_MS;
  const failed = error.permanent || tooOld;
  const errorCode = error.responseCode ? `smtp_${error.responseCode}` : error.code;
  await deps.db.transaction(async (tx) => {
    await tx
      .update(deliveries)
      .set({
        status: failed ? 'failed' : 'queued',
        attempts,
        lastError: errorCode,
        reason: failed ? (tooOld && !error.permanent ? 'max_age' : 'permanent_failure') : 'transient_failure',
        dueAt: failed ? claimed.dueAt : new Date(now.getTime() + backoff(attempts, deps.retryBaseMs)),
        leasedBy: null,
        leaseUntil: null,
        updatedAt: now,
      })
      .where(and(eq(deliveries.id, claimed.id), eq(deliveries.status, 'sending')));
    await appendAudit(tx, claimed.orgId, {
      actorType: 'system',
      action: failed ? 'delivery.failed' : 'delivery.retry',
      subjectType: 'delivery',
      subjectId: claimed.id,
      details: { errorCode, attempts },
    });
    if (failed) {
      await recordOutboundEvent(tx, claimed.orgId, {
        type: 'delivery.failed',
        patientId: claimed.patientId,
        payload: { deliveryId: claimed.id, messageId: claimed.messageId, channel: claimed.channel, reason: errorCode ?? 'failed' },
        occurredAt: now,
      });
    }
  });
  deps.logger.warn({ deliveryId: claimed.id, errorCode, attempts, failed }, 'delivery hand-off failed');
  return failed ? 'failed' : 'retry';
}

async function orgOf(deps: EngineDeps, tx: Tx, orgId: string, patientId: string) {
  const [org] = await tx
    .select({
      slug: organisations.slug,
      name: organisations.name,
      pickupLinkDays: organisations.pickupLinkDays,
      dkim: orgDkimKeys,
      // Issue 9: the patient's language for the notice, in the same round trip.
      locale: sql<string | null>`(select ${patients.locale} from ${patients} where ${patients.orgId} = ${orgId} and ${patients.id} = ${patientId})`,
    })
    .from(organisations)
    .leftJoin(orgDkimKeys, eq(orgDkimKeys.orgId, organisations.id))
    .where(eq(organisations.id, orgId));
  const { dkim: dkimRow, ...rest } = org!;
  return { ...rest, dkim: dkimRow ? dkimOf(deps, orgId, dkimRow) : undefined };
}

/** EM3: the organisation's own DKIM key, opened once per process and key. */
function dkimOf(deps: EngineDeps, orgId: string, row: typeof orgDkimKeys.$inferSelect): DkimOptions {
  deps.dkimKeys ??= new Map();
  const cacheKey = `${orgId}:${row.createdAt.getTime()}`;
  let key = deps.dkimKeys.get(cacheKey);
  if (!key) {
    key = openDkimKey(deps.vault, orgId, row);
    deps.dkimKeys.set(cacheKey, key);
  }
  return key;
}

/** EM4: the signed pickup link, valid for the organisation's period (30 days unless it set another). */
async function pickupUrl(deps: EngineDeps, d: Delivery, org: { slug: string; pickupLinkDays: number }, now: Date): Promise<string> {
  const token = await mintLink(deps.links, {
    purpose: 'pickup',
    orgId: d.orgId,
    patientId: d.patientId,
    context: { deliveryId: d.id },
    ttlSeconds: org.pickupLinkDays * 86_400,
    now,
    linkId: randomUUID(),
  });
  return new URL(`/o/${org.slug}/${LINK_PATHS.pickup}/${token}`, deps.publicUrl).toString();
}

async function unsubscribeLinks(deps: EngineDeps, d: Delivery, slug: string, now: Date): Promise<{ https: string; mailto: string }> {
  const token = await mintLink(deps.links, { purpose: 'unsubscribe', orgId: d.orgId, patientId: d.patientId, context: { topicId: d.topicId!, channel: d.channel }, now, linkId: randomUUID() });
  return { https: new URL(`/o/${slug}/${LINK_PATHS.unsubscribe}/${token}`, deps.publicUrl).toString(), mailto: unsubscribeMailto(deps.messageIdDomain, token) };
}

/**
 * Route and hand-off (ARCHITECTURE.md, step 4). Email: PGP/MIME when the patient has a valid key; else the content
 * over required TLS when the domain takes it; else a PHI-free notice with a signed pickup link (EM4). SMS always
 * carries a notice; the portal needs no transport (the message waits in the patient's inbox).
 */
async function handOff(
  deps: EngineDeps,
  tx: Tx,
  d: Delivery,
  sealed: Parameters<typeof openJson>[2],
  to: string | null,
  tls: TlsDecision | undefined,
  now: Date,
): Promise<Handoff> {
  if (d.channel === 'portal') return { route: 'portal', messageIdHeader: null };
  const org = await orgOf(deps, tx, d.orgId, d.patientId);
  // A renewal campaign's request (issue 8): the PHI-free notice with the patient's renewal link, on every route.
  const campaign = d.category === 'marketing' ? await campaignOfDelivery(tx, d) : undefined;
  // Notices are written in the patient's stored language (issue 9, item 3).
  const locale = org.locale ?? 'en';
  const words = noticeTexts(locale);
  if (campaign) return campaignHandOff(deps, d, org, campaign, to!, now, locale);
  if (d.channel === 'sms') {
    const pickup = await pickupUrl(deps, d, org, now);
    await sendSms(deps, d, to!, words.smsNotice({ org: org.name, url: pickup }));
    return { route: 'sms_notice', messageIdHeader: null };
  }
  const unsubscribe = d.category === 'marketing' ? await unsubscribeLinks(deps, d, org.slug, now) : undefined;
  // The content as mail (Message-ID, List-Unsubscribe and the visible link for marketing); opened only for a route
  // that protects it.
  const contentMail = () => {
    const content = openJson<MessageContent>(deps.vault, { orgId: d.orgId, purpose: MESSAGE_CONTENT }, sealed);
    const mail = composeMail({ from: deps.mailFrom, to: to!, subject: content.subject, text: content.text, html: content.html, deliveryId: d.id, domain: deps.messageIdDomain, unsubscribe, locale });
    return { ...mail, dkim: org.dkim };
  };

  // 1. PGP/MIME when the patient has a valid key: the content is protected end to end, whatever the relay does.
  const recipientKey = deps.pgp === false ? undefined : await pgpKeyFor(tx, d.orgId, d.patientId, now);
  if (recipientKey) {
    const mail = contentMail();
    const raw = await buildPgpMime({
      from: mail.from,
      to: mail.to,
      subject: words.pgpSubject({ org: org.name }),
      innerSubject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId!,
      headers: mail.headers,
      recipientKey,
      signingKey: await signingKeyOf(deps, d.orgId, org.name, now),
      date: now,
    });
    await deps.mail.send({ from: deps.mailFrom, to: to!, subject: '', text: '', raw, dkim: org.dkim });
    return { route: 'pgp', messageIdHeader: mail.messageId! };
  }

  // 2. The content over TLS, straight to the recipient's mail server, when it takes TLS with a valid certificate.
  if (tls?.route === 'tls' && deps.tls) {
    const mail = contentMail();
    try {
      await deps.tls.transport.send(mail);
      return { route: 'tls', messageIdHeader: mail.messageId! };
    } catch (error) {
      // TLS missing or the certificate wrong at send time: nothing was sent (the transport stops before MAIL FROM).
      // Fall back to a notice, unless the organisation requires TLS for this domain (TR2): then wait and retry.
      const tlsFailure = error instanceof TransportError && (error.code === 'tls_unavailable' || error.code === 'certificate_invalid');
      if (!tlsFailure || tls.enforced) throw error;
    }
  } else if (tls?.enforced) {
    throw new TransportError('TLS required for this domain and not available', 'tls_required_unavailable');
  }

  // 3. The portal fallback (EM4): a PHI-free notice with a signed pickup link.
  const pickup = await pickupUrl(deps, d, org, now);
  const notice = words.portalNotice({ org: org.name, url: pickup, days: org.pickupLinkDays });
  const mail = composeMail({ from: deps.mailFrom, to: to!, subject: notice.subject, text: notice.text, deliveryId: d.id, domain: deps.messageIdDomain, unsubscribe, locale });
  await deps.mail.send({ ...mail, dkim: org.dkim });
  return { route: 'portal_notice', messageIdHeader: mail.messageId! };
}

async function sendSms(deps: EngineDeps, d: Delivery, to: string, body: string): Promise<void> {
  if (!deps.sms) throw new TransportError('no SMS transport configured', 'no_sms_transport', 550);
  await deps.sms.send({ to, body, reference: d.id }).catch((error: { code?: string }) => {
    throw new TransportError('sms hand-off failed', error.code ?? 'sms_failed', error.code === 'invalid_number' || error.code === 'rejected' ? 550 : undefined);
  });
}

/**
 * A campaign request by email or SMS: a notice without PHI (EM4) carrying a renewal link minted now for this patient
 * and topic, so it is fresh even after a deferral. The link exists only in the mail or text; it is not recorded.
 */
async function campaignHandOff(
  deps: EngineDeps,
  d: Delivery,
  org: { slug: string; name: string; dkim?: DkimOptions },
  campaign: { kind: CampaignKind; topicId: string },
  to: string,
  now: Date,
  locale: string,
): Promise<Handoff> {
  const token = await mintLink(deps.links, { purpose: 'renewal', orgId: d.orgId, patientId: d.patientId, context: { topicId: campaign.topicId }, now, linkId: randomUUID() });
  const renewalUrl = new URL(`/o/${org.slug}/${LINK_PATHS.renewal}/${token}`, deps.publicUrl).toString();
  const notice = campaignNotice(campaign.kind, org, renewalUrl, DEFAULT_TTL_SECONDS.renewal / 86_400, locale);
  if (d.channel === 'sms') {
    await sendSms(deps, d, to, notice.sms);
    return { route: 'sms_notice', messageIdHeader: null };
  }
  const unsubscribe = await unsubscribeLinks(deps, d, org.slug, now);
  const mail = composeMail({ from: deps.mailFrom, to, subject: notice.subject, text: notice.text, deliveryId: d.id, domain: deps.messageIdDomain, unsubscribe, locale });
  await deps.mail.send({ ...mail, dkim: org.dkim });
  return { route: 'portal_notice', messageIdHeader: mail.messageId! };
}

async function signingKeyOf(deps: EngineDeps, orgId: string, orgName: string, now: Date): Promise<PrivateKey> {
  deps.signingKeys ??= new Map();
  let key = deps.signingKeys.get(orgId);
  if (!key) {
    key = ensureOrgSigningKey(deps.db, deps.vault, { id: orgId, name: orgName }, now).then(() => loadOrgSigningKey(deps.db, deps.vault, orgId));
    key.catch(() => deps.signingKeys?.delete(orgId));
    deps.signingKeys.set(orgId, key);
  }
  return key;
}

/** For email with a TLS route configured: the decision for the patient's verified address's domain, probed if needed. */
async function tlsRouteFor(deps: EngineDeps, d: Delivery, now: Date): Promise<TlsDecision | undefined> {
  if (d.channel !== 'email' || !deps.tls) return undefined;
  const [point] = await deps.db
    .select({ value: contactPoints.value })
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, d.orgId), eq(contactPoints.patientId, d.patientId), eq(contactPoints.kind, 'email'), isNotNull(contactPoints.verifiedAt)))
    .orderBy(desc(contactPoints.verifiedAt))
    .limit(1);
  const domain = point ? mailDomainOf(point.value) : null;
  return domain ? tlsDecision(deps.db, d.orgId, domain, { probe: deps.tls.probe, now }) : undefined;
}

/** One worker pass: claim a batch and process it with bounded concurrency. Returns how many were handled. */
export async function runPass(deps: EngineDeps, options: { batchSize: number; concurrency: number }): Promise<number> {
  const batch = await claimBatch(deps, options.batchSize, new Date());
  let next = 0;
  const lane = async () => {
    while (next < batch.length) {
      const d = batch[next++]!;
      try {
        await processDelivery(deps, d, new Date());
      } catch (error) {
        // Left 'sending': the lease expires and another pass picks it up again.
        deps.logger.error({ deliveryId: d.id, errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'delivery processing failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, batch.length) }, lane));
  return batch.length;
}

