import { sql } from 'drizzle-orm';
import { check, foreignKey, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { messages, type SealedEnvelope } from './engine';
import { patients } from './tenants';

// Secure message pickup (issue 6): what a message carries besides its content, who opened it, and the patient's
// replies. Every value a patient or an organisation wrote is sealed in the vault (server/messages/vault.ts).

export const messageAttachments = pgTable(
  'message_attachments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    messageId: uuid('message_id').notNull(),
    position: integer('position').notNull(),
    /** From an allow-list; anything else is served as application/octet-stream. */
    contentType: text('content_type').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    /** The file name can say as much as the file ("biopsy-result.pdf"): sealed too. */
    name: jsonb('name').$type<SealedEnvelope>().notNull(),
    content: jsonb('content').$type<SealedEnvelope>().notNull(),
  },
  (t) => [
    foreignKey({ name: 'message_attachments_message_fk', columns: [t.orgId, t.messageId], foreignColumns: [messages.orgId, messages.id] }).onDelete('cascade'),
    index('message_attachments_message_idx').on(t.orgId, t.messageId, t.position),
    check('message_attachments_size', sql`${t.sizeBytes} >= 0`),
  ],
);

/** AU1/AU3: every open of a message or an attachment, by which session and device, verified how. */
export const messageAccess = pgTable(
  'message_access',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    messageId: uuid('message_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    attachmentId: uuid('attachment_id'),
    /** A short, stable reference to the session (not its secret): lets the patient tell two devices apart. */
    sessionRef: text('session_ref').notNull(),
    verificationMethod: text('verification_method').notNull(),
    /** "Chrome on Android": the described user agent, never the raw string. */
    device: text('device').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
  },
  (t) => [
    foreignKey({ name: 'message_access_message_fk', columns: [t.orgId, t.messageId], foreignColumns: [messages.orgId, messages.id] }).onDelete('cascade'),
    foreignKey({ name: 'message_access_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    index('message_access_patient_idx').on(t.orgId, t.patientId, t.at),
    index('message_access_message_idx').on(t.orgId, t.messageId, t.at),
  ],
);

/** A patient's reply to a message: sealed, limited in number per message, announced to the organisation as an event. */
export const messageReplies = pgTable(
  'message_replies',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    messageId: uuid('message_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    content: jsonb('content').$type<SealedEnvelope>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    foreignKey({ name: 'message_replies_message_fk', columns: [t.orgId, t.messageId], foreignColumns: [messages.orgId, messages.id] }).onDelete('cascade'),
    foreignKey({ name: 'message_replies_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
    index('message_replies_message_idx').on(t.orgId, t.messageId, t.patientId, t.createdAt),
  ],
);

export type MessageAttachment = typeof messageAttachments.$inferSelect;
export type MessageAccess = typeof messageAccess.$inferSelect;
export type MessageReply = typeof messageReplies.$inferSelect;
