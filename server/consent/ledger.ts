// The authorisation ledger: grant, revoke, renew and expire, each an appended event plus the one current state row,
// in one transaction (ARCHITECTURE.md, "Consent model"). Server functions take `now` so tests move the clock.
import { and, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import {
  authorizationEvents,
  authorizationTexts,
  consentStates,
  consentTopics,
  type AuthorizationEvent,
  type ConsentChannel,
  type ConsentEvidence,
  type ConsentState,
} from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { recordOutboundEvent } from '../events/outbound';
import { checkAuthorizationText } from './texts';

export const CONSENT_CHANNELS: ConsentChannel[] = ['email', 'sms', 'push', 'portal'];
const MAX_SIGNATURE_LENGTH = 120;

/** AV4: an authorisation is active only before its expiry instant (exclusive) and while not revoked. */
export function isActive(state: Pick<ConsentState, 'status' | 'expiresAt'> | undefined, now: Date): boolean {
  return state !== undefined && state.status === 'active' && now.getTime() < state.expiresAt.getTime();
}

function addMonths(date: Date, months: number): Date {
  const d = new Date(date.getTime());
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}

type Scope = { orgId: string; patientId: string; topicId: string };

/** The advisory lock key of a patient's consent for one topic (a collision only means some extra waiting). */
export function consentLockKey(scope: Scope) {
  return sql`hashtextextended(${`consent:${scope.orgId}:${scope.patientId}:${scope.topicId}`}, 0)`;
}

/** The one state row of a patient and topic in an organisation. */
function stateRow(scope: Scope) {
  return and(eq(consentStates.orgId, scope.orgId), eq(consentStates.patientId, scope.patientId), eq(consentStates.topicId, scope.topicId));
}

/**
 * Ends the current authorisation: appends a `revoked` or `expired` event that carries the text and channels it rested
 * on, and moves the state row. The caller holds the row's lock.
 */
async function closeAuthorization(
  tx: Tx,
  state: ConsentState,
  close: { kind: 'revoked' | 'expired'; evidence: ConsentEvidence; occurredAt: Date; now: Date },
): Promise<AuthorizationEvent> {
  const [grant] = await tx.select({ textHash: authorizationEvents.textHash }).from(authorizationEvents).where(eq(authorizationEvents.id, state.grantEventId));
  const [event] = await tx
    .insert(authorizationEvents)
    .values({
      orgId: state.orgId,
      patientId: state.patientId,
      topicId: state.topicId,
      kind: close.kind,
      textId: state.textId,
      textHash: grant!.textHash,
      channels: state.channels,
      evidence: close.evidence,
      occurredAt: close.occurredAt,
    })
    .returning();
  await tx
    .update(consentStates)
    .set(close.kind === 'revoked' ? { status: 'revoked', revokedAt: close.now, updatedAt: close.now } : { status: 'expired', updatedAt: close.now })
    .where(stateRow(state));
  return event!;
}

/**
 * Locks the patient's state row for this topic, exclusively, for the rest of the transaction. A delivery holds the
 * same row with a shared lock from gate to hand-off, so a revocation waits for deliveries in flight and no delivery
 * starts after it until it commits (RV1, DL3).
 */
async function lockState(tx: Tx, scope: Scope): Promise<ConsentState | undefined> {
  // The advisory lock first: its queue is fair, so a steady stream of deliveries taking it shared cannot starve a
  // revocation (row locks alone let new FOR SHARE holders overtake a waiting FOR UPDATE).
  await tx.execute(sql`select pg_advisory_xact_lock(${consentLockKey(scope)})`);
  const [state] = await tx
    .select()
    .from(consentStates)
    .where(stateRow(scope))
    .for('update');
  return state;
}

/** The newest published text of a topic in a language: the only one a patient can sign now. */
async function currentText(tx: Tx, orgId: string, topicId: string, language: string) {
  const [row] = await tx
    .select({ text: authorizationTexts, topic: consentTopics })
    .from(authorizationTexts)
    .innerJoin(consentTopics, and(eq(consentTopics.orgId, authorizationTexts.orgId), eq(consentTopics.id, authorizationTexts.topicId)))
    .where(
      and(
        eq(authorizationTexts.orgId, orgId),
        eq(authorizationTexts.topicId, topicId),
        eq(authorizationTexts.language, language),
        eq(authorizationTexts.status, 'published'),
      ),
    )
    .orderBy(desc(authorizationTexts.version))
    .limit(1);
  return row;
}

export type GrantInput = Scope & {
  /** The text version the patient was shown: it must still be the current one (AV5: the text they saw). */
  textId: string;
  channels: ConsentChannel[];
  signatureName: string;
  evidence: Omit<ConsentEvidence, 'signatureName'>;
  now: Date;
};

export type GrantResult =
  | { status: 'granted' | 'renewed'; event: AuthorizationEvent; state: ConsentState }
  | { status: 'already_active' }
  | { status: 'not_renewable' }
  | { status: 'text_outdated' }
  | { status: 'text_not_grantable' }
  | { status: 'invalid'; fieldErrors: { signatureName?: string; channels?: string } };

/** The form rules of a signature, shared with the signing page so every problem is reported at once. */
export function checkSignatureAndChannels(input: Pick<GrantInput, 'signatureName' | 'channels'>) {
  const fieldErrors: { signatureName?: string; channels?: string } = {};
  const name = input.signatureName.trim();
  if (name.length < 2 || name.length > MAX_SIGNATURE_LENGTH) fieldErrors.signatureName = 'Type your full name to sign.';
  if (input.channels.length === 0 || input.channels.some((c) => !CONSENT_CHANNELS.includes(c))) {
    fieldErrors.channels = 'Choose at least one way we may contact you about this.';
  }
  return fieldErrors;
}

/** Grant (first time, or again after a revocation or expiry): a new signed record for one topic only (AV5). */
export async function grantAuthorization(db: Database, input: GrantInput): Promise<GrantResult> {
  return signAuthorization(db, input, 'granted');
}

/** AV7: a renewal is a new signed record referencing the one it renews; no date is edited in place. */
export async function renewAuthorization(db: Database, input: GrantInput): Promise<GrantResult> {
  return signAuthorization(db, input, 'renewed');
}

async function signAuthorization(db: Database, input: GrantInput, kind: 'granted' | 'renewed'): Promise<GrantResult> {
  const fieldErrors = checkSignatureAndChannels(input);
  if (Object.keys(fieldErrors).length > 0) return { status: 'invalid', fieldErrors };
  const { orgId, patientId, topicId, now } = input;
  return db.transaction(async (tx) => {
    const previous = await lockState(tx, input);
    if (kind === 'granted' && isActive(previous, now)) return { status: 'already_active' } as const;
    // A revoked authorisation is granted anew, not renewed: renewing undoes no revocation.
    if (kind === 'renewed' && (!previous || previous.status === 'revoked')) return { status: 'not_renewable' } as const;

    const [shown] = await tx
      .select({ language: authorizationTexts.language })
      .from(authorizationTexts)
      .where(and(eq(authorizationTexts.orgId, orgId), eq(authorizationTexts.id, input.textId)));
    if (!shown) return { status: 'text_outdated' } as const;
    const current = await currentText(tx, orgId, topicId, shown.language);
    if (!current || current.text.id !== input.textId) return { status: 'text_outdated' } as const;
    // AV2: the text must still meet the rules for this topic as it is now (say a payer was added since publishing).
    if (current.topic.retiredAt || !checkAuthorizationText(current.topic, current.text.elements).ok) {
      return { status: 'text_not_grantable' } as const;
    }

    const expiresAt = addMonths(now, current.text.validForMonths);
    const channels = [...new Set(input.channels)];
    const [event] = await tx
      .insert(authorizationEvents)
      .values({
        orgId,
        patientId,
        topicId,
        kind,
        textId: current.text.id,
        textHash: current.text.contentHash!,
        channels,
        renewsEventId: kind === 'renewed' ? previous!.grantEventId : null,
        expiresAt,
        evidence: { ...input.evidence, signatureName: input.signatureName.trim() },
        occurredAt: now,
      })
      .returning();
    const values = {
      orgId,
      patientId,
      topicId,
      status: 'active' as const,
      grantEventId: event!.id,
      textId: current.text.id,
      channels,
      grantedAt: now,
      expiresAt,
      revokedAt: null,
      updatedAt: now,
    };
    const [state] = await tx
      .insert(consentStates)
      .values(values)
      .onConflictDoUpdate({ target: [consentStates.orgId, consentStates.patientId, consentStates.topicId], set: values })
      .returning();
    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: patientId,
      action: `consent.${kind}`,
      subjectType: 'authorization_event',
      subjectId: event!.id,
      details: { topicId, textId: current.text.id, textHash: current.text.contentHash, channels, method: input.evidence.method, via: input.evidence.via },
    });
    await recordOutboundEvent(tx, orgId, {
      type: `consent.${kind}`,
      patientId,
      payload: { eventId: event!.id, topicId, textId: current.text.id, channels, expiresAt: expiresAt.toISOString(), renewsEventId: event!.renewsEventId },
      occurredAt: now,
    });
    return { status: kind, event: event!, state: state! } as const;
  });
}

export type RevokeResult = { status: 'revoked'; event: AuthorizationEvent } | { status: 'not_active' };

/** RV1: accepted at any time; effective when this transaction commits, for every delivery not yet handed off. */
export async function revokeAuthorization(
  db: Database,
  input: Scope & { evidence: Omit<ConsentEvidence, 'signatureName'>; now: Date },
): Promise<RevokeResult> {
  const { orgId, patientId, topicId, now } = input;
  return db.transaction(async (tx) => {
    const state = await lockState(tx, input);
    if (!state || state.status !== 'active') return { status: 'not_active' } as const;
    const event = await closeAuthorization(tx, state, { kind: 'revoked', evidence: input.evidence, occurredAt: now, now });
    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: patientId,
      action: 'consent.revoked',
      subjectType: 'authorization_event',
      subjectId: event.id,
      details: { topicId, revokesEventId: state.grantEventId, via: input.evidence.via },
    });
    await recordOutboundEvent(tx, orgId, {
      type: 'consent.revoked',
      patientId,
      payload: { eventId: event.id, topicId, revokesEventId: state.grantEventId, via: input.evidence.via },
      occurredAt: now,
    });
    return { status: 'revoked', event } as const;
  });
}

/**
 * AV4: records an `expired` event for every authorisation past its expiry (the instant itself included), in batches;
 * the worker runs this on its housekeeping timer. `orgIds` limits it to some organisations (tests sharing a database).
 */
export async function expireDueAuthorizations(db: Database, now: Date, batchSize = 500, options: { orgIds?: string[] } = {}): Promise<number> {
  let total = 0;
  for (;;) {
    const done = await db.transaction(async (tx) => {
      const due = await tx
        .select()
        .from(consentStates)
        .where(and(eq(consentStates.status, 'active'), lte(consentStates.expiresAt, now), options.orgIds ? inArray(consentStates.orgId, options.orgIds) : undefined))
        .limit(batchSize)
        .for('update', { skipLocked: true });
      for (const state of due) {
        const event = await closeAuthorization(tx, state, {
          kind: 'expired',
          evidence: { method: 'none', verifiedAt: now.toISOString(), ipAddress: '', userAgent: null, via: 'system' },
          occurredAt: state.expiresAt,
          now,
        });
        await appendAudit(tx, state.orgId, {
          actorType: 'system',
          action: 'consent.expired',
          subjectType: 'authorization_event',
          subjectId: event.id,
          details: { topicId: state.topicId, patientId: state.patientId, expiredEventId: state.grantEventId },
        });
        await recordOutboundEvent(tx, state.orgId, {
          type: 'consent.expired',
          patientId: state.patientId,
          payload: { eventId: event.id, topicId: state.topicId, expiredEventId: state.grantEventId },
          occurredAt: state.expiresAt,
        });
      }
      return due.length;
    });
    total += done;
    if (done < batchSize) return total;
  }
}

/** AU3: every consent event of one patient, newest first, scoped to the organisation and the patient. */
export async function consentHistory(db: Database, orgId: string, patientId: string) {
  return db
    .select({
      id: authorizationEvents.id,
      kind: authorizationEvents.kind,
      topicId: authorizationEvents.topicId,
      topicName: consentTopics.name,
      textId: authorizationEvents.textId,
      channels: authorizationEvents.channels,
      expiresAt: authorizationEvents.expiresAt,
      renewsEventId: authorizationEvents.renewsEventId,
      occurredAt: authorizationEvents.occurredAt,
    })
    .from(authorizationEvents)
    .innerJoin(consentTopics, and(eq(consentTopics.orgId, authorizationEvents.orgId), eq(consentTopics.id, authorizationEvents.topicId)))
    .where(and(eq(authorizationEvents.orgId, orgId), eq(authorizationEvents.patientId, patientId)))
    .orderBy(desc(authorizationEvents.occurredAt), desc(sql`${authorizationEvents.kind} = 'revoked'`));
}
