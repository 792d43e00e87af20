// A signed-in patient adds or removes an email address or mobile number (SE5, OT6, issue 4 item 6).
// Adding is a double opt-in: a code goes to the NEW address and nothing is stored until it comes back. Every change
// is audited and becomes an outbound event in its own transaction, and the patient's other verified contact points
// are told after it commits. Server functions take `now` so tests can move the clock.
import { and, asc, eq, isNotNull, ne } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, DbOrTx, Tx } from '../../db/client';
import { contactPoints } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { recordOutboundEvent } from '../events/outbound';
import { CODE_TTL_MS, codeMatches, keyedHash } from './codes';
import { sendToContact, type CodeTransports } from './code-delivery';
import { maskContact, normaliseContact, type ContactInput } from './contact';
import { STEP_UP_MAX_AGE_MS } from './assurance';
import { consumeRateLimits, type RateLimit } from './rate-limit';
import { CODE_SEND_LIMITS, issueVerification, openAttempt, openThrottle, recordCodeFailure, recordCodeSuccess, type VerifyCodeResult } from './sign-in';
import { isUuid } from '../ids';
import { noticeTexts } from '../i18n/notices';

export type ContactKind = ContactInput['kind'];

/**
 * EN2: the sign-in limits (per IP, per address across every purpose, per organisation), plus one per patient, so an
 * account cannot be used to send codes to address after address.
 */
export const CONTACT_VERIFY_LIMITS = {
  perPatient: { name: 'contact_verify_patient', limit: 10, windowSeconds: 3600 },
} satisfies Record<string, RateLimit>;

/**
 * SE5: the step-up must be fresh when the code is asked for (STEP_UP_MAX_AGE_MS). Entering the code may come up to
 * the code's lifetime later, and is itself a proof of control, so the confirm step allows exactly that much more.
 */
export const CONTACT_CONFIRM_MAX_AGE_MS = STEP_UP_MAX_AGE_MS + CODE_TTL_MS;

const KIND_WORDS: Record<ContactKind, string> = { email: 'email address', sms: 'mobile number' };

// ---------------------------------------------------------------------------------------------------------------
// Input

export type NewContactParse = { ok: true; contact: ContactInput } | { ok: false; field: 'kind' | 'value'; message: string };

const newContactForm = z.object({
  kind: z.enum(['email', 'sms']),
  value: z.string().trim().max(254),
});

/** What the patient chose (email or mobile) and typed, normalised; or the field to blame and what to say. */
export function parseNewContact(input: { kind: unknown; value: unknown }): NewContactParse {
  const parsed = newContactForm.safeParse(input);
  if (!parsed.success) {
    const kindOk = z.enum(['email', 'sms']).safeParse(input.kind).success;
    return kindOk
      ? { ok: false, field: 'value', message: 'That is too long to be an email address or a mobile number.' }
      : { ok: false, field: 'kind', message: 'Choose whether to add an email address or a mobile number.' };
  }
  const { kind, value } = parsed.data;
  if (value.length === 0) return { ok: false, field: 'value', message: `Enter the ${KIND_WORDS[kind]} you want to add.` };
  const contact = normaliseContact(value);
  if (!contact || contact.kind !== kind) {
    return {
      ok: false,
      field: 'value',
      message:
        kind === 'email'
          ? 'Enter an email address in the right format, for example name@example.com.'
          : 'Enter a mobile number with its country code, for example +1 555 555 0101.',
    };
  }
  return { ok: true, contact };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export type PatientContactPoint = { id: string; kind: ContactKind; value: string; source: 'organisation' | 'patient'; verifiedAt: Date | null; createdAt: Date };

const pointColumns = {
  id: contactPoints.id,
  kind: contactPoints.kind,
  value: contactPoints.value,
  source: contactPoints.source,
  verifiedAt: contactPoints.verifiedAt,
  createdAt: contactPoints.createdAt,
};

export async function listContactPoints(options: { db: DbOrTx; orgId: string; patientId: string }): Promise<PatientContactPoint[]> {
  return options.db
    .select(pointColumns)
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, options.orgId), eq(contactPoints.patientId, options.patientId)))
    .orderBy(asc(contactPoints.createdAt), asc(contactPoints.id));
}

/** EN3: one of this patient's own contact points, or undefined (another patient's or organisation's id included). */
export async function getContactPointForPatient(options: { db: DbOrTx; orgId: string; patientId: string; contactPointId: string }): Promise<PatientContactPoint | undefined> {
  if (!isUuid(options.contactPointId)) return undefined;
  const [row] = await options.db
    .select(pointColumns)
    .from(contactPoints)
    .where(and(eq(contactPoints.orgId, options.orgId), eq(contactPoints.patientId, options.patientId), eq(contactPoints.id, options.contactPointId)));
  return row;
}

// ---------------------------------------------------------------------------------------------------------------
// Adding: ask for a code

/** A code for an address not yet on record: sent after answering, like sign-in codes. */
export type ContactVerifyDelivery = { channel: ContactKind; to: string; code: string; verificationId: string };

export type RequestContactVerificationResult =
  | { status: 'issued'; attemptToken: string; expiresAt: Date; delivery: ContactVerifyDelivery }
  | { status: 'already_yours' }
  | { status: 'rate_limited'; retryAfterSeconds: number };

/**
 * The verification row's target: the address bound to the patient, so two patients trying the same address never
 * replace each other's code, and failure counts (OT4) are per patient and address.
 */
function contactVerifyTarget(codeSecret: Buffer, orgId: string, patientId: string, contact: ContactInput): string {
  return keyedHash(codeSecret, orgId, 'contact_verify', patientId, contact.kind, contact.value);
}

/**
 * Issues a code for a new address of the signed-in patient (OT1-OT3 as for sign-in: HMAC only, bound to this
 * browser's attempt cookie, 10 minutes). Unlike sign-in, the code goes to an address that is not (yet) a verified
 * contact point: proving control of it is the point (OT6). Whether the address belongs to another patient is not
 * looked at here, so the answer cannot tell (it is told only after the code is proven).
 */
export async function requestContactVerification(options: {
  db: Database;
  codeSecret: Buffer;
  orgId: string;
  patientId: string;
  contact: ContactInput;
  ipAddress: string;
  now: Date;
}): Promise<RequestContactVerificationResult> {
  const { db, codeSecret, orgId, patientId, contact, now } = options;
  const [own] = await db
    .select({ id: contactPoints.id })
    .from(contactPoints)
    .where(
      and(
        eq(contactPoints.orgId, orgId),
        eq(contactPoints.patientId, patientId),
        eq(contactPoints.kind, contact.kind),
        eq(contactPoints.value, contact.value),
        isNotNull(contactPoints.verifiedAt),
      ),
    );
  if (own) return { status: 'already_yours' };

  return db.transaction(async (tx) => {
    const rate = await consumeRateLimits(
      tx,
      [
        { limit: CODE_SEND_LIMITS.perIp, key: keyedHash(codeSecret, 'ip', options.ipAddress) },
        // The same bucket sign-in codes use: one address gets at most so many codes an hour, whatever asks.
        { limit: CODE_SEND_LIMITS.perContact, key: `${orgId}:${keyedHash(codeSecret, orgId, contact.kind, contact.value)}` },
        { limit: CODE_SEND_LIMITS.perOrganisation, key: orgId },
        { limit: CONTACT_VERIFY_LIMITS.perPatient, key: `${orgId}:${patientId}` },
      ],
      now,
    );
    if (!rate.allowed) {
      await appendAudit(tx, orgId, { actorType: 'patient', actorId: patientId, action: 'identity.code.rate_limited', details: { purpose: 'contact_verify', limit: rate.limit.name } });
      return { status: 'rate_limited', retryAfterSeconds: rate.retryAfterSeconds } as const;
    }

    // Asking again for the same address replaces the earlier code.
    const { id, code, attemptToken, expiresAt } = await issueVerification(
      tx,
      codeSecret,
      { orgId, purpose: 'contact_verify', targetHash: contactVerifyTarget(codeSecret, orgId, patientId, contact), channel: contact.kind, contactPointId: null, patientId },
      now,
    );
    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: patientId,
      action: 'identity.code.requested',
      subjectType: 'patient',
      subjectId: patientId,
      details: { purpose: 'contact_verify', channel: contact.kind, sent: true },
    });
    return { status: 'issued', attemptToken, expiresAt, delivery: { channel: contact.kind, to: contact.value, code, verificationId: id } } as const;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Adding: enter the code

/** Who to tell about a change, and what: the changed address only masked, never anything else (EM4). */
export type ContactChangeNotice = {
  channel: ContactKind;
  to: string;
  contactPointId: string;
  change: 'added' | 'removed';
  changedKind: ContactKind;
  changedMasked: string;
};

export type ConfirmContactVerificationResult =
  | { status: 'added'; contactPointId: string; kind: ContactKind; notices: ContactChangeNotice[] }
  | { status: 'already_yours' }
  /** The address is another patient's in this organisation: said only now that the code proved control of it. */
  | { status: 'in_use' }
  | Exclude<VerifyCodeResult, { status: 'verified' }>;

/**
 * Checks the code for a new address against the attempt bound to this browser (OT2, OT3, OT4, as verifyCode does for
 * sign-in), then, in the same transaction, stores the contact point as verified, audits it and records the outbound
 * event. `contact` is what the page carried along; it must hash to the row's target, so it cannot be swapped.
 */
export async function confirmContactVerification(options: {
  db: Database;
  codeSecret: Buffer;
  orgId: string;
  patientId: string;
  contact: ContactInput;
  attemptToken: string | undefined;
  code: string;
  now: Date;
}): Promise<ConfirmContactVerificationResult> {
  const { db, codeSecret, orgId, patientId, contact, code, now } = options;
  const attemptToken = options.attemptToken;
  if (!attemptToken) return { status: 'no_attempt' };
  const purpose = 'contact_verify';
  const target = contactVerifyTarget(codeSecret, orgId, patientId, contact);

  return db.transaction(async (tx): Promise<ConfirmContactVerificationResult> => {
    // EN3: another patient's attempt, even with its cookie, is no attempt of this patient's.
    const attempt = await openAttempt(tx, { orgId, attemptToken, purpose, now, belongs: (v) => v.patientId === patientId && v.targetHash === target });
    if (attempt.status !== 'open') return attempt;
    const v = attempt.verification;

    // OT4: the same increasing wait and lock as sign-in codes, per patient and address.
    const gate = await openThrottle(tx, orgId, v.targetHash, now);
    if (gate.status !== 'open') return gate;

    const actor = { actorType: 'patient' as const, actorId: patientId, subjectType: 'patient', subjectId: patientId };
    if (!/^\d{6}$/.test(code) || !codeMatches(codeSecret, v.id, code, v.codeHmac)) {
      return recordCodeFailure(tx, { orgId, verification: v, failures: gate.failures, actor, purpose, reason: 'code', now });
    }

    // OT2: used up whatever follows, so the same code cannot be tried again.
    await recordCodeSuccess(tx, orgId, v, now);
    await appendAudit(tx, orgId, { ...actor, action: 'identity.code.verified', details: { purpose, channel: v.channel } });

    const [existing] = await tx
      .select({ id: contactPoints.id, patientId: contactPoints.patientId, verifiedAt: contactPoints.verifiedAt })
      .from(contactPoints)
      .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.kind, contact.kind), eq(contactPoints.value, contact.value)))
      .for('update');
    let contactPointId: string;
    if (existing && existing.patientId !== patientId) {
      await appendAudit(tx, orgId, { ...actor, action: 'identity.contact_point.add_refused', details: { kind: contact.kind, reason: 'in_use' } });
      return { status: 'in_use' };
    } else if (existing?.verifiedAt) {
      return { status: 'already_yours' };
    } else if (existing) {
      // The patient's own unverified address (the organisation's, or an earlier unfinished one): now proven.
      await tx
        .update(contactPoints)
        .set({ verifiedAt: now })
        .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.patientId, patientId), eq(contactPoints.id, existing.id)));
      contactPointId = existing.id;
    } else {
      const [inserted] = await tx
        .insert(contactPoints)
        .values({ orgId, patientId, kind: contact.kind, value: contact.value, source: 'patient', verifiedAt: now, createdAt: now })
        .onConflictDoNothing()
        .returning({ id: contactPoints.id });
      if (!inserted) {
        // Someone else stored it between our read and our write (the unique key is (org_id, kind, value)).
        await appendAudit(tx, orgId, { ...actor, action: 'identity.contact_point.add_refused', details: { kind: contact.kind, reason: 'in_use' } });
        return { status: 'in_use' };
      }
      contactPointId = inserted.id;
    }

    await recordChange(tx, { orgId, patientId, contactPointId, kind: contact.kind, change: 'added', now });
    const notices = await noticesFor(tx, { orgId, patientId, exceptId: contactPointId, change: 'added', changed: contact });
    return { status: 'added', contactPointId, kind: contact.kind, notices };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Removing

export type RemoveContactPointResult =
  | { status: 'removed'; contactPointId: string; kind: ContactKind; notices: ContactChangeNotice[] }
  | { status: 'not_found' }
  /** It is the patient's only verified contact point: they could never sign in with a code again. */
  | { status: 'last_verified' };

export async function removeContactPoint(options: { db: Database; orgId: string; patientId: string; contactPointId: string; now: Date }): Promise<RemoveContactPointResult> {
  const { db, orgId, patientId, contactPointId, now } = options;
  if (!isUuid(contactPointId)) return { status: 'not_found' };
  return db.transaction(async (tx): Promise<RemoveContactPointResult> => {
    // Every contact point of the patient, locked, so two removals at once cannot both leave "another" verified one.
    const points = await tx
      .select({ id: contactPoints.id, kind: contactPoints.kind, value: contactPoints.value, verifiedAt: contactPoints.verifiedAt })
      .from(contactPoints)
      .where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.patientId, patientId)))
      .orderBy(asc(contactPoints.id))
      .for('update');
    const target = points.find((p) => p.id === contactPointId);
    if (!target) return { status: 'not_found' };
    if (target.verifiedAt && !points.some((p) => p.id !== target.id && p.verifiedAt)) return { status: 'last_verified' };

    await tx.delete(contactPoints).where(and(eq(contactPoints.orgId, orgId), eq(contactPoints.patientId, patientId), eq(contactPoints.id, target.id)));
    await recordChange(tx, { orgId, patientId, contactPointId: target.id, kind: target.kind, change: 'removed', now });
    const notices = await noticesFor(tx, { orgId, patientId, exceptId: target.id, change: 'removed', changed: { kind: target.kind, value: target.value } });
    return { status: 'removed', contactPointId: target.id, kind: target.kind, notices };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Shared by both

/** The audit event and the outbound event: ids and the kind only, never the address (AU2). */
async function recordChange(tx: Tx, change: { orgId: string; patientId: string; contactPointId: string; kind: ContactKind; change: 'added' | 'removed'; now: Date }) {
  const details = { contactPointId: change.contactPointId, kind: change.kind };
  await appendAudit(tx, change.orgId, {
    actorType: 'patient',
    actorId: change.patientId,
    action: `identity.contact_point.${change.change}`,
    subjectType: 'contact_point',
    subjectId: change.contactPointId,
    details,
  });
  await recordOutboundEvent(tx, change.orgId, { type: `contact_point.${change.change}`, patientId: change.patientId, payload: details, occurredAt: change.now });
}

async function noticesFor(
  tx: Tx,
  options: { orgId: string; patientId: string; exceptId: string; change: 'added' | 'removed'; changed: ContactInput },
): Promise<ContactChangeNotice[]> {
  const others = await tx
    .select({ id: contactPoints.id, kind: contactPoints.kind, value: contactPoints.value })
    .from(contactPoints)
    .where(
      and(eq(contactPoints.orgId, options.orgId), eq(contactPoints.patientId, options.patientId), ne(contactPoints.id, options.exceptId), isNotNull(contactPoints.verifiedAt)),
    )
    .orderBy(asc(contactPoints.createdAt));
  return others.map((o) => ({
    channel: o.kind,
    to: o.value,
    contactPointId: o.id,
    change: options.change,
    changedKind: options.changed.kind,
    changedMasked: maskContact(options.changed),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Sending (after the answer, off the response path; a failure is logged by id, never with the address)

/** `locale`: the language of the page the patient asked from (issue 9). */
export async function deliverContactVerificationCode(transports: CodeTransports, orgName: string, delivery: ContactVerifyDelivery, locale?: string): Promise<void> {
  const words = noticeTexts(locale);
  await sendToContact(
    transports,
    {
      channel: delivery.channel,
      to: delivery.to,
      ...words.contactCodeEmail({ org: orgName, code: delivery.code }),
      sms: `${words.contactCodeSms({ org: orgName, code: delivery.code })}\n\n@${transports.publicHost} #${delivery.code}`,
    },
    { ids: { verificationId: delivery.verificationId }, sent: 'contact verification code sent', failed: 'contact verification code not sent' },
  );
}

/** The words of a notice: the organisation, what changed, the changed address masked, and what to do if it was not you. */
export function contactChangeNoticeText(orgName: string, notice: Pick<ContactChangeNotice, 'change' | 'changedKind' | 'changedMasked'>, locale?: string) {
  return noticeTexts(locale).contactChange({ org: orgName, change: notice.change, kind: notice.changedKind === 'email' ? 'email' : 'phone', masked: notice.changedMasked });
}

export async function deliverContactChangeNotices(transports: CodeTransports, orgName: string, notices: ContactChangeNotice[], locale?: string): Promise<void> {
  for (const notice of notices) {
    await sendToContact(
      transports,
      { channel: notice.channel, to: notice.to, ...contactChangeNoticeText(orgName, notice, locale) },
      { ids: { contactPointId: notice.contactPointId, change: notice.change }, sent: 'contact change notice sent', failed: 'contact change notice not sent' },
    );
  }
}
