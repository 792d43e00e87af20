// Outbound events: what the organisation's webhooks will carry (API issue). Written in the caller's transaction, so
// an event exists exactly when the change it reports committed.
import type { Tx } from '../../db/client';
import { outboundEvents } from '../../db/schema/index';
import { refusePhiKeys } from '../audit/chain';

export type OutboundEventType =
  | 'consent.granted'
  | 'consent.renewed'
  | 'consent.revoked'
  | 'consent.expired'
  | 'preferences.updated'
  | 'contact_point.added'
  | 'contact_point.removed'
  | 'suppression.added'
  | 'delivery.sent'
  | 'delivery.deferred'
  | 'delivery.blocked'
  | 'delivery.failed'
  | 'delivery.bounced'
  | 'delivery.complained'
  | 'message.opened'
  | 'message.reply_received'
  | 'message.retracted';

export async function recordOutboundEvent(
  tx: Tx,
  orgId: string,
  event: { type: OutboundEventType; patientId: string | null; payload: Record<string, unknown>; occurredAt: Date },
): Promise<void> {
  refusePhiKeys('recordOutboundEvent', event.payload);
  await tx.insert(outboundEvents).values({ orgId, type: event.type, patientId: event.patientId, payload: event.payload, occurredAt: event.occurredAt });
}

export type OutboundEventInput = { orgId: string; type: OutboundEventType; patientId: string | null; payload: Record<string, unknown>; occurredAt: Date };

/** Several events (any organisations) in one statement, in the caller's transaction (the engine's group commit, ADR 018). */
export async function recordOutboundEvents(tx: Tx, events: OutboundEventInput[]): Promise<void> {
  if (events.length === 0) return;
  for (const event of events) refusePhiKeys('recordOutboundEvent', event.payload);
  await tx.insert(outboundEvents).values(events);
}
