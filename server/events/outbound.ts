// Outbound events: what the organisation's webhooks will carry (API issue). Written in the caller's transaction, so
// an event exists exactly when the change it reports committed.
import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { executePrepared } from '../../db/prepared';
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
  // Through the prepared statement below: drizzle's own insert goes unprepared, and postgres.js then asks Postgres for
  // its parameter types first, a round trip more.
  await recordOutboundEvents(tx, [{ orgId, ...event }]);
}

export type OutboundEventInput = { orgId: string; type: OutboundEventType; patientId: string | null; payload: Record<string, unknown>; occurredAt: Date };

/** Several events (any organisations) in one statement, in the caller's transaction (the engine's group commit, ADR 018). */
export async function recordOutboundEvents(tx: Tx, events: OutboundEventInput[]): Promise<void> {
  if (events.length === 0) return;
  for (const event of events) refusePhiKeys('recordOutboundEvent', event.payload);
  // One JSON parameter to a prepared statement, whatever the number of events.
  await executePrepared(
    tx,
    sql`insert into outbound_events (org_id, type, patient_id, payload, occurred_at)
      select r.org_id, r.type, r.patient_id, r.payload, r.occurred_at
      from jsonb_to_recordset(${JSON.stringify(events.map((e) => ({ org_id: e.orgId, type: e.type, patient_id: e.patientId, payload: e.payload, occurred_at: e.occurredAt.toISOString() })))}::jsonb)
        as r(org_id uuid, type text, patient_id uuid, payload jsonb, occurred_at timestamptz)`,
  );
}
