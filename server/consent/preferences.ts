// Preferences: how and how often a patient hears from the organisation (ARCHITECTURE.md, "Consent model").
// They only ever narrow what an authorisation allows. A signed-in patient may change anything; a preference or
// unsubscribe link may only lower (ARCHITECTURE.md, "Links that organisations embed"), and the lowering functions
// below are the only writes those links can reach.
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, DbOrTx, Tx } from '../../db/client';
import {
  consentTopics,
  patientPreferences,
  patients,
  organisations,
  topicPreferences,
  type ConsentChannel,
  type Frequency,
  type PatientPreferences,
} from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { recordOutboundEvent } from '../events/outbound';
import { CONSENT_CHANNELS } from './ledger';

export const FREQUENCIES: Frequency[] = ['immediate', 'weekly', 'monthly', 'paused'];
/** Longest pause a patient can set in one go; after it, they can pause again. */
export const MAX_PAUSE_DAYS = 366;
const DAY_MS = 86_400_000;

export type Via = 'portal' | 'link' | 'unsubscribe';

export type EffectivePatientPreferences = Omit<PatientPreferences, 'orgId' | 'patientId' | 'updatedAt'> & { updatedAt: Date | null };
export type EffectiveTopicPreference = { channels: ConsentChannel[]; frequency: Frequency; pausedUntil: Date | null };

export const DEFAULT_TOPIC_PREFERENCE: EffectiveTopicPreference = { channels: [...CONSENT_CHANNELS], frequency: 'immediate', pausedUntil: null };

/** The patient's cross-topic settings, or the defaults when they never chose (their time zone, else the clinic's). */
export async function patientPreferencesOf(db: DbOrTx, orgId: string, patientId: string): Promise<EffectivePatientPreferences> {
  const [row] = await db
    .select({
      prefs: patientPreferences,
      patientZone: patients.timeZone,
      orgZone: organisations.timeZone,
      orgQuietStart: organisations.defaultQuietStartMinute,
      orgQuietEnd: organisations.defaultQuietEndMinute,
      orgWeeklyCap: organisations.defaultWeeklyCap,
    })
    .from(patients)
    .innerJoin(organisations, eq(organisations.id, patients.orgId))
    .leftJoin(patientPreferences, and(eq(patientPreferences.orgId, patients.orgId), eq(patientPreferences.patientId, patients.id)))
    .where(and(eq(patients.orgId, orgId), eq(patients.id, patientId)));
  if (!row) throw new Error('patientPreferencesOf: no such patient in this organisation');
  if (row.prefs) {
    const { orgId: _o, patientId: _p, ...rest } = row.prefs;
    return rest;
  }
  return defaultPatientPreferences(row);
}

/** Until the patient chooses, the organisation's defaults apply; once they save, their own choice does. */
export function defaultPatientPreferences(o: {
  patientZone: string | null;
  orgZone: string;
  orgQuietStart: number | null;
  orgQuietEnd: number | null;
  orgWeeklyCap: number | null;
}): EffectivePatientPreferences {
  return {
    careChannels: [...CONSENT_CHANNELS],
    weeklyCap: o.orgWeeklyCap,
    quietStartMinute: o.orgQuietStart,
    quietEndMinute: o.orgQuietEnd,
    timeZone: o.patientZone ?? o.orgZone,
    marketingPausedUntil: null,
    marketingStoppedAt: null,
    updatedAt: null,
  };
}

/** Per marketing topic that is not retired: the patient's preference, or the default. */
export async function topicPreferencesOf(db: DbOrTx, orgId: string, patientId: string): Promise<Map<string, EffectiveTopicPreference>> {
  const rows = await db
    .select({ topicId: consentTopics.id, pref: topicPreferences })
    .from(consentTopics)
    .leftJoin(
      topicPreferences,
      and(eq(topicPreferences.orgId, consentTopics.orgId), eq(topicPreferences.topicId, consentTopics.id), eq(topicPreferences.patientId, patientId)),
    )
    .where(and(eq(consentTopics.orgId, orgId), isNull(consentTopics.retiredAt)));
  return new Map(rows.map((r) => [r.topicId, r.pref ? { channels: r.pref.channels, frequency: r.pref.frequency, pausedUntil: r.pref.pausedUntil } : DEFAULT_TOPIC_PREFERENCE]));
}

// ---------------------------------------------------------------------------------------------------------------
// The full form, for a signed-in patient.

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const timeOfDay = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Enter a time like 21:00.')
  .transform((v) => Number(v.slice(0, 2)) * 60 + Number(v.slice(3, 5)));

const channelList = z.array(z.enum(CONSENT_CHANNELS as [ConsentChannel, ...ConsentChannel[]]));

/** A calendar date as YYYY-MM-DD. */
const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'Enter a date.')
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v), 'Enter a real date.');

export const preferencesFormSchema = z.object({
  careChannels: channelList.min(1, 'Keep at least one way to reach you about your care.'),
  weeklyCap: z.union([z.literal(''), z.coerce.number().int('Enter a whole number.').min(0, 'Enter 0 or more.').max(100, 'Enter 100 or fewer.')]),
  quietHours: z.boolean(),
  quietStart: z.string(),
  quietEnd: z.string(),
  timeZone: z.string().refine(isTimeZone, 'Choose a time zone from the list.'),
  pauseAllUntil: z.union([z.literal(''), calendarDate]),
  stopAll: z.boolean(),
  topics: z.array(
    z.object({
      topicId: z.uuid(),
      channels: channelList,
      frequency: z.enum(FREQUENCIES as [Frequency, ...Frequency[]], 'Choose how often.'),
      pausedUntil: z.union([z.literal(''), calendarDate]),
    }),
  ),
});

export type PreferencesForm = z.input<typeof preferencesFormSchema>;
export type FieldErrors = Record<string, string>;

/** The instant a date starts in a time zone: "paused until 3 March" means until 3 March begins where the patient is. */
export function startOfDayIn(date: string, timeZone: string): Date {
  const utcMidnight = new Date(`${date}T00:00:00Z`);
  // The zone's offset at that moment, found by formatting it there; good to the minute, DST included.
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .formatToParts(utcMidnight)
      .map((p) => [p.type, p.value]),
  );
  const asLocal = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute));
  const offset = asLocal - utcMidnight.getTime();
  return new Date(utcMidnight.getTime() - offset);
}

/**
 * Quiet hours from a form's `quietHours` box and `quietStart` / `quietEnd` times: minutes after local midnight, or
 * nulls when the box is off. Problems go into `fieldErrors` under the input names. Shared by the patient's form and
 * the organisation's defaults.
 */
export function checkQuietHours(
  input: { quietHours: boolean; quietStart: string; quietEnd: string },
  fieldErrors: Record<string, string>,
): { start: number | null; end: number | null } {
  if (!input.quietHours) return { start: null, end: null };
  const start = timeOfDay.safeParse(input.quietStart);
  const end = timeOfDay.safeParse(input.quietEnd);
  if (!start.success) fieldErrors.quietStart = start.error.issues[0]!.message;
  if (!end.success) fieldErrors.quietEnd = end.error.issues[0]!.message;
  if (!start.success || !end.success) return { start: null, end: null };
  if (start.data === end.data) fieldErrors.quietEnd = 'Quiet hours must end at a different time than they start.';
  return { start: start.data, end: end.data };
}

/** Checks the whole form; field errors are keyed by input name (`topics.0.pausedUntil`, `quietStart`, ...). */
export function parsePreferencesForm(input: PreferencesForm, now: Date): { ok: true; value: z.output<typeof preferencesFormSchema> } | { ok: false; fieldErrors: FieldErrors } {
  const parsed = preferencesFormSchema.safeParse(input);
  const fieldErrors: FieldErrors = {};
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      fieldErrors[key] ??= issue.message;
    }
    return { ok: false, fieldErrors };
  }
  const v = parsed.data;
  checkQuietHours(v, fieldErrors);
  const latest = now.getTime() + MAX_PAUSE_DAYS * DAY_MS;
  const checkPause = (key: string, value: string) => {
    if (!value) return;
    const at = startOfDayIn(value, v.timeZone).getTime();
    if (at <= now.getTime()) fieldErrors[key] = 'Choose a date after today.';
    else if (at > latest) fieldErrors[key] = `Choose a date within ${MAX_PAUSE_DAYS} days.`;
  };
  checkPause('pauseAllUntil', v.pauseAllUntil);
  v.topics.forEach((t, i) => {
    if (t.frequency === 'paused' && !t.pausedUntil) fieldErrors[`topics.${i}.pausedUntil`] = 'Choose the date to start again.';
    if (t.frequency === 'paused') checkPause(`topics.${i}.pausedUntil`, t.pausedUntil);
  });
  return Object.keys(fieldErrors).length > 0 ? { ok: false, fieldErrors } : { ok: true, value: v };
}

async function lockPatientPreferences(tx: Tx, orgId: string, patientId: string): Promise<EffectivePatientPreferences> {
  // Create-then-lock, so two saves for one patient queue up instead of racing.
  const current = await patientPreferencesOf(tx, orgId, patientId);
  if (current.updatedAt === null) {
    const { updatedAt: _u, ...defaults } = current;
    await tx
      .insert(patientPreferences)
      .values({ orgId, patientId, ...defaults, updatedAt: new Date(0) })
      .onConflictDoNothing();
  }
  const [row] = await tx
    .select()
    .from(patientPreferences)
    .where(and(eq(patientPreferences.orgId, orgId), eq(patientPreferences.patientId, patientId)))
    .for('update');
  const { orgId: _o, patientId: _p, ...rest } = row!;
  return rest;
}

async function recordPreferenceChange(
  tx: Tx,
  scope: { orgId: string; patientId: string },
  change: { via: Via; changes: Record<string, unknown>; now: Date; topicId?: string },
) {
  await appendAudit(tx, scope.orgId, {
    actorType: 'patient',
    actorId: scope.patientId,
    action: 'preferences.updated',
    subjectType: change.topicId ? 'topic' : 'patient',
    subjectId: change.topicId ?? scope.patientId,
    details: { via: change.via, changes: change.changes },
  });
  await recordOutboundEvent(tx, scope.orgId, {
    type: 'preferences.updated',
    patientId: scope.patientId,
    payload: { via: change.via, topicId: change.topicId ?? null, changes: change.changes },
    occurredAt: change.now,
  });
}

/** Saves the whole form for a signed-in patient. Topic ids must belong to the organisation, else nothing changes. */
export async function savePreferences(
  db: Database,
  input: { orgId: string; patientId: string; form: PreferencesForm; now: Date },
): Promise<{ status: 'saved'; changed: boolean } | { status: 'invalid'; fieldErrors: FieldErrors }> {
  const checked = parsePreferencesForm(input.form, input.now);
  if (!checked.ok) return { status: 'invalid', fieldErrors: checked.fieldErrors };
  const v = checked.value;
  const { orgId, patientId, now } = input;
  return db.transaction(async (tx) => {
    const topicIds = new Set((await topicPreferencesOf(tx, orgId, patientId)).keys());
    const unknown = v.topics.findIndex((t) => !topicIds.has(t.topicId));
    if (unknown >= 0) return { status: 'invalid', fieldErrors: { [`topics.${unknown}.topicId`]: 'This topic is no longer offered. Reload the page.' } } as const;

    const before = await lockPatientPreferences(tx, orgId, patientId);
    const next = {
      careChannels: [...new Set(v.careChannels)],
      weeklyCap: v.weeklyCap === '' ? null : v.weeklyCap,
      quietStartMinute: v.quietHours ? timeOfDay.parse(v.quietStart) : null,
      quietEndMinute: v.quietHours ? timeOfDay.parse(v.quietEnd) : null,
      timeZone: v.timeZone,
      marketingPausedUntil: v.pauseAllUntil ? startOfDayIn(v.pauseAllUntil, v.timeZone) : null,
      // Keep the original stop time while it stays on: it is evidence of when the patient asked.
      marketingStoppedAt: v.stopAll ? (before.marketingStoppedAt ?? now) : null,
    };
    const changes: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(next) as [keyof typeof next, unknown][]) {
      if (JSON.stringify(value) !== JSON.stringify(before[key])) changes[key] = value instanceof Date ? value.toISOString() : value;
    }
    if (Object.keys(changes).length > 0) {
      await tx
        .update(patientPreferences)
        .set({ ...next, updatedAt: now })
        .where(and(eq(patientPreferences.orgId, orgId), eq(patientPreferences.patientId, patientId)));
      await recordPreferenceChange(tx, { orgId, patientId }, { via: 'portal', changes, now });
    }

    let changed = Object.keys(changes).length > 0;
    const current = await topicPreferencesOf(tx, orgId, patientId);
    for (const t of v.topics) {
      const pref: EffectiveTopicPreference = {
        channels: CONSENT_CHANNELS.filter((c) => t.channels.includes(c)),
        frequency: t.frequency,
        pausedUntil: t.frequency === 'paused' ? startOfDayIn(t.pausedUntil, v.timeZone) : null,
      };
      const old = current.get(t.topicId)!;
      if (JSON.stringify(pref) === JSON.stringify(old)) continue;
      await upsertTopicPreference(tx, { orgId, patientId, topicId: t.topicId }, pref, now);
      await recordPreferenceChange(tx, { orgId, patientId }, { via: 'portal', topicId: t.topicId, changes: describeTopicPreference(pref), now });
      changed = true;
    }
    return { status: 'saved', changed } as const;
  });
}

function describeTopicPreference(pref: EffectiveTopicPreference) {
  return { channels: pref.channels, frequency: pref.frequency, pausedUntil: pref.pausedUntil?.toISOString() ?? null };
}

async function upsertTopicPreference(tx: Tx, scope: { orgId: string; patientId: string; topicId: string }, pref: EffectiveTopicPreference, now: Date) {
  const values = { ...scope, channels: pref.channels, frequency: pref.frequency, pausedUntil: pref.pausedUntil, updatedAt: now };
  await tx
    .insert(topicPreferences)
    .values(values)
    .onConflictDoUpdate({ target: [topicPreferences.orgId, topicPreferences.patientId, topicPreferences.topicId], set: values });
}

async function lockTopicPreference(tx: Tx, scope: { orgId: string; patientId: string; topicId: string }): Promise<EffectiveTopicPreference | undefined> {
  const [topic] = await tx
    .select({ id: consentTopics.id })
    .from(consentTopics)
    .where(and(eq(consentTopics.orgId, scope.orgId), eq(consentTopics.id, scope.topicId)));
  if (!topic) return undefined;
  await tx
    .insert(topicPreferences)
    .values({ ...scope, channels: DEFAULT_TOPIC_PREFERENCE.channels, frequency: 'immediate', pausedUntil: null, updatedAt: new Date(0) })
    .onConflictDoNothing();
  const [row] = await tx
    .select()
    .from(topicPreferences)
    .where(and(eq(topicPreferences.orgId, scope.orgId), eq(topicPreferences.patientId, scope.patientId), eq(topicPreferences.topicId, scope.topicId)))
    .for('update');
  return { channels: row!.channels, frequency: row!.frequency, pausedUntil: row!.pausedUntil };
}

// ---------------------------------------------------------------------------------------------------------------
// Lowering only: what a preference link or an unsubscribe can do without a session.

export type Lowering =
  | { kind: 'channel_off'; topicId: string; channel: ConsentChannel }
  | { kind: 'pause_topic'; topicId: string; days: number }
  | { kind: 'pause_all'; days: number }
  | { kind: 'stop_all' };

export type LowerResult = { status: 'lowered' | 'already'; until?: Date } | { status: 'not_found' } | { status: 'invalid' };

/** The pause lengths a link offers; a link can lengthen a pause, never shorten or end one. */
export const LINK_PAUSE_DAYS = [30, 90] as const;

/**
 * Applies one lowering change. Each kind can only narrow what the patient receives, so a stolen or forwarded link
 * can at worst send the patient less marketing: never more, and never shows or changes anything else.
 */
export async function lowerPreferences(
  db: Database,
  input: { orgId: string; patientId: string; change: Lowering; via: 'link' | 'unsubscribe'; now: Date },
): Promise<LowerResult> {
  const { orgId, patientId, change, via, now } = input;
  if ((change.kind === 'pause_topic' || change.kind === 'pause_all') && !(LINK_PAUSE_DAYS as readonly number[]).includes(change.days)) return { status: 'invalid' };
  if (change.kind === 'channel_off' && !CONSENT_CHANNELS.includes(change.channel)) return { status: 'invalid' };
  return db.transaction(async (tx) => {
    if (change.kind === 'channel_off' || change.kind === 'pause_topic') {
      const scope = { orgId, patientId, topicId: change.topicId };
      const current = await lockTopicPreference(tx, scope);
      if (!current) return { status: 'not_found' } as const;
      let next: EffectiveTopicPreference;
      if (change.kind === 'channel_off') {
        if (!current.channels.includes(change.channel)) return { status: 'already' } as const;
        next = { ...current, channels: current.channels.filter((c) => c !== change.channel) };
      } else {
        const until = new Date(now.getTime() + change.days * DAY_MS);
        if (current.frequency === 'paused' && current.pausedUntil && current.pausedUntil >= until) return { status: 'already', until: current.pausedUntil } as const;
        next = { ...current, frequency: 'paused', pausedUntil: until };
      }
      await upsertTopicPreference(tx, scope, next, now);
      await recordPreferenceChange(tx, { orgId, patientId }, { via, topicId: change.topicId, changes: describeTopicPreference(next), now });
      return { status: 'lowered', until: next.pausedUntil ?? undefined } as const;
    }
    const current = await lockPatientPreferences(tx, orgId, patientId);
    let set: Partial<PatientPreferences>;
    if (change.kind === 'stop_all') {
      if (current.marketingStoppedAt) return { status: 'already' } as const;
      set = { marketingStoppedAt: now };
    } else {
      const until = new Date(now.getTime() + change.days * DAY_MS);
      if (current.marketingPausedUntil && current.marketingPausedUntil >= until) return { status: 'already', until: current.marketingPausedUntil } as const;
      set = { marketingPausedUntil: until };
    }
    await tx
      .update(patientPreferences)
      .set({ ...set, updatedAt: now })
      .where(and(eq(patientPreferences.orgId, orgId), eq(patientPreferences.patientId, patientId)));
    const changes = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
    await recordPreferenceChange(tx, { orgId, patientId }, { via, changes, now });
    return { status: 'lowered', until: set.marketingPausedUntil ?? undefined } as const;
  });
}
