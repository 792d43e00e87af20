import { randomBytes } from 'node:crypto';
import type { DbHandle } from '../../db/client';
import { contactPoints, patients } from '../../db/schema/index';

export const codeSecret = Buffer.alloc(32, 3);

/** A patient with a verified email (organisation-supplied) and, optionally, an unverified phone. */
export async function createTestPatient(handle: DbHandle, orgId: string, options: { unverifiedPhone?: boolean; dateOfBirth?: string } = {}) {
  const tag = randomBytes(4).toString('hex');
  const [patient] = await handle.db
    .insert(patients)
    .values({ orgId, externalRef: `ext-${tag}`, displayName: `Pat ${tag}`, dateOfBirth: options.dateOfBirth ?? null })
    .returning();
  const email = `pat-${tag}@example.com`;
  await handle.db.insert(contactPoints).values({ orgId, patientId: patient!.id, kind: 'email', value: email, source: 'organisation', verifiedAt: new Date() });
  const phone = `+1555${Math.floor(1_000_000 + Math.random() * 8_999_999)}`;
  if (options.unverifiedPhone) {
    await handle.db.insert(contactPoints).values({ orgId, patientId: patient!.id, kind: 'sms', value: phone, source: 'patient', verifiedAt: null });
  }
  return { patient: patient!, email, phone };
}
