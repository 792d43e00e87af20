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
import { PushError, pushNoticeText, type PushTransport } from '../delivery/push';
import { activePushTargets, disablePushSubscription, markPushSuccess } from '../delivery/push-subscriptions';
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
/** How long a push service may hold a notice for a device that is off (RFC 8030 TTL): as long as we retry (ADR 015). */
export const PUSH_TTL_SECONDS = MAX_AGE_MS / 1000;

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
  /** Web push (issue 9); undefined when no VAPID keys are configured: push deliveries then fail (`push_not_configured`). */
  push?: PushTransport;
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
      // Re-read under a row lock: the lease may have expired and another worker may have finished it meanwhile. The
      // message and the gate's facts (which depend only on the delivery's fixed fields: organisation, patient,
      // category, topic, channel) are asked for at the same time; loadFacts itself orders the consent lock before the
      // facts (RV1). If the delivery is no longer ours, the facts are simply not used.
      const reread = tx.select().from(deliveries).where(eq(deliveries.id, claimed.id)).for('update').then((rows) => rows[0]);
      const content = tx.select().from(messages).where(and(eq(messages.orgId, claimed.orgId), eq(messages.id, claimed.messageId))).then((rows) => rows[0]);
      const loaded = loadFacts(tx, claimed, now);
      const [d, message, { facts, contactValue }] = await Promise.all([reread, content, loaded]);
      if (!d || d.status !== 'sending' || d.leasedBy !== claimed.leasedBy) return 'deferred' as const;
      const decision = decide(
        { category: d.category, topicId: d.topicId, channel: d.channel, sendBy: message!.sendBy, retracted: message!.retractedAt !== null, expiresAt: message!.expiresAt },
        facts,
        now,
      );
      if (decision.kind !== 'allow') return record(tx, d, decision, now);

      const handoff = await handOff(deps, tx, d, message!.content, contactValue, tls, now);
      // The ledger row and the outbound event in one network write; the audit append last, because its
      // per-organisation lock is held until commit and serialises every delivery of the organisation.
      await Promise.all([
        tx
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
          .where(eq(deliveries.id, d.id)),
        recordOutboundEvent(tx, d.orgId, {
          type: 'delivery.sent',
          patientId: d.patientId,
          payload: { deliveryId: d.id, messageId: d.messageId, channel: d.channel, route: handoff.route, reason: decision.reason },
          occurredAt: now,
        }),
      ]);
      await appendAudit(tx, d.orgId, {
        actorType: 'system',
        action: 'delivery.sent',
        subjectType: 'delivery',
        subjectId: d.id,
        details: { reason: decision.reason, route: handoff.route, basisEventId: decision.basis?.grantEventId ?? null, channel: d.channel },
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
  // A deferral is announced once per reason, not on every wake-up that finds it still deferred.
  if (blocked || d.reason !== decision.reason) {
    await recordOutboundEvent(tx, d.orgId, {
      type: blocked ? 'delivery.blocked' : 'delivery.deferred',
      patientId: d.patientId,
      payload: { deliveryId: d.id, messageId: d.messageId, channel: d.channel, reason: decision.reason, ...(blocked ? {} : { until: decision.until.toISOString() }) },
      occurredAt: now,
    });
  }
  // Last: the organisation's audit lock is held from here to commit (see processDelivery).
  await appendAudit(tx, d.orgId, {
    actorType: 'system',
    action: blocked ? 'delivery.blocked' : 'delivery.deferred',
    subjectType: 'delivery',
    subjectId: d.id,
    details: { reason: decision.reason, channel: d.channel, ...(blocked ? {} : { until: decision.until.toISOString() }) },
  });
  return blocked ? 'blocked' : 'deferred';
}

/** A transport error: 4xx and network errors retry with backoff until the maximum age; 5xx fails. */
async function recordFailure(deps: EngineDeps, claimed: Delivery, error: TransportError, now: Date): Promise<Outcome> {
  const attempts = claimed.attempts + 1;
  const tooOld = now.getTime() - claimed.createdAt.getTime() >= MAX_AGE_MS;
  const failed = error.permanent || tooOld;
  const errorCode = error.responseCode ? `smtp_${error.responseCode}` : error.code;
  // A push service's Retry-After (429) is honoured when it asks for longer than our backoff.
  const retryAfterMs = error instanceof PushError && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : 0;
  await deps.db.transaction(async (tx) => {
    await tx
      .update(deliveries)
      .set({
        status: failed ? 'failed' : 'queued',
        attempts,
        lastError: errorCode,
        reason: failed ? (tooOld && !error.permanent ? 'max_age' : error instanceof PushError && error.gone ? 'push_subscription_gone' : 'permanent_failure') : 'transient_failure',
        dueAt: failed ? claimed.dueAt : new Date(now.getTime() + Math.max(retryAfterMs, backoff(attempts, deps.retryBaseMs))),
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
  // Push carries only the PHI-free notice (EM4). Campaigns do not offer push (db/schema/campaigns.ts).
  if (d.channel === 'push') return pushHandOff(deps, tx, d, org, now);
  // A renewal campaign's request (issue 8): the PHI-free notice with the patient's renewal link, on every route.
  // A support resend repeats the request of the delivery it resends (ADR 016).
  const campaign = d.category === 'marketing' ? await campaignOfDelivery(tx, { orgId: d.orgId, id: d.resendOf ?? d.id }) : undefined;
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

  // A support resend (ADR 016) is the PHI-free pickup notice again, whatever route the first delivery took: support
  // asks for "the notice", and only a notice may go out on a request that no sender made.
  if (d.resendOf) return portalNotice(deps, d, org, to!, unsubscribe, now, locale);

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
  return portalNotice(deps, d, org, to!, unsubscribe, now, locale);
}

/** EM4: the PHI-free notice with a signed pickup link for this delivery; its Message-ID comes from the delivery id (DL2). */
async function portalNotice(
  deps: EngineDeps,
  d: Delivery,
  org: { slug: string; name: string; pickupLinkDays: number; dkim?: DkimOptions },
  to: string,
  unsubscribe: { https: string; mailto: string } | undefined,
  now: Date,
  locale: string,
): Promise<Handoff> {
  const pickup = await pickupUrl(deps, d, org, now);
  const notice = noticeTexts(locale).portalNotice({ org: org.name, url: pickup, days: org.pickupLinkDays });
  const mail = composeMail({ from: deps.mailFrom, to, subject: notice.subject, text: notice.text, deliveryId: d.id, domain: deps.messageIdDomain, unsubscribe, locale });
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
 * Web push (issue 9): the notice, encrypted to each of the patient's active subscriptions (RFC 8291), in the patient's
 * language. Sent when at least one device accepted it. A subscription the push service disowns (404/410) is disabled
 * at once, on its own connection, so that sticks whatever becomes of this delivery. With no device reached: a
 * 429/5xx/network failure retries with backoff; otherwise the delivery fails (`push_subscription_gone` when every
 * subscription was gone).
 */
async function pushHandOff(deps: EngineDeps, tx: Tx, d: Delivery, org: { slug: string; name: string; pickupLinkDays: number }, now: Date): Promise<Handoff> {
  if (!deps.push) throw new PushError('web push is not configured (no VAPID keys)', 'push_not_configured');
  const targets = await activePushTargets(tx, deps.vault, d.orgId, d.patientId);
  if (targets.length === 0) throw new PushError('no active push subscription', 'push_gone');
  const [patient] = await tx.select({ locale: patients.locale }).from(patients).where(and(eq(patients.orgId, d.orgId), eq(patients.id, d.patientId)));
  const url = await pickupUrl(deps, d, org, now);
  const payload = JSON.stringify({ ...pushNoticeText(org.name, patient?.locale), url, tag: `carepost-${org.slug}` });
  // Topic from the delivery id (32 hex digits): a repeated hand-off replaces a copy the device has not fetched yet (DL2).
  const options = { ttlSeconds: PUSH_TTL_SECONDS, urgency: 'normal' as const, topic: d.id.replace(/-/g, '') };
  const push = deps.push;
  const results = await Promise.allSettled(targets.map((target) => push.send(target, payload, options)));
  const delivered: string[] = [];
  const errors: PushError[] = [];
  for (const [i, result] of results.entries()) {
    const target = targets[i]!;
    if (result.status === 'fulfilled') {
      delivered.push(target.id);
      continue;
    }
    const error = result.reason instanceof PushError ? result.reason : new PushError('push hand-off failed', 'push_network');
    errors.push(error);
    if (error.gone) await disablePushSubscription(deps.db, { orgId: d.orgId, subscriptionId: target.id, reason: error.status === 404 ? 'not_found' : 'gone', deliveryId: d.id, now });
  }
  if (delivered.length > 0) {
    await markPushSuccess(tx, d.orgId, delivered, now);
    if (errors.length > 0) deps.logger.info({ deliveryId: d.id, devices: targets.length, failed: errors.map((e) => e.pushCode) }, 'push reached some devices');
    return { route: 'push_notice', messageIdHeader: null };
  }
  throw errors.find((e) => !e.permanent) ?? errors.find((e) => !e.gone) ?? errors[0]!;
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
  if (d.channel !== 'email' || !deps.tls || d.resendOf) return undefined; // a resend is a notice: no TLS route to probe
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

