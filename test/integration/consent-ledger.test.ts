import { and, asc, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { authorizationEvents, consentStates, consentTopics } from '../../db/schema/index';
import { verifyAuditChain } from '../../server/audit/chain';
import {
  consentHistory,
  expireDueAuthorizations,
  grantAuthorization,
  isActive,
  renewAuthorization,
  revokeAuthorization,
} from '../../server/consent/ledger';
import { createTextDraft, publishText } from '../../server/consent/texts';
import { publishedTopic as publishedTopicIn, validElements } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';

const handle = testDatabase(8);
afterAll(() => handle.close());
const db = handle.db;
const evidence = { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '203.0.113.7', userAgent: 'Chrome on Android', via: 'portal' as const };
const DAY = 86_400_000;

const publishedTopic = (orgId: string, options: { validForMonths?: number } = {}) => publishedTopicIn(handle, orgId, options);

async function setup() {
  const org = await createTestOrganisation(handle);
  const { patient } = await createTestPatient(handle, org.id);
  const a = await publishedTopic(org.id);
  return { org, patient, ...a };
}

const stateOf = async (orgId: string, patientId: string, topicId: string) =>
  (await db.select().from(consentStates).where(and(eq(consentStates.orgId, orgId), eq(consentStates.patientId, patientId), eq(consentStates.topicId, topicId))))[0];

describe('authorisation ledger', () => {
  it('a grant records the evidence and the text hash, and makes the state active until its expiry', async () => {
    const { org, patient, topic, text } = await setup();
    const now = new Date();
    const result = await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email', 'email', 'sms'], signatureName: 'Pat Example', evidence, now });
    expect(result.status).toBe('granted');
    if (result.status !== 'granted') return;
    expect(result.event).toMatchObject({ kind: 'granted', textHash: text.contentHash, channels: ['email', 'sms'] });
    expect(result.event.evidence).toMatchObject({ method: 'code_email', ipAddress: '203.0.113.7', userAgent: 'Chrome on Android', signatureName: 'Pat Example' });
    const state = await stateOf(org.id, patient.id, topic.id);
    expect(state).toMatchObject({ status: 'active', grantEventId: result.event.id });
    expect(state!.expiresAt.getTime() - now.getTime()).toBeGreaterThan(360 * DAY);
    expect((await verifyAuditChain(db, org.id)).ok).toBe(true);
  });

  it('AV4: the expiry instant is exclusive, and a revoked authorisation is not active', async () => {
    const expiresAt = new Date('2027-01-01T00:00:00.000Z');
    expect(isActive({ status: 'active', expiresAt }, new Date(expiresAt.getTime() - 1))).toBe(true);
    expect(isActive({ status: 'active', expiresAt }, expiresAt)).toBe(false);
    expect(isActive({ status: 'revoked', expiresAt }, new Date(0))).toBe(false);
    expect(isActive(undefined, new Date())).toBe(false);
  });

  it('AV4: expiry is recorded as an event and the state becomes expired', async () => {
    const { org, patient, topic, text } = await setup();
    const now = new Date();
    await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now });
    const state = (await stateOf(org.id, patient.id, topic.id))!;
    await expireDueAuthorizations(db, new Date(state.expiresAt.getTime() - 1), 500, { orgIds: [org.id] });
    expect((await stateOf(org.id, patient.id, topic.id))!.status).toBe('active');
    expect(await expireDueAuthorizations(db, state.expiresAt, 500, { orgIds: [org.id] })).toBe(1);
    expect((await stateOf(org.id, patient.id, topic.id))!.status).toBe('expired');
    const kinds = (await db.select().from(authorizationEvents).where(eq(authorizationEvents.patientId, patient.id)).orderBy(asc(authorizationEvents.occurredAt))).map((e) => e.kind);
    expect(kinds).toEqual(['granted', 'expired']);
  });

  it('AV5: signing one topic never bundles another', async () => {
    const { org, patient, topic, text } = await setup();
    const other = await publishedTopic(org.id);
    await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now: new Date() });
    expect(await stateOf(org.id, patient.id, other.topic.id)).toBeUndefined();
  });

  it('AV5: only the current text version can be signed (the text the patient saw)', async () => {
    const { org, patient, topic, text } = await setup();
    const newer = await createTextDraft(db, { orgId: org.id, topicId: topic.id, elements: validElements, validForMonths: 12 });
    await publishText(db, { orgId: org.id, textId: newer.id, actor: { type: 'system' }, now: new Date() });
    const stale = await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now: new Date() });
    expect(stale).toEqual({ status: 'text_outdated' });
  });

  it('AV2: a topic that became remunerated cannot be granted on a text without the payment statement', async () => {
    const { org, patient, topic, text } = await setup();
    await db.update(consentTopics).set({ remunerated: true, thirdPartyName: 'Payer Corp' }).where(eq(consentTopics.id, topic.id));
    const result = await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now: new Date() });
    expect(result).toEqual({ status: 'text_not_grantable' });
    expect(await stateOf(org.id, patient.id, topic.id)).toBeUndefined();
  });

  it('a grant without a typed name or a channel is refused with field errors and changes nothing', async () => {
    const { org, patient, topic, text } = await setup();
    const result = await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: [], signatureName: ' ', evidence, now: new Date() });
    expect(result).toMatchObject({ status: 'invalid', fieldErrors: { signatureName: expect.any(String), channels: expect.any(String) } });
    expect(await stateOf(org.id, patient.id, topic.id)).toBeUndefined();
  });

  it('AV7: a renewal is a new signed record that references the old one; no date is edited', async () => {
    const { org, patient, topic, text } = await setup();
    const t0 = new Date();
    const granted = await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now: t0 });
    if (granted.status !== 'granted') throw new Error(granted.status);
    const t1 = new Date(t0.getTime() + 300 * DAY);
    const renewed = await renewAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email', 'portal'], signatureName: 'Pat Example', evidence, now: t1 });
    expect(renewed.status).toBe('renewed');
    if (renewed.status !== 'renewed') return;
    expect(renewed.event.renewsEventId).toBe(granted.event.id);
    expect(renewed.event.expiresAt!.getTime()).toBeGreaterThan(granted.event.expiresAt!.getTime());
    const [original] = await db.select().from(authorizationEvents).where(eq(authorizationEvents.id, granted.event.id));
    expect(original!.expiresAt).toEqual(granted.event.expiresAt); // untouched
    await expect(handle.sql`update authorization_events set expires_at = now() where id = ${granted.event.id}`).rejects.toThrow(/append-only/);
    await expect(handle.sql`delete from authorization_events where id = ${granted.event.id}`).rejects.toThrow(/append-only/);
    const history = await consentHistory(db, org.id, patient.id);
    expect(history.map((h) => h.kind)).toEqual(['renewed', 'granted']);
  });

  it('AV7: a revoked authorisation is granted again, never renewed', async () => {
    const { org, patient, topic, text } = await setup();
    const now = new Date();
    await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now });
    await revokeAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, evidence, now });
    const renewed = await renewAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now });
    expect(renewed).toEqual({ status: 'not_renewable' });
  });

  it('RV1: a revocation takes effect at once in the state the gate reads, and is audited', async () => {
    const { org, patient, topic, text } = await setup();
    const now = new Date();
    await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now });
    const revoked = await revokeAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, evidence: { ...evidence, via: 'link' }, now });
    expect(revoked.status).toBe('revoked');
    const state = await stateOf(org.id, patient.id, topic.id);
    expect(state).toMatchObject({ status: 'revoked', revokedAt: now });
    expect(isActive(state, now)).toBe(false);
    expect(await revokeAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, evidence, now })).toEqual({ status: 'not_active' });
    expect((await verifyAuditChain(db, org.id)).ok).toBe(true);
  });

  it('RV1: a revocation waits for a delivery holding the shared lock, and then wins', async () => {
    const { org, patient, topic, text } = await setup();
    const now = new Date();
    await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now });
    let release!: () => void;
    const holding = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    // What a worker will do from gate to hand-off (issue 5): read the state FOR SHARE and keep it until hand-off.
    const delivery = handle.sql.begin(async (tx) => {
      await tx`select status from consent_states where org_id = ${org.id} and patient_id = ${patient.id} and topic_id = ${topic.id} for share`;
      locked();
      await holding;
    });
    await lockTaken;
    let revokedAt: number | undefined;
    const revocation = revokeAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, evidence, now }).then((r) => {
      revokedAt = Date.now();
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(revokedAt).toBeUndefined(); // blocked behind the delivery in flight
    const handedOffAt = Date.now();
    release();
    await delivery;
    expect((await revocation).status).toBe('revoked');
    expect(revokedAt!).toBeGreaterThanOrEqual(handedOffAt);
  });

  it('EN3: another organisation\'s topic or patient cannot be granted', async () => {
    const { patient, topic, text } = await setup();
    const other = await createTestOrganisation(handle);
    await expect(
      grantAuthorization(db, { orgId: other.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: 'Pat Example', evidence, now: new Date() }),
    ).resolves.toEqual({ status: 'text_outdated' });
  });
});
