// Minting and opening the links organisations embed: the one server function the CLI and the API both use.
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { consentTopics, organisations, patients } from '../../db/schema/index';
import type { ConsentChannel } from '../../db/schema/index';
import { CONSENT_CHANNELS } from '../consent/ledger';
import { linkExpiresAt, mintLink, verifyLink, type LinkClaims, type LinkKeyring, type LinkPurpose } from './tokens';
import { isUuid } from '../ids';

/** Where each purpose lands. The token is a path segment: query strings end up in more logs than paths do. */
export const LINK_PATHS: Record<LinkPurpose, string> = { preferences: 'p', unsubscribe: 'u', renewal: 'r', pickup: 'm' };

export type MintRequest = {
  orgSlug: string;
  /** The patient's id, or the organisation's own reference for them. */
  patient: { id: string } | { externalRef: string };
  purpose: LinkPurpose;
  /** unsubscribe: the topic key and channel it stops; renewal: the topic key; pickup: the delivery id. */
  topicKey?: string;
  channel?: string;
  deliveryId?: string;
  ttlSeconds?: number;
  now: Date;
};

export type MintResult =
  | { ok: true; url: string; expiresAt: Date; linkId: string }
  | { ok: false; error: 'unknown_organisation' | 'unknown_patient' | 'unknown_topic' | 'invalid_channel' | 'missing_context' };


export async function mintPatientLink(db: DbOrTx, keyring: LinkKeyring, publicUrl: URL, request: MintRequest): Promise<MintResult> {
  const [org] = await db.select({ id: organisations.id, slug: organisations.slug }).from(organisations).where(eq(organisations.slug, request.orgSlug));
  if (!org) return { ok: false, error: 'unknown_organisation' };
  const patientMatch =
    'id' in request.patient
      ? isUuid(request.patient.id)
        ? eq(patients.id, request.patient.id)
        : undefined
      : eq(patients.externalRef, request.patient.externalRef);
  if (!patientMatch) return { ok: false, error: 'unknown_patient' };
  const [patient] = await db.select({ id: patients.id }).from(patients).where(and(eq(patients.orgId, org.id), patientMatch));
  if (!patient) return { ok: false, error: 'unknown_patient' };

  const context: Record<string, string> = {};
  if (request.purpose === 'unsubscribe' || request.purpose === 'renewal') {
    if (!request.topicKey) return { ok: false, error: 'missing_context' };
    const [topic] = await db
      .select({ id: consentTopics.id })
      .from(consentTopics)
      .where(and(eq(consentTopics.orgId, org.id), eq(consentTopics.key, request.topicKey)));
    if (!topic) return { ok: false, error: 'unknown_topic' };
    context.topicId = topic.id;
  }
  if (request.purpose === 'unsubscribe') {
    if (!request.channel) return { ok: false, error: 'missing_context' };
    if (!CONSENT_CHANNELS.includes(request.channel as ConsentChannel)) return { ok: false, error: 'invalid_channel' };
    context.channel = request.channel;
  }
  if (request.purpose === 'pickup') {
    if (!request.deliveryId || !isUuid(request.deliveryId)) return { ok: false, error: 'missing_context' };
    context.deliveryId = request.deliveryId;
  }
  const linkId = randomUUID();
  const token = await mintLink(keyring, { purpose: request.purpose, orgId: org.id, patientId: patient.id, context, ttlSeconds: request.ttlSeconds, now: request.now, linkId });
  const url = new URL(`/o/${org.slug}/${LINK_PATHS[request.purpose]}/${token}`, publicUrl);
  return { ok: true, url: url.toString(), expiresAt: linkExpiresAt(request.purpose, request.now, request.ttlSeconds), linkId };
}

/**
 * Opens a link for one purpose in one organisation and checks that its patient still exists there. The caller shows
 * every failure the same way ("this link does not work"); the reason goes to the log only.
 */
export async function openPatientLink(
  db: DbOrTx,
  keyring: LinkKeyring,
  expected: { purpose: LinkPurpose; orgId: string; token: string; now: Date },
): Promise<{ ok: true; claims: LinkClaims } | { ok: false; reason: string }> {
  const check = await verifyLink(keyring, expected.token, expected);
  if (!check.ok) return check;
  const [patient] = await db
    .select({ id: patients.id })
    .from(patients)
    .where(and(eq(patients.orgId, expected.orgId), eq(patients.id, check.claims.patientId)));
  if (!patient) return { ok: false, reason: 'unknown_patient' };
  return check;
}
