// The new-campaign form: every field checked at once, errors keyed by input name, nothing written on any error.
// The schedule is typed as a date and a time in the organisation's time zone and stored as a UTC instant.
import type { CampaignChannel, CampaignKind } from '../../db/schema/index';

export const CAMPAIGN_CHANNELS: CampaignChannel[] = ['email', 'sms', 'portal'];
export const CAMPAIGN_KINDS: CampaignKind[] = ['renewal', 'expiry_reminder'];
export const MAX_NAME = 120;
export const MAX_THROTTLE = 100_000;
export const DEFAULT_THROTTLE = 600;

export type CampaignFormInput = {
  name: string;
  kind: string;
  topicIds: string[];
  expiringWithinDays: string;
  grantedBefore: string;
  channels: string[];
  throttlePerMinute: string;
  scheduleDate: string;
  scheduleTime: string;
};

export type CampaignDraft = {
  name: string;
  kind: CampaignKind;
  topicIds: string[];
  expiringWithinDays: number | null;
  grantedBefore: Date | null;
  channels: CampaignChannel[];
  throttlePerMinute: number;
  scheduledAt: Date | null;
};

export type CampaignFieldErrors = Partial<Record<keyof CampaignFormInput, string>>;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

function isCalendarDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(value);
}

/** The UTC instant of a wall-clock date and time in a time zone (DST included; a skipped hour moves forward). */
export function zonedInstant(date: string, time: string, timeZone: string): Date {
  const wall = Date.parse(`${date}T${time}:00Z`);
  const offsetAt = (instant: number) => {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
        .formatToParts(new Date(instant))
        .map((p) => [p.type, p.value]),
    );
    return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute)) - instant;
  };
  // Twice: the offset at the first guess may differ from the offset at the answer across a DST change.
  const first = wall - offsetAt(wall);
  return new Date(wall - offsetAt(first));
}

/**
 * Checks the form against the organisation's topics (ids it may use) and the clock. The time zone is the
 * organisation's: "9:00" means nine in the morning where the clinic is.
 */
export function parseCampaignForm(
  input: CampaignFormInput,
  context: { topicIds: ReadonlySet<string>; timeZone: string; now: Date },
): { ok: true; value: CampaignDraft } | { ok: false; fieldErrors: CampaignFieldErrors } {
  const errors: CampaignFieldErrors = {};
  const name = input.name.trim();
  if (name.length < 1 || name.length > MAX_NAME) errors.name = `Give the campaign a name of 1 to ${MAX_NAME} characters.`;
  if (!CAMPAIGN_KINDS.includes(input.kind as CampaignKind)) errors.kind = 'Choose a renewal request or an expiry reminder.';

  const topicIds = [...new Set(input.topicIds)];
  if (topicIds.length === 0) errors.topicIds = 'Choose at least one topic.';
  else if (topicIds.some((id) => !context.topicIds.has(id))) errors.topicIds = 'Choose topics from the list.';

  let expiringWithinDays: number | null = null;
  if (input.expiringWithinDays.trim() !== '') {
    const n = Number(input.expiringWithinDays.trim());
    if (!Number.isInteger(n) || n < 1 || n > 365) errors.expiringWithinDays = 'Enter a whole number of days from 1 to 365.';
    else expiringWithinDays = n;
  }
  let grantedBefore: Date | null = null;
  if (input.grantedBefore.trim() !== '') {
    const value = input.grantedBefore.trim();
    if (!isCalendarDate(value)) errors.grantedBefore = 'Enter a date like 2025-01-31.';
    else {
      grantedBefore = zonedInstant(value, '00:00', context.timeZone);
      if (grantedBefore.getTime() > context.now.getTime()) errors.grantedBefore = 'Enter a date that is not in the future.';
    }
  }
  if (!errors.expiringWithinDays && !errors.grantedBefore && expiringWithinDays === null && grantedBefore === null) {
    errors.expiringWithinDays = 'Say which authorisations to target: expiring within some days, granted before a date, or both.';
  }
  if (input.kind === 'expiry_reminder' && expiringWithinDays === null && !errors.expiringWithinDays) {
    errors.expiringWithinDays = 'An expiry reminder needs the number of days before expiry.';
  }

  const channels = CAMPAIGN_CHANNELS.filter((c) => input.channels.includes(c));
  if (channels.length === 0 || input.channels.some((c) => !CAMPAIGN_CHANNELS.includes(c as CampaignChannel))) {
    errors.channels = 'Choose at least one channel: email, text message or portal.';
  }

  const throttle = Number(input.throttlePerMinute.trim());
  if (input.throttlePerMinute.trim() === '' || !Number.isInteger(throttle) || throttle < 1 || throttle > MAX_THROTTLE) {
    errors.throttlePerMinute = `Enter a whole number of requests per minute from 1 to ${MAX_THROTTLE.toLocaleString('en-US')}.`;
  }

  let scheduledAt: Date | null = null;
  const date = input.scheduleDate.trim();
  const time = input.scheduleTime.trim();
  if (date !== '' || time !== '') {
    if (!isCalendarDate(date)) errors.scheduleDate = 'Enter the start date like 2025-01-31, or leave both date and time empty to start at launch.';
    if (!TIME.test(time)) errors.scheduleTime = 'Enter the start time like 09:30 (24-hour clock).';
    if (!errors.scheduleDate && !errors.scheduleTime) {
      scheduledAt = zonedInstant(date, time, context.timeZone);
      if (scheduledAt.getTime() <= context.now.getTime()) errors.scheduleDate = 'Choose a start in the future, or leave both empty to start at launch.';
    }
  }

  if (Object.keys(errors).length > 0) return { ok: false, fieldErrors: errors };
  return {
    ok: true,
    value: { name, kind: input.kind as CampaignKind, topicIds, expiringWithinDays, grantedBefore, channels, throttlePerMinute: throttle, scheduledAt },
  };
}
