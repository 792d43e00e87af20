import { sql } from 'drizzle-orm';
import { check, date, integer, foreignKey, index, pgTable, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

// Every tenant-owned row carries org_id and every unique key includes it (ARCHITECTURE.md, "Scale").

export const organisations = pgTable(
  'organisations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    /** Brand colour as #rrggbb; the UI picks a readable text colour against it. */
    brandColor: text('brand_color').notNull().default('#1f5f8b'),
    /** An SVG logo, served from our own origin as an image, never inlined into a page. */
    logoSvg: text('logo_svg'),
    timeZone: text('time_zone').notNull().default('UTC'),
    /** What a patient must prove before reading a message (OT5): a code, a code plus date of birth, or a passkey. */
    pickupPolicy: text('pickup_policy', { enum: ['code', 'code_dob', 'passkey'] }).notNull().default('code'),
    /** EM4: how long a pickup link in a notice works. */
    pickupLinkDays: integer('pickup_link_days').notNull().default(30),
    /** How long a message stays readable in the portal; after that the patient sees "expired: contact the sender". */
    messageExpiryDays: integer('message_expiry_days').notNull().default(365),
    /** Quiet hours (minutes after local midnight) and weekly marketing cap for patients who have not chosen their own. */
    defaultQuietStartMinute: integer('default_quiet_start_minute'),
    defaultQuietEndMinute: integer('default_quiet_end_minute'),
    defaultWeeklyCap: integer('default_weekly_cap'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('organisations_pickup_policy', sql`${t.pickupPolicy} in ('code', 'code_dob', 'passkey')`),
    check('organisations_pickup_link_days', sql`${t.pickupLinkDays} between 1 and 365`),
    check('organisations_message_expiry_days', sql`${t.messageExpiryDays} between 1 and 3650`),
    check(
      'organisations_default_quiet_hours',
      sql`(${t.defaultQuietStartMinute} is null) = (${t.defaultQuietEndMinute} is null) and coalesce(${t.defaultQuietStartMinute}, 0) between 0 and 1439 and coalesce(${t.defaultQuietEndMinute}, 0) between 0 and 1439`,
    ),
    check('organisations_default_weekly_cap', sql`${t.defaultWeeklyCap} is null or ${t.defaultWeeklyCap} between 0 and 100`),
    uniqueIndex('organisations_slug_key').on(t.slug),
    check('organisations_slug_format', sql`${t.slug} ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'`),
    check('organisations_brand_color_format', sql`${t.brandColor} ~ '^#[0-9a-f]{6}$'`),
  ],
);

export const patients = pgTable(
  'patients',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    /** The organisation's own identifier for this patient (MRN, CRM id). */
    externalRef: text('external_ref').notNull(),
    displayName: text('display_name').notNull(),
    dateOfBirth: date('date_of_birth'),
    locale: text('locale').notNull().default('en'),
    timeZone: text('time_zone'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('patients_org_external_ref_key').on(t.orgId, t.externalRef),
    // Lets child tables reference (org_id, id) so a row can never point at another tenant's patient.
    unique('patients_org_id_id_key').on(t.orgId, t.id),
  ],
);

export const contactPoints = pgTable(
  'contact_points',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    kind: text('kind', { enum: ['email', 'sms'] }).notNull(),
    /** Normalised: lower-cased email, or E.164 phone number. */
    value: text('value').notNull(),
    /** Who put it on record: the organisation, or the patient (who must then verify it, OT6). */
    source: text('source', { enum: ['organisation', 'patient'] }).notNull(),
    /** Set when the organisation vouches for it or the patient proved control; null means unverified. */
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('contact_points_org_kind_value_key').on(t.orgId, t.kind, t.value),
    index('contact_points_patient_idx').on(t.orgId, t.patientId),
    // System-level lookups by address (an SMS STOP, a bounce): which organisations hold this number or address.
    index('contact_points_kind_value_idx').on(t.kind, t.value),
    foreignKey({
      name: 'contact_points_patient_fk',
      columns: [t.orgId, t.patientId],
      foreignColumns: [patients.orgId, patients.id],
    }).onDelete('cascade'),
    check('contact_points_kind', sql`${t.kind} in ('email', 'sms')`),
    check('contact_points_source', sql`${t.source} in ('organisation', 'patient')`),
  ],
);

export const admins = pgTable(
  'admins',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: text('role', { enum: ['owner', 'compliance', 'marketer', 'support'] }).notNull(),
    /** argon2id; null until the invitation is accepted (admin issue). */
    passwordHash: text('password_hash'),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    /** Consecutive failed sign-ins (password or second factor); a success resets it (ADR 010). */
    failedSignIns: integer('failed_sign_ins').notNull().default(0),
    /** Sign-in is refused until then, whatever is typed, after repeated failures (ADR 010). */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('admins_org_email_key').on(t.orgId, t.email),
    unique('admins_org_id_id_key').on(t.orgId, t.id),
    check('admins_role', sql`${t.role} in ('owner', 'compliance', 'marketer', 'support')`),
  ],
);

export type Organisation = typeof organisations.$inferSelect;
export type NewOrganisation = typeof organisations.$inferInsert;
export type Patient = typeof patients.$inferSelect;
export type NewPatient = typeof patients.$inferInsert;
export type ContactPoint = typeof contactPoints.$inferSelect;
export type NewContactPoint = typeof contactPoints.$inferInsert;
export type Admin = typeof admins.$inferSelect;
export type NewAdmin = typeof admins.$inferInsert;
