import { and, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEvents, authorizationTexts } from '../../db/schema/index';
import { authorizationTextHash, createTextDraft, ELEMENTS, publishText } from '../../server/consent/texts';
import { createTopic, validElements } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';

const handle = testDatabase();
afterAll(() => handle.close());
const now = () => new Date();
const system = { type: 'system' as const };

async function draftFor(options: { remunerated?: boolean; thirdPartyName?: string; elements?: Partial<typeof validElements> } = {}) {
  const org = await createTestOrganisation(handle);
  const topic = await createTopic(handle, org.id, options);
  const draft = await createTextDraft(handle.db, { orgId: org.id, topicId: topic.id, elements: options.elements ?? validElements, validForMonths: 24 });
  return { org, topic, draft };
}

describe('authorisation texts', () => {
  it('AV3: a text with every required element publishes; its body holds each element and its hash', async () => {
    const { org, draft } = await draftFor();
    const result = await publishText(handle.db, { orgId: org.id, textId: draft.id, actor: system, now: now() });
    expect(result.status).toBe('published');
    if (result.status !== 'published') return;
    for (const { key } of ELEMENTS) if (key !== 'remuneration') expect(result.text.body).toContain(validElements[key]);
    expect(result.text.body).toContain('This permission lasts 24 months');
    const { orgId, topicId, version, language, body, validForMonths } = result.text;
    expect(result.text.contentHash).toBe(authorizationTextHash({ orgId, topicId, version, language, body: body!, validForMonths }));
    const [event] = await handle.db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'consent.text.published')));
    expect(event?.details).toMatchObject({ contentHash: result.text.contentHash, version: 1 });
  });

  for (const { key } of ELEMENTS.filter((e) => e.key !== 'remuneration')) {
    it(`AV3: a text without "${key}" cannot be published, and says which element is missing`, async () => {
      const { org, draft } = await draftFor({ elements: { ...validElements, [key]: '   ' } });
      const result = await publishText(handle.db, { orgId: org.id, textId: draft.id, actor: system, now: now() });
      expect(result.status).toBe('invalid');
      if (result.status === 'invalid') expect(Object.keys(result.fieldErrors)).toEqual([key]);
      const [row] = await handle.db.select().from(authorizationTexts).where(eq(authorizationTexts.id, draft.id));
      expect(row).toMatchObject({ status: 'draft', body: null, contentHash: null });
    });
  }

  it('AV3: plain language: a sentence that runs on is refused', async () => {
    const runOn = `${'You agree that we may use and share the details described here '.repeat(5)}for marketing.`;
    const { org, draft } = await draftFor({ elements: { ...validElements, purpose: runOn } });
    const result = await publishText(handle.db, { orgId: org.id, textId: draft.id, actor: system, now: now() });
    expect(result).toMatchObject({ status: 'invalid', fieldErrors: { purpose: expect.stringContaining('plain language') } });
  });

  it('AV2: a remunerated topic needs a remuneration statement that names the payer', async () => {
    const payer = 'Northside Pharmacy Group';
    const missing = await draftFor({ remunerated: true, thirdPartyName: payer });
    expect(await publishText(handle.db, { orgId: missing.org.id, textId: missing.draft.id, actor: system, now: now() })).toMatchObject({
      status: 'invalid',
      fieldErrors: { remuneration: expect.stringContaining('third party') },
    });
    const vague = await draftFor({ remunerated: true, thirdPartyName: payer, elements: { ...validElements, remuneration: 'We are paid for this.' } });
    expect(await publishText(handle.db, { orgId: vague.org.id, textId: vague.draft.id, actor: system, now: now() })).toMatchObject({
      status: 'invalid',
      fieldErrors: { remuneration: `Name who pays: ${payer}.` },
    });
    const stated = await draftFor({
      remunerated: true,
      thirdPartyName: payer,
      elements: { ...validElements, remuneration: `${payer} pays us to send these offers.` },
    });
    const ok = await publishText(handle.db, { orgId: stated.org.id, textId: stated.draft.id, actor: system, now: now() });
    expect(ok.status).toBe('published');
    if (ok.status === 'published') expect(ok.text.body).toContain(`Payment\n${payer} pays us to send these offers.`);
  });

  it('AV3: a published text is immutable in the database; only retiring it is allowed', async () => {
    const { org, draft } = await draftFor();
    await publishText(handle.db, { orgId: org.id, textId: draft.id, actor: system, now: now() });
    await expect(handle.sql`update authorization_texts set body = 'changed' where id = ${draft.id}`).rejects.toThrow(/immutable/);
    await expect(handle.sql`update authorization_texts set elements = '{}' where id = ${draft.id}`).rejects.toThrow(/immutable/);
    await expect(handle.sql`update authorization_texts set status = 'draft' where id = ${draft.id}`).rejects.toThrow(/immutable/);
    await expect(handle.sql`delete from authorization_texts where id = ${draft.id}`).rejects.toThrow(/cannot be deleted/);
    await handle.sql`update authorization_texts set status = 'retired' where id = ${draft.id}`;
    const [row] = await handle.db.select().from(authorizationTexts).where(eq(authorizationTexts.id, draft.id));
    expect(row!.status).toBe('retired');
  });

  it('a draft can still be edited, and versions count up per topic and language', async () => {
    const { org, topic, draft } = await draftFor();
    await handle.db.update(authorizationTexts).set({ elements: { ...validElements, purpose: 'Wellness news.' } }).where(eq(authorizationTexts.id, draft.id));
    const second = await createTextDraft(handle.db, { orgId: org.id, topicId: topic.id, elements: validElements, validForMonths: 12 });
    const spanish = await createTextDraft(handle.db, { orgId: org.id, topicId: topic.id, language: 'es', elements: validElements, validForMonths: 12 });
    expect([draft.version, second.version, spanish.version]).toEqual([1, 2, 1]);
  });

  it('EN3: another organisation cannot publish this organisation\'s draft', async () => {
    const { draft } = await draftFor();
    const other = await createTestOrganisation(handle);
    expect(await publishText(handle.db, { orgId: other.id, textId: draft.id, actor: system, now: now() })).toEqual({ status: 'not_found' });
    await expect(createTextDraft(handle.db, { orgId: other.id, topicId: draft.topicId, elements: validElements, validForMonths: 12 })).rejects.toThrow(/no such topic/);
  });
});
