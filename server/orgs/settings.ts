// The organisation's own settings, edited by its owner in the admin console: branding, pickup and expiry policies,
// and the quiet hours and weekly cap that apply to patients who have not chosen their own.
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, DbOrTx } from '../../db/client';
import { organisations } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { checkQuietHours, isTimeZone } from '../consent/preferences';

export type OrganisationSettings = {
  name: string;
  brandColor: string;
  timeZone: string;
  pickupPolicy: 'code' | 'code_dob' | 'passkey';
  pickupLinkDays: number;
  messageExpiryDays: number;
  defaultQuietStartMinute: number | null;
  defaultQuietEndMinute: number | null;
  defaultWeeklyCap: number | null;
};

export async function getOrganisationSettings(db: DbOrTx, orgId: string): Promise<OrganisationSettings> {
  const [row] = await db
    .select({
      name: organisations.name,
      brandColor: organisations.brandColor,
      timeZone: organisations.timeZone,
      pickupPolicy: organisations.pickupPolicy,
      pickupLinkDays: organisations.pickupLinkDays,
      messageExpiryDays: organisations.messageExpiryDays,
      defaultQuietStartMinute: organisations.defaultQuietStartMinute,
      defaultQuietEndMinute: organisations.defaultQuietEndMinute,
      defaultWeeklyCap: organisations.defaultWeeklyCap,
    })
    .from(organisations)
    .where(eq(organisations.id, orgId));
  if (!row) throw new Error('getOrganisationSettings: no such organisation');
  return row;
}

const wholeNumber = (min: number, max: number, what: string) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,4}$/, `Enter ${what} as a whole number.`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `Enter a number from ${min} to ${max}.`);

const settingsForm = z.object({
  name: z.string().trim().min(1, 'Enter the organisation name.').max(120, 'Use 120 characters or fewer.'),
  brandColor: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^#[0-9a-f]{6}$/, 'Enter a colour like #1f5f8b.'),
  timeZone: z.string().refine(isTimeZone, 'Choose a time zone from the list.'),
  pickupPolicy: z.enum(['code', 'code_dob', 'passkey'], 'Choose what patients must prove.'),
  pickupLinkDays: wholeNumber(1, 365, 'the number of days'),
  messageExpiryDays: wholeNumber(1, 3650, 'the number of days'),
  quietHours: z.boolean(),
  quietStart: z.string(),
  quietEnd: z.string(),
  weeklyCap: z.union([z.literal(''), wholeNumber(0, 100, 'the weekly limit')]),
});

export type SettingsForm = z.input<typeof settingsForm>;
export type SaveSettingsResult = { status: 'saved'; changed: string[] } | { status: 'invalid'; fieldErrors: Record<string, string> };

export function parseSettingsForm(input: SettingsForm): { ok: true; value: OrganisationSettings } | { ok: false; fieldErrors: Record<string, string> } {
  const parsed = settingsForm.safeParse(input);
  const fieldErrors: Record<string, string> = {};
  if (!parsed.success) {
    for (const issue of parsed.error.issues) fieldErrors[issue.path.join('.')] ??= issue.message;
  }
  const quiet = checkQuietHours(input, fieldErrors);
  if (!parsed.success || Object.keys(fieldErrors).length > 0) return { ok: false, fieldErrors };
  const v = parsed.data;
  return {
    ok: true,
    value: {
      name: v.name,
      brandColor: v.brandColor,
      timeZone: v.timeZone,
      pickupPolicy: v.pickupPolicy,
      pickupLinkDays: v.pickupLinkDays,
      messageExpiryDays: v.messageExpiryDays,
      defaultQuietStartMinute: quiet.start,
      defaultQuietEndMinute: quiet.end,
      defaultWeeklyCap: v.weeklyCap === '' ? null : v.weeklyCap,
    },
  };
}

/** Saves the whole form, or nothing (400 with field errors). The audit event names the settings that changed. */
export async function saveOrganisationSettings(
  db: Database,
  options: { orgId: string; form: SettingsForm; actor: { type: 'admin'; id: string }; now: Date },
): Promise<SaveSettingsResult> {
  const parsed = parseSettingsForm(options.form);
  if (!parsed.ok) return { status: 'invalid', fieldErrors: parsed.fieldErrors };
  return db.transaction(async (tx) => {
    const [before] = await tx.select().from(organisations).where(eq(organisations.id, options.orgId)).for('update');
    if (!before) throw new Error('saveOrganisationSettings: no such organisation');
    const changed = (Object.keys(parsed.value) as (keyof OrganisationSettings)[]).filter((k) => before[k] !== parsed.value[k]);
    if (changed.length === 0) return { status: 'saved' as const, changed };
    await tx.update(organisations).set(parsed.value).where(eq(organisations.id, options.orgId));
    await appendAudit(tx, options.orgId, {
      actorType: 'admin',
      actorId: options.actor.id,
      action: 'organisation.settings_changed',
      subjectType: 'organisation',
      subjectId: options.orgId,
      details: { changed },
    });
    return { status: 'saved' as const, changed };
  });
}
