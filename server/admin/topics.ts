// Topics and authorisation text versions in the admin console (issue 8, part 4). The rules a version must meet (AV2,
// AV3), its rendering and its hash live in server/consent/texts.ts; this module adds what an admin does around them:
// create and edit topics, keep one draft per topic, publish, retire, discard. Every query is scoped by org_id (EN3),
// a published version is never written here (the database refuses it too, migration 0006), and each action is audited.
import { and, asc, desc, eq, isNull, max, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, DbOrTx, Tx } from '../../db/client';
import { authorizationTexts, consentTopics, type AuthorizationElements, type AuthorizationText, type ConsentTopic } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { ELEMENTS, checkAuthorizationText, publishText, renderAuthorizationText, type ElementKey, type PublishResult } from '../consent/texts';
import { isUuid } from '../ids';

type Actor = { adminId: string };
export type FieldErrors<K extends string> = Partial<Record<K | 'form', string>>;

// --- Topics ----------------------------------------------------------------------------------------------------------

export type TopicSummary = {
  id: string;
  key: string;
  name: string;
  remunerated: boolean;
  retiredAt: Date | null;
  currentVersion: number | null;
  currentPublishedAt: Date | null;
  hasDraft: boolean;
};

/** Each topic with its newest published version and whether a draft is open: one statement. */
export async function listTopics(db: DbOrTx, orgId: string): Promise<TopicSummary[]> {
  const rows = (await db.execute(sql`
    select t.id, t.key, t.name, t.remunerated, t.retired_at as "retiredAt",
           p.version as "currentVersion", p.published_at as "currentPublishedAt",
           exists (select 1 from authorization_texts d where d.org_id = t.org_id and d.topic_id = t.id and d.status = 'draft') as "hasDraft"
      from consent_topics t
      left join lateral (
        select x.version, x.published_at from authorization_texts x
         where x.org_id = t.org_id and x.topic_id = t.id and x.status = 'published'
         order by x.version desc limit 1
      ) p on true
     where t.org_id = ${orgId}
     order by t.retired_at is not null, t.name, t.id`)) as unknown as {
    id: string;
    key: string;
    name: string;
    remunerated: boolean;
    retiredAt: string | Date | null;
    currentVersion: number | null;
    currentPublishedAt: string | Date | null;
    hasDraft: boolean;
  }[];
  return rows.map((r) => ({
    ...r,
    retiredAt: r.retiredAt ? new Date(r.retiredAt) : null,
    currentPublishedAt: r.currentPublishedAt ? new Date(r.currentPublishedAt) : null,
    currentVersion: r.currentVersion === null ? null : Number(r.currentVersion),
  }));
}

/** A topic of this organisation, or undefined for a malformed id or another organisation's topic (EN3: a 404). */
export async function getTopic(db: DbOrTx, orgId: string, topicId: string): Promise<ConsentTopic | undefined> {
  if (!isUuid(topicId)) return undefined;
  const [topic] = await db.select().from(consentTopics).where(and(eq(consentTopics.orgId, orgId), eq(consentTopics.id, topicId)));
  return topic;
}

export async function textsOfTopic(db: DbOrTx, orgId: string, topicId: string): Promise<AuthorizationText[]> {
  return db
    .select()
    .from(authorizationTexts)
    .where(and(eq(authorizationTexts.orgId, orgId), eq(authorizationTexts.topicId, topicId)))
    .orderBy(desc(authorizationTexts.version), asc(authorizationTexts.language));
}

const topicSchema = z
  .object({
    key: z
      .string()
      .trim()
      .min(1, 'Enter a key.')
      .max(63, 'Keep the key to 63 characters.')
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'Use lower-case letters, digits, - and _ only, starting with a letter or digit.'),
    name: z.string().trim().min(1, 'Enter a name patients will recognise.').max(120, 'Keep the name to 120 characters.'),
    description: z.string().trim().min(1, 'Describe the topic in a sentence.').max(500, 'Keep the description to 500 characters.'),
    remunerated: z.boolean(),
    thirdPartyName: z.string().trim().max(120, 'Keep the name to 120 characters.'),
  })
  .superRefine((v, ctx) => {
    // AV2: a paid topic must name who pays, because its texts must say so.
    if (v.remunerated && !v.thirdPartyName) ctx.addIssue({ code: 'custom', path: ['thirdPartyName'], message: 'Name the third party that pays for this marketing.' });
  });

export type TopicField = 'key' | 'name' | 'description' | 'remunerated' | 'thirdPartyName';
export type TopicInput = { key: string; name: string; description: string; remunerated: boolean; thirdPartyName: string };

export function topicInputFrom(form: FormData): TopicInput {
  return {
    key: String(form.get('key') ?? ''),
    name: String(form.get('name') ?? ''),
    description: String(form.get('description') ?? ''),
    remunerated: form.get('remunerated') === 'yes',
    thirdPartyName: String(form.get('thirdPartyName') ?? ''),
  };
}

function topicErrors(input: TopicInput): { ok: true; value: z.output<typeof topicSchema> } | { ok: false; fieldErrors: FieldErrors<TopicField> } {
  const parsed = topicSchema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const fieldErrors: FieldErrors<TopicField> = {};
  for (const issue of parsed.error.issues) fieldErrors[(issue.path[0] as TopicField) ?? 'form'] ??= issue.message;
  return { ok: false, fieldErrors };
}

export type TopicResult = { status: 'ok'; topic: ConsentTopic } | { status: 'invalid'; fieldErrors: FieldErrors<TopicField> };

export async function createTopic(db: Database, options: { orgId: string; input: TopicInput; actor: Actor }): Promise<TopicResult> {
  const checked = topicErrors(options.input);
  if (!checked.ok) return { status: 'invalid', fieldErrors: checked.fieldErrors };
  const v = checked.value;
  return db.transaction(async (tx) => {
    const [topic] = await tx
      .insert(consentTopics)
      .values({ orgId: options.orgId, key: v.key, name: v.name, description: v.description, remunerated: v.remunerated, thirdPartyName: v.remunerated ? v.thirdPartyName : null })
      .onConflictDoNothing()
      .returning();
    if (!topic) return { status: 'invalid', fieldErrors: { key: 'Another topic already uses this key. Choose a different one.' } } as const;
    await appendAudit(tx, options.orgId, {
      actorType: 'admin',
      actorId: options.actor.adminId,
      action: 'consent.topic.created',
      subjectType: 'consent_topic',
      subjectId: topic.id,
      details: { key: topic.key, remunerated: topic.remunerated },
    });
    return { status: 'ok', topic } as const;
  });
}

/**
 * Name and description may change at any time (a published text keeps the name it was rendered with). Whether a third
 * party pays may change only while no version has been published: a signed text must keep meaning what it said (AV2).
 */
export async function updateTopic(db: Database, options: { orgId: string; topicId: string; input: Omit<TopicInput, 'key'>; actor: Actor }): Promise<TopicResult | { status: 'not_found' }> {
  return db.transaction(async (tx) => {
    const [topic] = await tx
      .select()
      .from(consentTopics)
      .where(and(eq(consentTopics.orgId, options.orgId), eq(consentTopics.id, options.topicId)))
      .for('update');
    if (!topic) return { status: 'not_found' } as const;
    const checked = topicErrors({ ...options.input, key: topic.key });
    if (!checked.ok) return { status: 'invalid', fieldErrors: checked.fieldErrors } as const;
    const v = checked.value;
    const payerChanged = v.remunerated !== topic.remunerated || (v.remunerated && v.thirdPartyName !== topic.thirdPartyName);
    if (payerChanged) {
      const [published] = await tx
        .select({ id: authorizationTexts.id })
        .from(authorizationTexts)
        .where(and(eq(authorizationTexts.orgId, options.orgId), eq(authorizationTexts.topicId, topic.id), sql`${authorizationTexts.status} <> 'draft'`))
        .limit(1);
      if (published) {
        return {
          status: 'invalid',
          fieldErrors: { remunerated: 'Who pays cannot change once a text is published: patients signed what it said. Create a new topic instead.' },
        } as const;
      }
    }
    const [updated] = await tx
      .update(consentTopics)
      .set({ name: v.name, description: v.description, remunerated: v.remunerated, thirdPartyName: v.remunerated ? v.thirdPartyName : null })
      .where(and(eq(consentTopics.orgId, options.orgId), eq(consentTopics.id, topic.id)))
      .returning();
    await appendAudit(tx, options.orgId, {
      actorType: 'admin',
      actorId: options.actor.adminId,
      action: 'consent.topic.updated',
      subjectType: 'consent_topic',
      subjectId: topic.id,
      details: { remunerated: updated!.remunerated, payerChanged },
    });
    return { status: 'ok', topic: updated! } as const;
  });
}

/** A retired topic is offered to no patient and the gate blocks its marketing (`topic_retired`). */
export async function retireTopic(db: Database, options: { orgId: string; topicId: string; actor: Actor; now: Date }): Promise<'retired' | 'not_found'> {
  return db.transaction(async (tx) => {
    const [topic] = await tx
      .update(consentTopics)
      .set({ retiredAt: options.now })
      .where(and(eq(consentTopics.orgId, options.orgId), eq(consentTopics.id, options.topicId), isNull(consentTopics.retiredAt)))
      .returning({ id: consentTopics.id });
    if (!topic) return 'not_found';
    await appendAudit(tx, options.orgId, { actorType: 'admin', actorId: options.actor.adminId, action: 'consent.topic.retired', subjectType: 'consent_topic', subjectId: topic.id });
    return 'retired';
  });
}

// --- Text versions ---------------------------------------------------------------------------------------------------

export type DraftField = ElementKey | 'validForMonths';
export type DraftInput = { elements: Partial<AuthorizationElements>; validForMonths: string };

/**
 * Element text as typed, with line endings unified and blank lines folded: a blank line separates sections in the
 * rendered body (renderAuthorizationText / textSections), so one inside an element would split it.
 */
function cleanElement(value: string): string {
  return value
    .replace(/\r\n?/g, '\n')
    .replace(/\n[ \t]*\n+/g, '\n')
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .trim();
}

export function draftInputFrom(form: FormData): DraftInput {
  const elements: Partial<AuthorizationElements> = {};
  for (const { key } of ELEMENTS) elements[key] = cleanElement(String(form.get(key) ?? ''));
  return { elements, validForMonths: String(form.get('validForMonths') ?? '').trim() };
}

function parseMonths(value: string): number | undefined {
  return /^\d{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= 120 ? Number(value) : undefined;
}

export type DraftResult = { status: 'saved'; text: AuthorizationText } | { status: 'invalid'; fieldErrors: FieldErrors<DraftField> } | { status: 'not_draft' } | { status: 'not_found' };

/**
 * Saves the draft of a topic: updates the open draft, or starts one (a topic has at most one open draft, so two
 * admins cannot publish two diverging drafts by accident). Missing elements are allowed in a draft; publishing checks them.
 */
export async function saveDraft(db: Database, options: { orgId: string; topicId: string; textId?: string; input: DraftInput; actor: Actor }): Promise<DraftResult> {
  const months = parseMonths(options.input.validForMonths);
  const lengthErrors: FieldErrors<DraftField> = {};
  for (const { key } of ELEMENTS) if ((options.input.elements[key] ?? '').length > 2000) lengthErrors[key] = 'Keep this to 2000 characters.';
  if (months === undefined) lengthErrors.validForMonths = 'Enter a whole number of months from 1 to 120.';
  if (Object.keys(lengthErrors).length > 0) return { status: 'invalid', fieldErrors: lengthErrors };
  if (options.textId !== undefined && !isUuid(options.textId)) return { status: 'not_found' };
  if (!isUuid(options.topicId)) return { status: 'not_found' };
  return db.transaction(async (tx) => {
    // The topic row's lock serialises drafting per topic, so "at most one open draft" holds under concurrent saves.
    const [topic] = await tx
      .select()
      .from(consentTopics)
      .where(and(eq(consentTopics.orgId, options.orgId), eq(consentTopics.id, options.topicId)))
      .for('update');
    if (!topic) return { status: 'not_found' } as const;
    const [current] = await tx
      .select()
      .from(authorizationTexts)
      .where(
        and(
          eq(authorizationTexts.orgId, options.orgId),
          eq(authorizationTexts.topicId, topic.id),
          options.textId ? eq(authorizationTexts.id, options.textId) : eq(authorizationTexts.status, 'draft'),
        ),
      )
      .limit(1)
      .for('update');
    if (options.textId && !current) return { status: 'not_found' } as const;
    if (current) {
      // A published or retired version is evidence: the server refuses, and so would the database (migration 0006).
      if (current.status !== 'draft') return { status: 'not_draft' } as const;
      const [text] = await tx
        .update(authorizationTexts)
        .set({ elements: normalised(options.input.elements), validForMonths: months! })
        .where(and(eq(authorizationTexts.orgId, options.orgId), eq(authorizationTexts.id, current.id), eq(authorizationTexts.status, 'draft')))
        .returning();
      await auditText(tx, options, 'consent.text.draft_saved', text!);
      return { status: 'saved', text: text! } as const;
    }
    const [latest] = await tx
      .select({ version: max(authorizationTexts.version) })
      .from(authorizationTexts)
      .where(and(eq(authorizationTexts.orgId, options.orgId), eq(authorizationTexts.topicId, topic.id), eq(authorizationTexts.language, 'en')));
    const [text] = await tx
      .insert(authorizationTexts)
      .values({
        orgId: options.orgId,
        topicId: topic.id,
        version: (latest?.version ?? 0) + 1,
        language: 'en',
        elements: normalised(options.input.elements),
        validForMonths: months!,
      })
      .returning();
    await auditText(tx, options, 'consent.text.draft_created', text!);
    return { status: 'saved', text: text! } as const;
  });
}

function normalised(elements: Partial<AuthorizationElements>): AuthorizationElements {
  const out = {} as AuthorizationElements;
  for (const { key } of ELEMENTS) {
    const value = elements[key]?.trim() ?? '';
    if (value || key !== 'remuneration') out[key] = value;
  }
  return out;
}

async function auditText(tx: Tx, options: { orgId: string; actor: Actor }, action: string, text: AuthorizationText) {
  await appendAudit(tx, options.orgId, {
    actorType: 'admin',
    actorId: options.actor.adminId,
    action,
    subjectType: 'authorization_text',
    subjectId: text.id,
    details: { topicId: text.topicId, version: text.version, language: text.language },
  });
}

/** Saves the fields as the draft, then publishes it through the AV2/AV3 check; a refusal keeps the saved draft. */
export async function saveAndPublish(
  db: Database,
  options: { orgId: string; topicId: string; textId?: string; input: DraftInput; actor: Actor; now: Date },
): Promise<DraftResult | PublishResult> {
  const saved = await saveDraft(db, options);
  if (saved.status !== 'saved') return saved;
  return publishText(db, { orgId: options.orgId, textId: saved.text.id, actor: { type: 'admin', id: options.actor.adminId }, now: options.now });
}

/** A retired version is offered to no one again; authorisations already signed on it stay valid until they end. */
export async function retireText(db: Database, options: { orgId: string; topicId: string; textId: string; actor: Actor }): Promise<'retired' | 'not_found'> {
  if (!isUuid(options.textId)) return 'not_found';
  return db.transaction(async (tx) => {
    const [text] = await tx
      .update(authorizationTexts)
      .set({ status: 'retired' })
      .where(
        and(
          eq(authorizationTexts.orgId, options.orgId),
          eq(authorizationTexts.topicId, options.topicId),
          eq(authorizationTexts.id, options.textId),
          eq(authorizationTexts.status, 'published'),
        ),
      )
      .returning();
    if (!text) return 'not_found';
    await auditText(tx, options, 'consent.text.retired', text);
    return 'retired';
  });
}

/** A draft was never shown to a patient, so it may simply go. */
export async function discardDraft(db: Database, options: { orgId: string; topicId: string; textId: string; actor: Actor }): Promise<'discarded' | 'not_found'> {
  if (!isUuid(options.textId)) return 'not_found';
  return db.transaction(async (tx) => {
    const [text] = await tx
      .delete(authorizationTexts)
      .where(
        and(
          eq(authorizationTexts.orgId, options.orgId),
          eq(authorizationTexts.topicId, options.topicId),
          eq(authorizationTexts.id, options.textId),
          eq(authorizationTexts.status, 'draft'),
        ),
      )
      .returning();
    if (!text) return 'not_found';
    await auditText(tx, options, 'consent.text.draft_discarded', text);
    return 'discarded';
  });
}

/**
 * The text a patient would read for a version: the frozen body of a published one, or for a draft the body it would
 * get if published now (same renderer), so the preview is exactly what the patient sees.
 */
export function patientTextOf(topic: Pick<ConsentTopic, 'name'>, text: AuthorizationText): string {
  return text.body ?? renderAuthorizationText(topic, text.elements, text.validForMonths);
}

/** The AV2/AV3 check of a draft as it stands, to show what publishing would say before trying. */
export function draftCheck(topic: Pick<ConsentTopic, 'remunerated' | 'thirdPartyName'>, text: AuthorizationText) {
  return checkAuthorizationText(topic, text.elements);
}
