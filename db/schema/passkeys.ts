import { sql } from 'drizzle-orm';
import { bigint, boolean, check, customType, foreignKey, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { organisations, patients } from './tenants';

/** Raw bytes. postgres.js hands bytea back as a Buffer; it is exposed as a plain Uint8Array. */
export const bytea = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType() {
    return 'bytea';
  },
  toDriver(value) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  },
  fromDriver(value) {
    if (typeof value === 'string') return new Uint8Array(Buffer.from((value as string).replace(/^\\x/, ''), 'hex'));
    return new Uint8Array(value);
  },
});

/**
 * A patient's WebAuthn credentials (PK2-PK7). The primary key is the credential id as the authenticator gave it
 * (base64url); it is unique across every organisation, so one authenticator credential can never be claimed twice.
 */
export const passkeys = pgTable(
  'passkeys',
  {
    id: text('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    patientId: uuid('patient_id').notNull(),
    /** The COSE-encoded credential public key, as registered. */
    publicKey: bytea('public_key').notNull(),
    /** The authenticator's signature counter; only ever moves forward (PK4). Zero for authenticators that do not count. */
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    /** Hints for the browser (usb, internal, hybrid, ...), as reported at registration. */
    transports: text('transports').array().notNull().default(sql`'{}'::text[]`),
    /** The BE flag at registration; it must not change afterwards (PK5). */
    backupEligible: boolean('backup_eligible').notNull(),
    /** The BS flag as last seen. */
    backupState: boolean('backup_state').notNull(),
    aaguid: text('aaguid').notNull(),
    /** Patient-chosen label ("Work laptop"). Not written to the audit log. */
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (t) => [
    index('passkeys_patient_idx').on(t.orgId, t.patientId),
    // A passkey can only belong to a patient of its own organisation (EN3).
    foreignKey({ name: 'passkeys_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    check('passkeys_name_length', sql`char_length(${t.name}) between 1 and 60`),
    check('passkeys_counter_range', sql`${t.counter} between 0 and 4294967295`),
    check('passkeys_backup_flags', sql`${t.backupEligible} or not ${t.backupState}`), // PK5
  ],
);

/**
 * Outstanding WebAuthn challenges (PK1): random, kept server-side, five minutes to live, consumed by
 * DELETE ... RETURNING so a challenge answers exactly one ceremony.
 */
export const webauthnChallenges = pgTable(
  'webauthn_challenges',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['registration', 'authentication'] }).notNull(),
    /** The patient the ceremony is for; null for usernameless (discoverable) sign-in. */
    patientId: uuid('patient_id'),
    /** base64url of at least 32 random bytes. */
    challenge: text('challenge').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('webauthn_challenges_expires_idx').on(t.expiresAt),
    foreignKey({ name: 'webauthn_challenges_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    check('webauthn_challenges_purpose', sql`${t.purpose} in ('registration', 'authentication')`),
    check('webauthn_challenges_registration_patient', sql`${t.purpose} = 'authentication' or ${t.patientId} is not null`),
    check('webauthn_challenges_challenge_length', sql`char_length(${t.challenge}) >= 43`),
  ],
);

export type Passkey = typeof passkeys.$inferSelect;
export type NewPasskey = typeof passkeys.$inferInsert;
export type WebauthnChallenge = typeof webauthnChallenges.$inferSelect;
export type NewWebauthnChallenge = typeof webauthnChallenges.$inferInsert;
