import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { sessions, verifications } from '../../db/schema/index';
import { normaliseContact } from '../../server/identity/contact';
import { pruneIdentityState } from '../../server/identity/maintenance';
import { createPatientSession, endPatientSession, getPatientSession } from '../../server/identity/sessions';
import { requestCode } from '../../server/identity/sign-in';
import { createTestOrganisation, testDatabase } from '../support/db';
import { codeSecret, createTestPatient } from '../support/identity';

const handle = testDatabase();
afterAll(() => handle.close());

describe('identity housekeeping', () => {
  it('deletes codes a day past expiry and sessions a month after they ended, and keeps live ones', async () => {
    const org = await createTestOrganisation(handle);
    const { patient, email } = await createTestPatient(handle, org.id);
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    await requestCode({ db: handle.db, codeSecret, orgId: org.id, contact: normaliseContact(email)!, ipAddress: '192.0.2.9', now: longAgo });
    const old = await handle.db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId: patient.id, method: 'code_email', now: longAgo }));
    const live = await handle.db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId: patient.id, method: 'code_email', now: new Date() }));
    const ended = await handle.db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId: patient.id, method: 'code_email', now: new Date() }));
    const endedSession = (await getPatientSession(handle.db, org.id, ended.token, new Date()))!;
    await handle.db.transaction((tx) => endPatientSession(tx, endedSession, new Date()));

    const pruned = await pruneIdentityState(handle.db, new Date());
    expect(pruned.verifications).toBeGreaterThanOrEqual(1);
    expect(pruned.sessions).toBeGreaterThanOrEqual(1);
    expect(await handle.db.select().from(verifications).where(eq(verifications.orgId, org.id))).toHaveLength(0);
    const left = await handle.db.select({ idHash: sessions.idHash }).from(sessions).where(eq(sessions.patientId, patient.id));
    expect(left).toHaveLength(2); // the live one and the one ended today
    expect(await getPatientSession(handle.db, org.id, live.token, new Date())).toBeDefined();
    expect(await getPatientSession(handle.db, org.id, old.token, new Date())).toBeUndefined();
  });
});
