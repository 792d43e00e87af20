// Issue 9, item 3 over real HTTP, real Postgres, the real engine and real SMTP: the language is negotiated and
// remembered per patient; code emails and notices follow the patient's language; a translated authorisation text is
// shown, signed and recorded as the version read (HIPAA 164.508).
import { and, eq, sql } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationEvents, authorizationTextTranslations, patients } from '../../db/schema/index';
import { addTextTranslation, setTopicTranslation } from '../../server/consent/translations';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { createSmtpTransport } from '../../server/delivery/transport';
import { runPass, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage } from '../../server/engine/enqueue';
import { createPatientSession } from '../../server/identity/sessions';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';
import { publishedTopic, validElements } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';
import { mailSnapshot } from '../support/mailbox';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
const ORIGIN = 'http://localhost:3999';

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Clínica Lenguas');
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

const formHeaders = (cookie?: string) => ({
  'content-type': 'application/x-www-form-urlencoded',
  origin: ORIGIN,
  'sec-fetch-site': 'same-origin',
  'x-forwarded-host': 'localhost:3999',
  'user-agent': 'LanguageTest/1.0',
  ...(cookie ? { cookie } : {}),
});
const post = (path: string, body: Record<string, string>, cookie?: string) =>
  dev.fetch(path, { method: 'POST', headers: formHeaders(cookie), body: new URLSearchParams(body).toString() });

async function sessionFor(patientId: string) {
  const { token } = await db.transaction((tx) => createPatientSession(tx, { orgId: org.id, patientId, method: 'code_email', now: new Date() }));
  return `carepost_session=${token}`;
}
const localeOf = async (patientId: string) => (await db.select({ locale: patients.locale }).from(patients).where(and(eq(patients.orgId, org.id), eq(patients.id, patientId))))[0]!.locale;

/** The database's own refusal (drizzle wraps it in a "Failed query" error with the cause). */
async function refusal(query: Promise<unknown>): Promise<string> {
  try {
    await query;
  } catch (error) {
    const e = error as { message: string; cause?: { message?: string } };
    return e.cause?.message ?? e.message;
  }
  return 'not refused';
}

const spanishElements = {
  information: 'Su nombre, su correo electrónico y los servicios que usó con nosotros en los últimos dos años.',
  disclosedBy: 'Test Clinic usa esta información.',
  recipients: 'La reciben Test Clinic y su socio de envíos, Mailwell Inc.',
  purpose: 'Para enviarle noticias y ofertas sobre programas de bienestar. Esto es mercadeo.',
  expiry: 'Esta autorización termina 24 meses después de que la firme, o antes si la retira.',
  revocation: 'Puede retirar esta autorización en cualquier momento. Use el enlace de cualquier mensaje o su página de autorizaciones.',
  noConditioning: 'Su tratamiento, sus pagos y su derecho a beneficios no dependen de que firme.',
  redisclosure: 'Una vez compartida, quien la recibe puede volver a compartirla. Es posible que entonces ya no esté protegida por la ley federal de privacidad.',
};

describe('choosing the language', () => {
  it('Accept-Language decides on a first visit (es-MX → es, q-values, unknown → en); <html lang> follows', async () => {
    const spanish = await dev.fetch(`/o/${org.slug}/sign-in`, { headers: { 'accept-language': 'es-MX,es;q=0.9,en;q=0.5' } });
    const html = await spanish.text();
    expect(html).toContain('<html lang="es"');
    expect(html).toContain('Iniciar sesión');
    expect(html).toContain('Language / Idioma');
    const english = await (await dev.fetch(`/o/${org.slug}/sign-in`, { headers: { 'accept-language': 'fr-FR,en;q=0.4,es;q=0.3' } })).text();
    expect(english).toContain('<html lang="en"');
    expect(english).toContain('Send me a code');
    const unknown = await (await dev.fetch(`/o/${org.slug}/sign-in`, { headers: { 'accept-language': 'de' } })).text();
    expect(unknown).toContain('<html lang="en"');
  });

  it('the switcher sets a cookie that beats Accept-Language, goes back to the page, and keeps the path out of the URL', async () => {
    const res = await post('/language', { locale: 'es', returnTo: `/o/${org.slug}/sign-in` });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/o/${org.slug}/sign-in`);
    expect(res.headers.get('set-cookie')).toMatch(/^carepost_lang=es; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+/);
    const page = await (await dev.fetch(`/o/${org.slug}/sign-in`, { headers: { cookie: 'carepost_lang=es', 'accept-language': 'en-US' } })).text();
    expect(page).toContain('<html lang="es"');
    // Only paths on this site come back; anything else goes home.
    for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example']) {
      expect((await post('/language', { locale: 'es', returnTo: bad })).headers.get('location')).toBe('/');
    }
    // A language we do not speak changes nothing.
    expect((await post('/language', { locale: 'fr', returnTo: '/' })).headers.get('set-cookie')).toBeNull();
  });

  it('a signed-in patient’s choice is stored on the patient; signing in without a cookie brings a stored Spanish back', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const cookie = await sessionFor(patient.id);
    expect(await localeOf(patient.id)).toBe('en');
    const res = await post('/language', { locale: 'es', returnTo: `/o/${org.slug}/choices` }, cookie);
    expect(res.status).toBe(303);
    expect(await localeOf(patient.id)).toBe('es');
    // Someone not signed in changes only their own browser.
    await post('/language', { locale: 'en', returnTo: `/o/${org.slug}/choices` });
    expect(await localeOf(patient.id)).toBe('es');
    // The admin console stays English, whatever the cookie says.
    const admin = await (await dev.fetch(`/admin/${org.slug}/sign-in`, { headers: { cookie: 'carepost_lang=es' } })).text();
    expect(admin).toContain('<html lang="en"');
  });
});

describe('what we send follows the patient’s language', () => {
  it('a code email through the real SMTP catcher is in Spanish for a Spanish patient', async () => {
    const { patient, email } = await createTestPatient(handle, org.id);
    await db.update(patients).set({ locale: 'es' }).where(and(eq(patients.orgId, org.id), eq(patients.id, patient.id)));
    const ignore = await mailSnapshot(dev.dataDir);
    const asked = await post(`/o/${org.slug}/sign-in`, { contact: email });
    expect(asked.status).toBe(303);
    let text = '';
    let subject = '';
    for (let i = 0; i < 100 && !text; i++) {
      for (const summary of await listMail(dev.dataDir)) {
        if (!summary.to.includes(email) || ignore.has(summary.id)) continue;
        const mail = await readMail(dev.dataDir, summary.id);
        text = mail?.text ?? '';
        subject = mail?.subject ?? '';
      }
      if (!text) await new Promise((r) => setTimeout(r, 100));
    }
    expect(subject).toBe(`Su código para iniciar sesión en ${org.name}`);
    expect(text).toMatch(/Su código es \d{6}/);
    expect(text).toContain('Funciona una sola vez, durante 10 minutos');
  });

  it('EM4: the engine’s portal notice is in Spanish for a Spanish patient, and still carries no PHI', async () => {
    const sink = await startSink();
    const deps: EngineDeps = {
      db,
      vault: kekRing(Buffer.alloc(32, 7)),
      links: linkKeyring(Buffer.alloc(32, 8)),
      publicUrl: new URL('https://portal.example.com'),
      mailFrom: 'Carepost <no-reply@carepost.test>',
      messageIdDomain: 'carepost.test',
      mail: createSmtpTransport(sink.url, { pool: false }),
      sms: undefined,
      logger: createLogger({ level: 'silent' }),
      orgIds: [org.id],
    };
    try {
      const { patient, email } = await createTestPatient(handle, org.id);
      await db.update(patients).set({ locale: 'es' }).where(and(eq(patients.orgId, org.id), eq(patients.id, patient.id)));
      const result = await db.transaction((tx) =>
        enqueueMessage(tx, deps.vault, {
          orgId: org.id,
          category: 'treatment',
          content: { subject: 'Resultados de laboratorio', text: 'Hemoglobina A1c 6.1%' },
          recipients: [{ patientId: patient.id, channels: ['email'] }],
          actor: { type: 'system' },
          now: new Date(),
        }),
      );
      if (!result.ok) throw new Error('not enqueued');
      while ((await runPass(deps, { batchSize: 50, concurrency: 2 })) > 0);
      const mail = sink.received.find((m) => m.to.includes(email))!;
      const parsed = await simpleParser(mail.raw);
      expect(parsed.subject).toBe(`Nuevo mensaje de ${org.name}`);
      expect(parsed.text).toContain(`Tiene un nuevo mensaje de ${org.name}.`);
      expect(parsed.text).toMatch(/Léalo de forma segura en el portal: https:\/\/portal\.example\.com\/o\/[^/]+\/m\//);
      expect(parsed.text).toMatch(/El enlace funciona durante \d+ días\./);
      expect(mail.raw).not.toContain('Hemoglobina');
      expect(mail.raw).not.toContain('laboratorio');
    } finally {
      await deps.mail.close?.();
      await sink.close();
    }
  });
});

describe('organisation texts in Spanish (164.508: the patient signs what they read)', () => {
  it('the sign page shows the translation; signing records it; the record and the download show it', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const { topic, text } = await publishedTopic(handle, org.id);
    await setTopicTranslation(db, { orgId: org.id, topicId: topic.id, locale: 'es', name: 'Noticias de bienestar', description: 'Noticias sobre programas de bienestar.', now: new Date() });
    const added = await addTextTranslation(db, { orgId: org.id, textId: text.id, locale: 'es', topicName: 'Noticias de bienestar', elements: spanishElements, actor: { type: 'system' }, now: new Date() });
    expect(added.status).toBe('added');
    if (added.status !== 'added') return;
    const cookie = `${await sessionFor(patient.id)}; carepost_lang=es`;

    const choices = await (await dev.fetch(`/o/${org.slug}/choices`, { headers: { cookie } })).text();
    expect(choices).toContain('Noticias de bienestar');
    const page = await (await dev.fetch(`/o/${org.slug}/choices/${topic.key}/sign`, { headers: { cookie } })).text();
    expect(page).toContain('Autorización para mercadeo: Noticias de bienestar');
    expect(page).toContain('Su derecho a retirarla');
    expect(page).toContain(`name="translationId" value="${added.id}"`);

    // A translation that is not the one shown is refused, like an outdated version.
    const stale = await post(`/o/${org.slug}/choices/${topic.key}/sign`, { textId: text.id, translationId: '', signatureName: 'Pat Example', confirm: 'yes', channels: 'email' }, cookie);
    expect(stale.status).toBe(409);
    // Field errors come back in Spanish.
    const bad = await post(`/o/${org.slug}/choices/${topic.key}/sign`, { textId: text.id, translationId: added.id, signatureName: 'P', channels: 'email' }, cookie);
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain('Escriba su nombre completo para firmar.');
    expect(badHtml).toContain('Marque la casilla');

    const signed = await post(`/o/${org.slug}/choices/${topic.key}/sign`, { textId: text.id, translationId: added.id, signatureName: 'Pat Example', confirm: 'yes', channels: 'email' }, cookie);
    expect(signed.status).toBe(303);
    const [event] = await db.select().from(authorizationEvents).where(and(eq(authorizationEvents.orgId, org.id), eq(authorizationEvents.patientId, patient.id)));
    expect(event!.textId).toBe(text.id);
    expect(event!.evidence).toMatchObject({ language: 'es', translationId: added.id, translationHash: added.contentHash });

    const record = await (await dev.fetch(`/o/${org.slug}/choices/record/${event!.id}`, { headers: { cookie } })).text();
    expect(record).toContain('Autorización para mercadeo: Noticias de bienestar');
    expect(record).toContain('Idioma en que se leyó y firmó');
    expect(record).toContain(added.contentHash);
    const download = await (await dev.fetch(`/o/${org.slug}/choices/record/${event!.id}/download`, { headers: { cookie } })).text();
    expect(download).toContain('<html lang="es">');
    expect(download).toContain('Su derecho a retirarla');
    // The English record of the same event still shows the Spanish words signed, and says so.
    const english = await (await dev.fetch(`/o/${org.slug}/choices/record/${event!.id}`, { headers: { cookie: cookie.replace('carepost_lang=es', 'carepost_lang=en') } })).text();
    expect(english).toContain('Language read and signed');
    expect(english).toContain('Su derecho a retirarla');
  });

  it('without a translation the original is shown and the page says so; nothing is recorded as translated', async () => {
    const { patient } = await createTestPatient(handle, org.id);
    const { topic, text } = await publishedTopic(handle, org.id);
    const cookie = `${await sessionFor(patient.id)}; carepost_lang=es`;
    const page = await (await dev.fetch(`/o/${org.slug}/choices/${topic.key}/sign`, { headers: { cookie } })).text();
    expect(page).toContain('todavía no está disponible en español');
    expect(page).toContain('<section class="auth-text" aria-labelledby="auth-text-title" lang="en">');
    const signed = await post(`/o/${org.slug}/choices/${topic.key}/sign`, { textId: text.id, translationId: '', signatureName: 'Pat Example', confirm: 'yes', channels: 'email' }, cookie);
    expect(signed.status).toBe(303);
    const [event] = await db.select().from(authorizationEvents).where(and(eq(authorizationEvents.orgId, org.id), eq(authorizationEvents.patientId, patient.id)));
    expect(event!.evidence.language).toBe('en');
    expect(event!.evidence.translationId).toBeUndefined();
  });

  it('a translation is immutable, and only a published version can be translated, once per language', async () => {
    const { text } = await publishedTopic(handle, org.id);
    const added = await addTextTranslation(db, { orgId: org.id, textId: text.id, locale: 'es', topicName: 'Noticias', elements: spanishElements, actor: { type: 'system' }, now: new Date() });
    if (added.status !== 'added') throw new Error('not added');
    expect(await refusal(db.update(authorizationTextTranslations).set({ body: 'otra cosa' }).where(eq(authorizationTextTranslations.id, added.id)))).toMatch(/immutable/);
    expect(await refusal(db.delete(authorizationTextTranslations).where(eq(authorizationTextTranslations.id, added.id)))).toMatch(/immutable/);
    expect((await addTextTranslation(db, { orgId: org.id, textId: text.id, locale: 'es', topicName: 'N', elements: spanishElements, actor: { type: 'system' }, now: new Date() })).status).toBe('exists');
    // A missing element is refused (AV3), and English is not a translation.
    const { redisclosure: _dropped, ...incomplete } = spanishElements;
    expect((await addTextTranslation(db, { orgId: org.id, textId: text.id, locale: 'es', topicName: 'N', elements: incomplete as typeof spanishElements, actor: { type: 'system' }, now: new Date() })).status).toBe('invalid');
    expect((await addTextTranslation(db, { orgId: org.id, textId: text.id, locale: 'en', topicName: 'N', elements: validElements, actor: { type: 'system' }, now: new Date() })).status).toBe('invalid');
    const draftId = (await db.execute<{ id: string }>(sql`
      insert into authorization_texts (org_id, topic_id, version, language, elements, valid_for_months)
      values (${org.id}, ${text.topicId}, 99, 'en', ${JSON.stringify(validElements)}::jsonb, 12) returning id`))[0]!.id;
    expect(
      await refusal(db.insert(authorizationTextTranslations).values({ orgId: org.id, textId: draftId, locale: 'es', elements: spanishElements, body: 'x', contentHash: 'x' })),
    ).toMatch(/only a published text/);
  });
});
