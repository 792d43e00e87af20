// "How we reached you" (issue 5, item 9): the send ledger as the patient may see it. Which message kind went by
// which channel, and what became of it, never the message content: that is read through pickup, where each opening
// is recorded. Scoped to the organisation and the patient (EN3).
import { and, desc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { consentTopics, deliveries, type ConsentChannel, type DeliveryRoute, type DeliveryStatus, type MessageCategory } from '../../db/schema/index';

export type PatientDelivery = {
  id: string;
  channel: ConsentChannel;
  category: MessageCategory;
  /** The marketing topic's name; null for care and account messages. */
  topicName: string | null;
  status: DeliveryStatus;
  decision: 'allow' | 'block' | 'defer' | null;
  reason: string | null;
  route: DeliveryRoute | null;
  /** When it may next be tried (meaningful while it waits). */
  dueAt: Date;
  sentAt: Date | null;
  createdAt: Date;
};

export const MAX_PAGE_SIZE = 200;

/** One page of the patient's deliveries, newest first, and whether an older page exists. */
export async function deliveriesForPatient(
  db: DbOrTx,
  orgId: string,
  patientId: string,
  options: { page: number; pageSize: number },
): Promise<{ rows: PatientDelivery[]; hasNext: boolean }> {
  const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.trunc(options.pageSize)));
  const page = Math.max(1, Math.trunc(options.page));
  // Served by deliveries_patient_idx (org_id, patient_id, created_at); one extra row tells whether a next page exists.
  const found = await db
    .select({
      id: deliveries.id,
      channel: deliveries.channel,
      category: deliveries.category,
      topicName: consentTopics.name,
      status: deliveries.status,
      decision: deliveries.decision,
      reason: deliveries.reason,
      route: deliveries.route,
      dueAt: deliveries.dueAt,
      sentAt: deliveries.sentAt,
      createdAt: deliveries.createdAt,
    })
    .from(deliveries)
    .leftJoin(consentTopics, and(eq(consentTopics.orgId, deliveries.orgId), eq(consentTopics.id, deliveries.topicId)))
    .where(and(eq(deliveries.orgId, orgId), eq(deliveries.patientId, patientId)))
    .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
    .limit(pageSize + 1)
    .offset((page - 1) * pageSize);
  return { rows: found.slice(0, pageSize), hasNext: found.length > pageSize };
}
