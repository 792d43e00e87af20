import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { deliveries, messages } from '../../db/schema/index';
import { loadConfig } from '../../server/config';
import { enqueueMessage } from '../../server/engine/enqueue';
import { vaultRing } from '../../server/messages/vault';
import { e2e } from '../../playwright.config';

type Patient = { id: string; orgId: string; db: Database };

/** A treatment message for the portal only, enqueued as the organisation's system would, sealed with the e2e server's key. */
export async function enqueuePortalMessage(patient: Patient, content: { subject: string; text: string }) {
  const ring = vaultRing(loadConfig({ CAREPOST_DATA_DIR: e2e.dataDir, NODE_ENV: 'test', PUBLIC_URL: e2e.baseURL }));
  const result = await patient.db.transaction((tx) =>
    enqueueMessage(tx, ring, {
      orgId: patient.orgId,
      category: 'treatment',
      content,
      attachments: [],
      recipients: [{ patientId: patient.id, channels: ['portal'] }],
      actor: { type: 'system' },
      now: new Date(),
    }),
  );
  if (!result.ok) throw new Error(`enqueue refused: ${JSON.stringify(result.fieldErrors)}`);
  return result.messageId;
}

/** Messages and deliveries go before the patient; access rows and replies follow the message (cascade). */
export async function removeMessages(patient: Patient) {
  const owned = and(eq(deliveries.orgId, patient.orgId), eq(deliveries.patientId, patient.id));
  const ids = (await patient.db.select({ id: deliveries.messageId }).from(deliveries).where(owned)).map((d) => d.id);
  await patient.db.delete(deliveries).where(owned);
  for (const id of new Set(ids)) await patient.db.delete(messages).where(and(eq(messages.orgId, patient.orgId), eq(messages.id, id)));
}
