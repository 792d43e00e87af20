// The admin console's translations page (issue 9, item 3): an organisation gives a topic its name and description in
// Spanish and translates the published authorisation text, over real HTTP against the production build. Bad input is
// a 400 with field errors and changes nothing; a translation never changes once added; each role does only what its
// capabilities allow, and another organisation's admin finds nothing (EN3).
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, authorizationTextTranslations, consentTopicTranslations } from '../../db/schema/index';
import { textTranslationFor } from '../../server/consent/translations';
import { createTestAdmin } from '../support/admin';
import { publishedTopic, spanishElements } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  dev = await startTestServer();
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const post = (path: string, fields: Record<string, string>, cookie: string) =>
  dev.fetch(path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3999', 'x-forwarded-host': 'localhost:3999', cookie },
    body: new URLSearchParams(fields).toString(),
  });

async function setUp() {
  const org = await createTestOrganisation(handle);
  const { topic, text } = await publishedTopic(handle, org.id);
  const path = `/admin/${org.slug}/topics/${topic.id}/translations`;
  const stored = async () => ({
    words: await db.select().from(consentTopicTranslations).where(and(eq(consentTopicTranslations.orgId, org.id), eq(consentTopicTranslations.topicId, topic.id))),
    texts: await db.select().from(authorizationTextTranslations).where(eq(authorizationTextTranslations.orgId, org.id)),
  });
  return { org, topic, text, path, stored };
}

describe('translating a topic and its text', () => {
  it('an owner gives the name, then translates the published text; the page shows it with its hash; it never changes', async () => {
    const { org, topic, text, path, stored } = await setUp();
    const owner = await createTestAdmin(db, org.id, 'owner');

    const page = await dev.fetch(path, { headers: { cookie: owner.cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`Español: ${topic.name}`);
    expect(html).toContain('lang="es"'); // the fields are marked as Spanish for screen readers (WCAG 3.1.2)
    expect(html).toContain('has no translation yet');

    // The text needs the topic's name in Spanish first: its title uses it.
    const early = await post(path, { intent: 'text-translation', textId: text.id, ...spanishElements }, owner.cookie);
    expect(early.status).toBe(409);
    expect(await early.text()).toContain('Give the topic its name in this language first');
    expect((await stored()).texts).toEqual([]);

    // A missing name is a field error, and nothing is stored.
    const empty = await post(path, { intent: 'topic-translation', name: '  ', description: 'Noticias.' }, owner.cookie);
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('Enter the name patients see in this language.');
    expect((await stored()).words).toEqual([]);

    const named = await post(path, { intent: 'topic-translation', name: 'Noticias de bienestar', description: 'Noticias sobre programas de bienestar.' }, owner.cookie);
    expect(named.status).toBe(303);
    expect(named.headers.get('location')).toBe(`${path}?lang=es&saved=topic`);
    expect((await stored()).words).toMatchObject([{ locale: 'es', name: 'Noticias de bienestar' }]);

    // A part the original has, left out: a field error against that part, and nothing stored.
    const { redisclosure: _left, ...partial } = spanishElements;
    const missing = await post(path, { intent: 'text-translation', textId: text.id, ...partial }, owner.cookie);
    expect(missing.status).toBe(400);
    expect(await missing.text()).toMatch(/id="redisclosure-error"/);
    expect((await stored()).texts).toEqual([]);

    const added = await post(path, { intent: 'text-translation', textId: text.id, ...spanishElements }, owner.cookie);
    expect(added.status).toBe(303);
    const translation = await textTranslationFor(db, org.id, text.id, 'es');
    expect(translation?.body).toContain('Autorización para mercadeo: Noticias de bienestar');
    const shown = await (await dev.fetch(path, { headers: { cookie: owner.cookie } })).text();
    expect(shown).toContain(translation!.contentHash);
    expect(shown).not.toContain('has no translation yet');

    // Once added it never changes: a second translation of the same version is refused.
    const again = await post(path, { intent: 'text-translation', textId: text.id, ...spanishElements, purpose: 'Otra cosa. Esto es mercadeo.' }, owner.cookie);
    expect(again.status).toBe(409);
    expect((await stored()).texts).toHaveLength(1);

    // Audited by id and language only: no wording in the audit trail.
    const events = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.subjectId, topic.id)));
    const topicEvent = events.find((e) => e.action === 'consent.topic.translated');
    expect(topicEvent?.details).toEqual({ locale: 'es' });
    const textEvents = await db.select().from(auditEvents).where(and(eq(auditEvents.orgId, org.id), eq(auditEvents.action, 'consent.text.translated')));
    expect(textEvents).toHaveLength(1);
    expect(JSON.stringify(textEvents[0]!.details)).not.toContain('Noticias');
  });

  it('EN3 and roles: text changes need "texts", name changes need "topics", support reads nothing, another organisation finds nothing', async () => {
    const { org, text, path, stored } = await setUp();
    const marketer = await createTestAdmin(db, org.id, 'marketer');
    const compliance = await createTestAdmin(db, org.id, 'compliance');
    const support = await createTestAdmin(db, org.id, 'support');
    const other = await createTestOrganisation(handle);
    const stranger = await createTestAdmin(db, other.id, 'owner');

    expect((await dev.fetch(path, { headers: { cookie: marketer.cookie } })).status).toBe(200);
    expect((await dev.fetch(path, { headers: { cookie: compliance.cookie } })).status).toBe(200);
    expect((await dev.fetch(path, { headers: { cookie: support.cookie } })).status).toBe(403);

    // The marketer names the topic; the compliance officer may not.
    expect((await post(path, { intent: 'topic-translation', name: 'Nombre', description: '' }, compliance.cookie)).status).toBe(403);
    expect((await stored()).words).toEqual([]);
    expect((await post(path, { intent: 'topic-translation', name: 'Noticias', description: '' }, marketer.cookie)).status).toBe(303);
    // The compliance officer translates the text; the marketer may not.
    expect((await post(path, { intent: 'text-translation', textId: text.id, ...spanishElements }, marketer.cookie)).status).toBe(403);
    expect((await stored()).texts).toEqual([]);
    expect((await post(path, { intent: 'text-translation', textId: text.id, ...spanishElements }, compliance.cookie)).status).toBe(303);

    // Another organisation's owner: the topic is not found through their own organisation, and their cookie does not
    // open this organisation's console.
    const throughOwn = `/admin/${other.slug}/topics/${path.split('/')[4]}/translations`;
    expect((await dev.fetch(throughOwn, { headers: { cookie: stranger.cookie } })).status).toBe(404);
    expect((await post(throughOwn, { intent: 'topic-translation', name: 'X', description: '' }, stranger.cookie)).status).toBe(404);
    const cross = await dev.fetch(path, { headers: { cookie: stranger.cookie }, redirect: 'manual' });
    expect([303, 403, 404]).toContain(cross.status);
    expect((await dev.fetch(`/admin/${org.slug}/topics/not-a-topic/translations`, { headers: { cookie: marketer.cookie } })).status).toBe(404);
    expect((await stored()).words).toMatchObject([{ name: 'Noticias' }]);
  });
});
