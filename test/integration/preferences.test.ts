// Preferences at the server-function level: lowering only ever narrows, and every change is evidence.
import { and, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEvents, outboundEvents, patientPreferences, topicPreferences } from '../../db/schema/index';
import { lowerPreferences, patientPreferencesOf, savePreferences, startOfDayIn } from '../../server/consent/preferences';
import { recordOutboundEvent } from '../../server/events/outbound';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
afterAll(() => handle.close());
const DAY_MS = 86_400_000;

async function setup() {
  const org = await createTestOrganisation(handle);
  const { patient } = await createTestPatient(handle, org.id);
  const { topic } = await publishedTopic(handle, org.id);
  return { org, patient, topic };
}

describe('lowering from a link', () => {
  it('a pause can only be lengthened, and stop_all keeps its first time', async () => {
    const { org, patient, topic } = await setup();
    const now = new Date();
    const scope = { orgId: org.id, patientId: patient.id, via: 'link' as const };
    expect(await lowerPreferences(db, { ...scope, change: { kind: 'pause_all', days: 90 }, now })).toMatchObject({ status: 'lowered' });
    expect(await lowerPreferences(db, { ...scope, change: { kind: 'pause_all', days: 30 }, now })).toMatchObject({ status: 'already' });
    expect((await patientPreferencesOf(db, org.id, patient.id)).marketingPausedUntil!.getTime()).toBe(now.getTime() + 90 * DAY_MS);
    expect(await lowerPreferences(db, { ...scope, change: { kind: 'pause_all', days: 7 }, now })).toEqual({ status: 'invalid' });

    expect(await lowerPreferences(db, { ...scope, change: { kind: 'stop_all' }, now })).toMatchObject({ status: 'lowered' });
    expect(await lowerPreferences(db, { ...scope, change: { kind: 'stop_all' }, now: new Date(now.getTime() + 1000) })).toMatchObject({ status: 'already' });
    expect((await patientPreferencesOf(db, org.id, patient.id)).marketingStoppedAt).toEqual(now);

    expect(await lowerPreferences(db, { ...scope, change: { kind: 'channel_off', topicId: topic.id, channel: 'fax' as never }, now })).toEqual({ status: 'invalid' });
    expect(await lowerPreferences(db, { ...scope, change: { kind: 'channel_off', topicId: crypto.randomUUID(), channel: 'email' }, now })).toEqual({ status: 'not_found' });
  });

  it('AU1: every change is one audit event and one outbound event, in the same transaction', async () => {
    const { org, patient, topic } = await setup();
    const now = new Date();
    await lowerPreferences(db, { orgId: org.id, patientId: patient.id, change: { kind: 'channel_off', topicId: topic.id, channel: 'sms' }, via: 'unsubscribe', now });
    const audits = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'preferences.updated')));
    const outbound = await db.select().from(outboundEvents).where(and(eq(outboundEvents.orgId, org.id), eq(outboundEvents.type, 'preferences.updated')));
    expect(audits).toHaveLength(1);
    expect(outbound).toHaveLength(1);
    expect(outbound[0]!.payload).toEqual({ via: 'unsubscribe', topicId: topic.id, changes: { channels: ['email', 'push', 'portal'], frequency: 'immediate', pausedUntil: null } });
  });

  it('two lowerings at once on one topic both land (the row lock serialises them)', async () => {
    const { org, patient, topic } = await setup();
    const now = new Date();
    const off = (channel: 'email' | 'sms') =>
      lowerPreferences(db, { orgId: org.id, patientId: patient.id, change: { kind: 'channel_off', topicId: topic.id, channel }, via: 'link', now });
    await Promise.all([off('email'), off('sms')]);
    const [row] = await db.select().from(topicPreferences).where(and(eq(topicPreferences.orgId, org.id), eq(topicPreferences.topicId, topic.id)));
    expect(row!.channels).toEqual(['push', 'portal']);
  });
});

describe('saving the whole form', () => {
  const base = { careChannels: ['email'], weeklyCap: '', quietHours: false, quietStart: '', quietEnd: '', timeZone: 'UTC', pauseAllUntil: '', stopAll: false, topics: [] };

  it('quiet hours may wrap midnight, but cannot start and end at the same time; a pause date must be ahead', async () => {
    const { org, patient } = await setup();
    const now = new Date();
    const same = await savePreferences(db, { orgId: org.id, patientId: patient.id, now, form: { ...base, quietHours: true, quietStart: '22:00', quietEnd: '22:00' } as never });
    expect(same).toEqual({ status: 'invalid', fieldErrors: { quietEnd: 'Quiet hours must end at a different time than they start.' } });
    const past = await savePreferences(db, { orgId: org.id, patientId: patient.id, now, form: { ...base, pauseAllUntil: '2020-02-30' } as never });
    expect(past.status).toBe('invalid');
    expect(await db.select().from(patientPreferences).where(eq(patientPreferences.patientId, patient.id))).toHaveLength(0);
    const wrap = await savePreferences(db, { orgId: org.id, patientId: patient.id, now, form: { ...base, quietHours: true, quietStart: '22:00', quietEnd: '06:30' } as never });
    expect(wrap).toEqual({ status: 'saved', changed: true });
    const again = await savePreferences(db, { orgId: org.id, patientId: patient.id, now, form: { ...base, quietHours: true, quietStart: '22:00', quietEnd: '06:30' } as never });
    expect(again).toEqual({ status: 'saved', changed: false });
  });

  it('a pause date means the start of that day where the patient is, across a DST change', () => {
    expect(startOfDayIn('2027-03-15', 'America/Chicago').toISOString()).toBe('2027-03-15T05:00:00.000Z');
    expect(startOfDayIn('2027-01-15', 'America/Chicago').toISOString()).toBe('2027-01-15T06:00:00.000Z');
    expect(startOfDayIn('2027-06-01', 'UTC').toISOString()).toBe('2027-06-01T00:00:00.000Z');
  });

  it('outbound events refuse PHI-looking keys', async () => {
    const { org } = await setup();
    await expect(
      db.transaction((tx) => recordOutboundEvent(tx, org.id, { type: 'preferences.updated', patientId: null, payload: { email: 'x@example.com' }, occurredAt: new Date() })),
    ).rejects.toThrow(/looks like PHI/);
  });
});
