// Authorisation texts (HIPAA 45 CFR 164.508(c)): the rules a version must meet before it can be published
// (AV2, AV3), how its exact text is rendered, and its hash. One place, reused by the admin console.
import { createHash } from 'node:crypto';
import { and, eq, max } from 'drizzle-orm';
import type { Database, Tx } from '../../db/client';
import { authorizationTexts, consentTopics, type AuthorizationElements, type AuthorizationText } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { canonicalJson } from '../audit/canonical';

export type ElementKey = keyof AuthorizationElements;

/** In the order a patient reads them, with the heading each one gets. */
export const ELEMENTS: { key: ElementKey; heading: string; missing: string }[] = [
  { key: 'information', heading: 'What information', missing: 'Describe the information that will be used or disclosed.' },
  { key: 'disclosedBy', heading: 'Who uses or discloses it', missing: 'Name who will use or disclose the information.' },
  { key: 'recipients', heading: 'Who receives it', missing: 'Name who will receive the information.' },
  { key: 'purpose', heading: 'Why', missing: 'State the purpose of the use or disclosure.' },
  { key: 'expiry', heading: 'When this permission ends', missing: 'Give an expiry date or event.' },
  { key: 'revocation', heading: 'Your right to take it back', missing: 'Explain the right to revoke and how to do it.' },
  { key: 'noConditioning', heading: 'Your care does not depend on this', missing: 'Say that treatment does not depend on signing.' },
  { key: 'redisclosure', heading: 'Further sharing', missing: 'Say that the recipient may share the information further, and it may then no longer be protected.' },
  { key: 'remuneration', heading: 'Payment', missing: 'This topic is paid for by a third party: say so, and name who pays.' },
];

const MAX_ELEMENT_LENGTH = 2000;
/** Plain language (AV3), measured simply: sentences of at most 35 words, and 22 on average. */
const MAX_WORDS_PER_SENTENCE = 35;
const MAX_AVERAGE_WORDS_PER_SENTENCE = 22;

export type TextCheck = { ok: true } | { ok: false; fieldErrors: Partial<Record<ElementKey | 'form', string>> };

function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => /[A-Za-z0-9]/.test(s));
}

function words(text: string): number {
  return text.split(/\s+/).filter((w) => /[A-Za-z0-9]/.test(w)).length;
}

/**
 * AV3 and AV2 in one function: every required element present and in plain language, and for a remunerated topic a
 * remuneration statement that names the payer. Returns field errors keyed by element.
 */
export function checkAuthorizationText(topic: { remunerated: boolean; thirdPartyName: string | null }, elements: Partial<AuthorizationElements>): TextCheck {
  const fieldErrors: Partial<Record<ElementKey | 'form', string>> = {};
  for (const { key, missing } of ELEMENTS) {
    const value = (elements[key] ?? '').trim();
    if (key === 'remuneration') {
      if (!topic.remunerated) continue;
      if (!value) {
        fieldErrors.remuneration = missing;
      } else if (topic.thirdPartyName && !value.toLowerCase().includes(topic.thirdPartyName.toLowerCase())) {
        fieldErrors.remuneration = `Name who pays: ${topic.thirdPartyName}.`;
      }
      continue;
    }
    if (!value) {
      fieldErrors[key] = missing;
      continue;
    }
    if (value.length > MAX_ELEMENT_LENGTH) {
      fieldErrors[key] = `Keep this to ${MAX_ELEMENT_LENGTH} characters.`;
      continue;
    }
    const parts = sentences(value);
    const longest = Math.max(...parts.map(words));
    const average = parts.reduce((sum, s) => sum + words(s), 0) / parts.length;
    if (longest > MAX_WORDS_PER_SENTENCE || average > MAX_AVERAGE_WORDS_PER_SENTENCE) {
      fieldErrors[key] = `Use plain language: shorter sentences (at most ${MAX_WORDS_PER_SENTENCE} words each).`;
    }
  }
  return Object.keys(fieldErrors).length === 0 ? { ok: true } : { ok: false, fieldErrors };
}

/** The exact text a patient reads and signs: the topic, then each element under its heading, in a fixed order. */
export function renderAuthorizationText(topic: { name: string }, elements: AuthorizationElements, validForMonths: number): string {
  const blocks = [`Permission for marketing: ${topic.name}`];
  for (const { key, heading } of ELEMENTS) {
    const value = elements[key]?.trim();
    if (!value) continue;
    blocks.push(`${heading}\n${value}`);
  }
  blocks.push(`How long this lasts\nThis permission lasts ${validForMonths} months from the day you sign, unless you take it back sooner.`);
  return blocks.join('\n\n');
}

export function authorizationTextHash(fields: { orgId: string; topicId: string; version: number; language: string; body: string; validForMonths: number }): string {
  return createHash('sha256').update(canonicalJson({ v: 1, ...fields })).digest('hex');
}

export async function createTextDraft(
  db: Database,
  options: { orgId: string; topicId: string; language?: string; elements: Partial<AuthorizationElements>; validForMonths: number },
): Promise<AuthorizationText> {
  return db.transaction(async (tx) => {
    const [topic] = await tx.select().from(consentTopics).where(and(eq(consentTopics.orgId, options.orgId), eq(consentTopics.id, options.topicId)));
    if (!topic) throw new Error('createTextDraft: no such topic in this organisation');
    const language = options.language ?? 'en';
    const [latest] = await tx
      .select({ version: max(authorizationTexts.version) })
      .from(authorizationTexts)
      .where(and(eq(authorizationTexts.orgId, options.orgId), eq(authorizationTexts.topicId, topic.id), eq(authorizationTexts.language, language)));
    const [draft] = await tx
      .insert(authorizationTexts)
      .values({
        orgId: options.orgId,
        topicId: topic.id,
        version: (latest?.version ?? 0) + 1,
        language,
        elements: normaliseElements(options.elements),
        validForMonths: options.validForMonths,
      })
      .returning();
    return draft!;
  });
}

export type PublishResult = { status: 'published'; text: AuthorizationText } | { status: 'invalid'; fieldErrors: Partial<Record<ElementKey | 'form', string>> } | { status: 'not_found' };

/**
 * Publishes a draft when it passes checkAuthorizationText; the body is rendered and hashed at this moment, and from
 * then on the database refuses any change to them. Invalid drafts change nothing.
 */
export async function publishText(
  db: Database,
  options: { orgId: string; textId: string; actor: { type: 'admin' | 'system'; id?: string }; now: Date },
): Promise<PublishResult> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ text: authorizationTexts, topic: consentTopics })
      .from(authorizationTexts)
      .innerJoin(consentTopics, and(eq(consentTopics.orgId, authorizationTexts.orgId), eq(consentTopics.id, authorizationTexts.topicId)))
      .where(and(eq(authorizationTexts.orgId, options.orgId), eq(authorizationTexts.id, options.textId)))
      .for('update', { of: authorizationTexts });
    if (!row || row.text.status !== 'draft') return { status: 'not_found' } as const;
    const check = checkAuthorizationText(row.topic, row.text.elements);
    if (!check.ok) return { status: 'invalid', fieldErrors: check.fieldErrors } as const;
    const body = renderAuthorizationText(row.topic, row.text.elements, row.text.validForMonths);
    const contentHash = authorizationTextHash({
      orgId: row.text.orgId,
      topicId: row.text.topicId,
      version: row.text.version,
      language: row.text.language,
      body,
      validForMonths: row.text.validForMonths,
    });
    const [published] = await tx
      .update(authorizationTexts)
      .set({ status: 'published', body, contentHash, publishedAt: options.now })
      .where(eq(authorizationTexts.id, row.text.id))
      .returning();
    await appendTextAudit(tx, options, row.text, contentHash);
    return { status: 'published', text: published! } as const;
  });
}

async function appendTextAudit(
  tx: Tx,
  options: { orgId: string; actor: { type: 'admin' | 'system'; id?: string } },
  text: AuthorizationText,
  contentHash: string,
): Promise<void> {
  await appendAudit(tx, options.orgId, {
    actorType: options.actor.type,
    actorId: options.actor.id ?? null,
    action: 'consent.text.published',
    subjectType: 'authorization_text',
    subjectId: text.id,
    details: { topicId: text.topicId, version: text.version, language: text.language, contentHash },
  });
}

function normaliseElements(elements: Partial<AuthorizationElements>): AuthorizationElements {
  const out = {} as AuthorizationElements;
  for (const { key } of ELEMENTS) {
    const value = elements[key]?.trim();
    if (value) out[key] = value;
    else if (key !== 'remuneration') out[key] = '';
  }
  return out;
}
