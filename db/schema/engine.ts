import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { consentTopics, type ConsentChannel } from './consent';
import { organisations, patients } from './tenants';

// The send engine (ARCHITECTURE.md, "The send engine"). Messages hold sealed content; deliveries are both the queue
// and the send ledger, one row per (message, patient, channel).

export type MessageCategory = 'treatment' | 'operations' | 'marketing';

/** A vault envelope (server/messages/vault.ts): KEK id, wrapped data key, nonce, ciphertext with its tag. */
export type SealedEnvelope = { v: 1 | 2; kid: string; wk: string; iv: string; ct: string };

export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    /** AV6: only marketing needs an authorisation, and it must name its topic. */
    category: text('category', { enum: ['treatment', 'operations', 'marketing'] }).notNull(),
    topicId: uuid('topic_id'),
    /** Subject, text and HTML, sealed together. Never stored or logged in clear. */
    content: jsonb('content').$type<SealedEnvelope>().notNull(),
    /** After this instant a delivery is pointless and is blocked (`send_by_passed`). */
    sendBy: timestamp('send_by', { withTimezone: true }),
    /** After this instant the portal shows "expired: contact the sender" instead of the content (the organisation's period). */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** Set when the sender withdraws it: the portal shows "withdrawn by the sender" and nothing more is sent. */
    retractedAt: timestamp('retracted_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    unique('messages_org_id_id_key').on(t.orgId, t.id),
    foreignKey({ name: 'messages_topic_fk', columns: [t.orgId, t.topicId], foreignColumns: [consentTopics.orgId, consentTopics.id] }),
    check('messages_category', sql`${t.category} in ('treatment', 'operations', 'marketing')`),
    check('messages_marketing_topic', sql`(${t.category} = 'marketing') = (${t.topicId} is not null)`),
  ],
);

export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'blocked';
export type DeliveryRoute = 'pgp' | 'tls' | 'portal_notice' | 'sms_notice' | 'push_notice' | 'portal';

export const deliveries = pgTable(
  'deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id').notNull(),
    messageId: uuid('message_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    channel: text('channel', { enum: ['email', 'sms', 'push', 'portal'] }).$type<ConsentChannel>().notNull(),
    /** Copied from the message so the gate and the frequency counts need no join. */
    category: text('category', { enum: ['treatment', 'operations', 'marketing'] }).$type<MessageCategory>().notNull(),
    topicId: uuid('topic_id'),
    status: text('status', { enum: ['queued', 'sending', 'sent', 'failed', 'blocked'] }).$type<DeliveryStatus>().notNull().default('queued'),
    /** When it may next be tried: now at enqueue, later after a deferral or a retryable failure. */
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** A claim: the worker that holds it, until when. An expired lease is claimed again (a crashed worker). */
    leasedBy: text('leased_by'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    /** The last gate decision and its stable reason code, and the authorisation it rested on (marketing). */
    decision: text('decision', { enum: ['allow', 'block', 'defer'] }),
    reason: text('reason'),
    basisEventId: uuid('basis_event_id'),
    basisTextHash: text('basis_text_hash'),
    route: text('route').$type<DeliveryRoute>(),
    /** DL2: derived from the delivery id, so a repeated hand-off is recognisable downstream. */
    messageIdHeader: text('message_id_header'),
    /** A transport error code (never the server's text, which may echo an address). */
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    /**
     * A resend of the PHI-free notice, asked for by support (ADR 016): the delivery it repeats, and its number (1, 2,
     * ...). The original has 0 and no resend_of. A resend is a delivery of its own, gated again like any other.
     */
    resendOf: uuid('resend_of'),
    resendNo: integer('resend_no').notNull().default(0),
  },
  (t) => [
    // DL2: one row per (message, patient, channel) and resend number; the form names the number it expects to create,
    // so a double-click that races here makes one row, not two.
    uniqueIndex('deliveries_one_per_channel').on(t.orgId, t.messageId, t.patientId, t.channel, t.resendNo),
    foreignKey({ name: 'deliveries_resend_of_fk', columns: [t.resendOf], foreignColumns: [t.id] }),
    check('deliveries_resend', sql`(${t.resendNo} = 0) = (${t.resendOf} is null) and ${t.resendNo} >= 0`),
    foreignKey({ name: 'deliveries_message_fk', columns: [t.orgId, t.messageId], foreignColumns: [messages.orgId, messages.id] }),
    foreignKey({ name: 'deliveries_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }),
    // The claim query: due rows, oldest first. Partial, so finished rows cost nothing.
    index('deliveries_due_idx').on(t.dueAt).where(sql`${t.status} in ('queued', 'sending')`),
    // Frequency and weekly-cap counts: a patient's sent marketing, newest first.
    index('deliveries_patient_sent_idx').on(t.orgId, t.patientId, t.sentAt).where(sql`${t.category} = 'marketing' and ${t.status} = 'sent'`),
    index('deliveries_patient_idx').on(t.orgId, t.patientId, t.createdAt),
    check('deliveries_status', sql`${t.status} in ('queued', 'sending', 'sent', 'failed', 'blocked')`),
    check('deliveries_channel', sql`${t.channel} in ('email', 'sms', 'push', 'portal')`),
  ],
);

/** Addresses and numbers that must not be sent to: hard bounces, complaints, SMS STOP. Scoped to the organisation. */
export const suppressions = pgTable(
  'suppressions',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    kind: text('kind', { enum: ['email', 'sms'] }).notNull(),
    /** The normalised address or number, as in contact_points. */
    value: text('value').notNull(),
    reason: text('reason', { enum: ['hard_bounce', 'complaint', 'sms_stop', 'admin'] }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.kind, t.value] })],
);

export type Message = typeof messages.$inferSelect;
export type Delivery = typeof deliveries.$inferSelect;
export type Suppression = typeof suppressions.$inferSelect;

/** A patient's OpenPGP public key, validated on upload (it can encrypt and is not expired). One per patient. */
export const patientPgpKeys = pgTable(
  'patient_pgp_keys',
  {
    orgId: uuid('org_id').notNull(),
    patientId: uuid('patient_id').notNull(),
    armoredKey: text('armored_key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    /** The key's own expiry, if it has one; the route check refuses an expired key at send time too. */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.patientId] }),
    foreignKey({ name: 'patient_pgp_keys_patient_fk', columns: [t.orgId, t.patientId], foreignColumns: [patients.orgId, patients.id] }).onDelete('cascade'),
  ],
);

/** Each organisation's OpenPGP signing key. The private key is sealed with the vault key, never stored in clear. */
export const orgSigningKeys = pgTable('org_signing_keys', {
  orgId: uuid('org_id')
    .primaryKey()
    .references(() => organisations.id, { onDelete: 'restrict' }),
  armoredPublicKey: text('armored_public_key').notNull(),
  sealedPrivateKey: jsonb('sealed_private_key').$type<SealedEnvelope>().notNull(),
  fingerprint: text('fingerprint').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
});

/** EM3: an organisation's own DKIM key (d= domain, s= selector), sealed; without one the deployment's key (if any) signs. */
export const orgDkimKeys = pgTable(
  'org_dkim_keys',
  {
    orgId: uuid('org_id')
      .primaryKey()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    domain: text('domain').notNull(),
    selector: text('selector').notNull(),
    sealedPrivateKey: jsonb('sealed_private_key').$type<SealedEnvelope>().notNull(),
    /** The DNS TXT value to publish at <selector>._domainkey.<domain>. */
    dnsRecord: text('dns_record').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [check('org_dkim_keys_selector', sql`${t.selector} ~ '^[a-z0-9][a-z0-9-]{0,62}$'`), check('org_dkim_keys_domain_lower', sql`${t.domain} = lower(${t.domain})`)],
);

/** TR2: domains an organisation requires TLS for, whatever a probe says. */
export const tlsEnforcedDomains = pgTable(
  'tls_enforced_domains',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id, { onDelete: 'restrict' }),
    domain: text('domain').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.domain] }), check('tls_enforced_domains_lower', sql`${t.domain} = lower(${t.domain})`)],
);

/** What a capability probe found for a recipient domain's mail server (EHLO, STARTTLS, certificate). Not tenant data. */
export const domainTlsCache = pgTable('domain_tls_cache', {
  domain: text('domain').primaryKey(),
  mxHost: text('mx_host'),
  starttls: boolean('starttls').notNull(),
  certificateValid: boolean('certificate_valid').notNull(),
  tlsVersion: text('tls_version'),
  error: text('error'),
  checkedAt: timestamp('checked_at', { withTimezone: true }).notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/** Inbound SMS keywords handled (RV3): one row per provider message id, so a retried webhook is handled once. */
export const inboundSms = pgTable('inbound_sms', {
  providerMessageId: text('provider_message_id').primaryKey(),
  /** Only the keyword we acted on, never the rest of the text. */
  keyword: text('keyword'),
  fromHash: text('from_hash').notNull(),
  receivedAt: timestamp('received_at', { withTimezone: true }).notNull(),
});
