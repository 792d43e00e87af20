import { sql } from 'drizzle-orm';
import { bigint, boolean, check, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { SealedEnvelope } from './engine';
import { bytea } from './passkeys';
import { admins, organisations } from './tenants';

// Admin sign-in (issue 8, ADR 010): password (argon2id, on `admins`) plus a second factor, an authenticator app
// (TOTP) or a passkey. Every row carries org_id and points at its admin through (org_id, admin_id) (EN3).

/**
 * An admin's authenticator app. The shared secret is sealed in the vault (purpose `admin-totp`), never stored in
 * clear. `last_step` is the RFC 6238 time step of the last code accepted: a code is accepted only by an UPDATE that
 * moves it forward, so the same code (or an older one) can never be used twice, even by two requests at once.
 * A row with no `confirmed_at` is an enrolment in progress and is not a factor yet.
 */
export const adminTotpFactors = pgTable(
  'admin_totp_factors',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    adminId: uuid('admin_id').notNull(),
    secret: jsonb('secret').$type<SealedEnvelope>().notNull(),
    lastStep: bigint('last_step', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.adminId] }),
    foreignKey({ name: 'admin_totp_factors_admin_fk', columns: [t.orgId, t.adminId], foreignColumns: [admins.orgId, admins.id] }).onDelete('cascade'),
    check('admin_totp_factors_last_step', sql`${t.lastStep} >= 0`),
  ],
);

/** An admin's WebAuthn credentials: the same rules as patients' (PK2-PK6), in a table of their own. */
export const adminPasskeys = pgTable(
  'admin_passkeys',
  {
    id: text('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    adminId: uuid('admin_id').notNull(),
    publicKey: bytea('public_key').notNull(),
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    transports: text('transports').array().notNull().default(sql`'{}'::text[]`),
    backupEligible: boolean('backup_eligible').notNull(),
    backupState: boolean('backup_state').notNull(),
    aaguid: text('aaguid').notNull(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (t) => [
    index('admin_passkeys_admin_idx').on(t.orgId, t.adminId),
    foreignKey({ name: 'admin_passkeys_admin_fk', columns: [t.orgId, t.adminId], foreignColumns: [admins.orgId, admins.id] }).onDelete('cascade'),
    check('admin_passkeys_name_length', sql`char_length(${t.name}) between 1 and 60`),
    check('admin_passkeys_counter_range', sql`${t.counter} between 0 and 4294967295`),
    check('admin_passkeys_backup_flags', sql`${t.backupEligible} or not ${t.backupState}`), // PK5
  ],
);

/** Outstanding admin WebAuthn challenges (PK1): single use, five minutes, consumed by DELETE ... RETURNING. */
export const adminWebauthnChallenges = pgTable(
  'admin_webauthn_challenges',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['registration', 'authentication'] }).notNull(),
    /** The admin the ceremony is for; null for a usernameless sign-in. */
    adminId: uuid('admin_id'),
    challenge: text('challenge').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('admin_webauthn_challenges_expires_idx').on(t.expiresAt),
    foreignKey({ name: 'admin_webauthn_challenges_admin_fk', columns: [t.orgId, t.adminId], foreignColumns: [admins.orgId, admins.id] }).onDelete('cascade'),
    check('admin_webauthn_challenges_purpose', sql`${t.purpose} in ('registration', 'authentication')`),
    check('admin_webauthn_challenges_registration_admin', sql`${t.purpose} = 'authentication' or ${t.adminId} is not null`),
    check('admin_webauthn_challenges_challenge_length', sql`char_length(${t.challenge}) >= 43`),
  ],
);

/**
 * "Password right, second factor still to come": its own short-lived state bound to a cookie (STYLE.md), not a
 * half-made session. Consumed by the second factor; five wrong codes end it.
 */
export const adminSignInAttempts = pgTable(
  'admin_sign_in_attempts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    adminId: uuid('admin_id').notNull(),
    /** SHA-256 of the attempt cookie. */
    attemptHash: text('attempt_hash').notNull(),
    failedTries: integer('failed_tries').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    consumedAt: timestamp('consumed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('admin_sign_in_attempts_hash_key').on(t.orgId, t.attemptHash),
    index('admin_sign_in_attempts_expires_idx').on(t.expiresAt),
    foreignKey({ name: 'admin_sign_in_attempts_admin_fk', columns: [t.orgId, t.adminId], foreignColumns: [admins.orgId, admins.id] }).onDelete('cascade'),
    check('admin_sign_in_attempts_failed_tries', sql`${t.failedTries} >= 0`),
  ],
);

/**
 * An invitation to join an organisation's console. The invited admin row exists from the start (no password, so it
 * cannot sign in); the token is kept only as a SHA-256. Accepting sets the password and confirms an authenticator
 * app in one transaction; until then the chosen password waits here, argon2id-hashed, behind a cookie bound to the
 * browser that chose it (`enrol_hash`).
 */
export const adminInvitations = pgTable(
  'admin_invitations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    adminId: uuid('admin_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    /** The role the invitation grants, as offered when it was sent. */
    role: text('role', { enum: ['owner', 'compliance', 'marketer', 'support'] }).notNull(),
    invitedBy: uuid('invited_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    /** A newer invitation for the same admin, or the admin being disabled, ends this one. */
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    pendingPasswordHash: text('pending_password_hash'),
    enrolHash: text('enrol_hash'),
  },
  (t) => [
    uniqueIndex('admin_invitations_token_key').on(t.tokenHash),
    index('admin_invitations_admin_idx').on(t.orgId, t.adminId),
    foreignKey({ name: 'admin_invitations_admin_fk', columns: [t.orgId, t.adminId], foreignColumns: [admins.orgId, admins.id] }).onDelete('cascade'),
    foreignKey({ name: 'admin_invitations_invited_by_fk', columns: [t.orgId, t.invitedBy], foreignColumns: [admins.orgId, admins.id] }),
    check('admin_invitations_role', sql`${t.role} in ('owner', 'compliance', 'marketer', 'support')`),
  ],
);

/**
 * Password-reset codes sent by email: six digits kept only as an HMAC bound to the row (like patient codes, OT1-OT4),
 * bound to the browser that asked (attempt cookie), ten minutes, five tries. A request for an unknown email writes
 * a row with no admin, so known and unknown addresses take the same path (EN1).
 */
export const adminPasswordResets = pgTable(
  'admin_password_resets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    adminId: uuid('admin_id'),
    codeHmac: text('code_hmac').notNull(),
    attemptHash: text('attempt_hash').notNull(),
    failedTries: integer('failed_tries').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    consumedAt: timestamp('consumed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('admin_password_resets_attempt_key').on(t.orgId, t.attemptHash),
    index('admin_password_resets_expires_idx').on(t.expiresAt),
    foreignKey({ name: 'admin_password_resets_admin_fk', columns: [t.orgId, t.adminId], foreignColumns: [admins.orgId, admins.id] }).onDelete('cascade'),
    check('admin_password_resets_failed_tries', sql`${t.failedTries} >= 0`),
  ],
);

export type AdminTotpFactor = typeof adminTotpFactors.$inferSelect;
export type NewAdminTotpFactor = typeof adminTotpFactors.$inferInsert;
export type AdminPasskey = typeof adminPasskeys.$inferSelect;
export type NewAdminPasskey = typeof adminPasskeys.$inferInsert;
export type AdminWebauthnChallenge = typeof adminWebauthnChallenges.$inferSelect;
export type AdminSignInAttempt = typeof adminSignInAttempts.$inferSelect;
export type AdminInvitation = typeof adminInvitations.$inferSelect;
export type NewAdminInvitation = typeof adminInvitations.$inferInsert;
export type AdminPasswordReset = typeof adminPasswordResets.$inferSelect;
