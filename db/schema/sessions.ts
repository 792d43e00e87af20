import { sql } from 'drizzle-orm';
import { check, foreignKey, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { admins, organisations, patients } from './tenants';

// Sessions are database rows; the cookie carries only a random id, and the table keeps only its SHA-256,
// so a copy of the table cannot be replayed as cookies. The identity issue adds the flows on top.
export const sessions = pgTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'cascade' }),
    subjectType: text('subject_type', { enum: ['patient', 'admin'] }).notNull(),
    patientId: uuid('patient_id'),
    adminId: uuid('admin_id'),
    /** How the subject last proved who they are (code_email, code_sms, passkey, password_totp, ...). */
    verificationMethod: text('verification_method').notNull(),
    verifiedAt: timestamp('verified_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    /** Absolute expiry (SE2); the idle timeout is checked against last_seen_at. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** Shown in the patient's list of sessions ("Chrome on Android"); truncated, never an IP. */
    userAgent: text('user_agent'),
  },
  (t) => [
    index('sessions_patient_idx').on(t.orgId, t.patientId),
    index('sessions_admin_idx').on(t.orgId, t.adminId),
    // A session can only belong to a patient or admin of its own organisation (EN3).
    foreignKey({ name: 'sessions_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    foreignKey({ name: 'sessions_admin_fk', columns: [t.orgId, t.adminId], foreignColumns: [admins.orgId, admins.id] }).onDelete('cascade'),
    check(
      'sessions_subject',
      sql`(${t.subjectType} = 'patient' and ${t.patientId} is not null and ${t.adminId} is null)
       or (${t.subjectType} = 'admin' and ${t.adminId} is not null and ${t.patientId} is null)`,
    ),
  ],
);

export type Session = typeof sessions.$inferSelect;
export type NewSession = typeof sessions.$inferInsert;
