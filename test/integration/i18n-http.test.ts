// Issue 9, item 3 over real HTTP, real Postgres, the real engine and real SMTP: the language is negotiated and
// remembered per patient; code emails and notices follow the patient's language; a translated authorisation text is
// shown, signed and recorded as the version read (HIPAA 164.508).
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationEvents, authorizationTextTranslations, contactPoints, deliveries, patients } from '../../db/schema/index';
import { addTextTranslation, setTopicTranslation } from '../../server/consent/translations';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { createSmtpTransport } from '../../server/delivery/transport';
import { runPass, type EngineDeps } from '../../server/engine/engine';
import { enqueueMessage } from '../../server/engine/enqueue';
import { createPatientSession } from '../../server/identity/sessions';
import { linkKeyring, mintLink, type LinkPurpose } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { retractMessage } from '../../server/messages/inbox';
import { kekRing, vaultRing } from '../../server/messages/vault';
import { publishedTopic, spanishElements, validElements } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startSink } from '../support/engine-sink';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';
import { mailSnapshot } from '../support/mailbox';
import { englishLeft } from '../support/english';

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

// Every patient page, notice and error message in both languages (issue 9, item 3): the pages below were English only.
// Each is fetched twice: in Spanish it must say a few key things in Spanish and nothing in English (englishLeft finds
// English function words in the visible text and labels); in English it must say them in English.
describe('every patient page in Spanish and English', () => {
  const es = (cookie?: string) => ({ 'accept-language': 'es-MX,es;q=0.9', ...(cookie ? { cookie: `${cookie}; carepost_lang=es` } : {}) });
  const en = (cookie?: string) => ({ 'accept-language': 'en-US', ...(cookie ? { cookie: `${cookie}; carepost_lang=en` } : {}) });
  const link = (purpose: LinkPurpose, patientId: string, context: Record<string, string> = {}) =>
    mintLink(linkKeyring(dev.config.secrets.LINK_SIGNING_SECRET), { purpose, orgId: org.id, patientId, context, now: new Date(), linkId: randomUUID() });

  async function sendMessage(patientId: string) {
    const result = await db.transaction((tx) =>
      enqueueMessage(tx, vaultRing(dev.config), {
        orgId: org.id,
        category: 'treatment',
        content: { subject: 'Resultados de laboratorio', text: 'Sus resultados están listos.' },
        attachments: [{ name: 'resultados.pdf', contentType: 'application/pdf', content: Buffer.alloc(2048, 1) }],
        recipients: [{ patientId, channels: ['portal'] }],
        actor: { type: 'system' },
        now: new Date(),
      }),
    );
    if (!result.ok) throw new Error('not enqueued');
    await db.update(deliveries).set({ status: 'sent', decision: 'allow', route: 'portal', sentAt: new Date() }).where(inArray(deliveries.id, result.deliveryIds));
    return result;
  }

  type Check = { path: string; status: number; es: string[]; en: string[]; signedIn: boolean };
  let checks: Check[] = [];
  let cookie = '';
  let attachmentPath = '';

  beforeAll(async () => {
    const { patient } = await createTestPatient(handle, org.id);
    // A fresh session: the contact, passkey and key pages need a verification from the last few minutes (SE5).
    cookie = await sessionFor(patient.id);
    const [point] = await db.select().from(contactPoints).where(and(eq(contactPoints.orgId, org.id), eq(contactPoints.patientId, patient.id)));
    await db.insert(contactPoints).values({ orgId: org.id, patientId: patient.id, kind: 'sms', value: '+15555550142', source: 'patient', verifiedAt: new Date() });
    const sent = await sendMessage(patient.id);
    const gone = await sendMessage(patient.id);
    await retractMessage(db, { orgId: org.id, messageId: gone.messageId, actor: { type: 'organisation' }, now: new Date() });
    const message = await (await dev.fetch(`/o/${org.slug}/messages/${sent.messageId}`, { headers: es(cookie) })).text();
    attachmentPath = new RegExp(`/o/${org.slug}/messages/${sent.messageId}/attachments/[0-9a-f-]{36}`).exec(message)![0].replace(sent.messageId, gone.messageId);

    const { topic, text } = await publishedTopic(handle, org.id);
    await setTopicTranslation(db, { orgId: org.id, topicId: topic.id, locale: 'es', name: 'Noticias de bienestar', description: 'Noticias sobre programas de bienestar.', now: new Date() });
    const signed = await post(`/o/${org.slug}/choices/${topic.key}/sign`, { textId: text.id, translationId: '', signatureName: 'Pat Example', confirm: 'yes', channels: 'email' }, cookie);
    expect(signed.status).toBe(303);
    // A second topic the organisation has not translated: its name stays English, marked lang="en".
    await publishedTopic(handle, org.id);
    const signedOut = false;
    checks = [
      { path: `/o/${org.slug}/messages/${sent.messageId}`, status: 200, es: ['Todos los mensajes', 'Responder a', 'Quién abrió este mensaje', '(PDF, 2 KB)', 'Un navegador en un sistema desconocido'], en: ['All messages', 'Who opened this message', 'Send reply'], signedIn: true },
      { path: `/o/${org.slug}/messages/${gone.messageId}`, status: 410, es: ['El remitente retiró este mensaje', 'lo envió el'], en: ['This message was withdrawn by the sender'], signedIn: true },
      { path: `/o/${org.slug}/messages/access`, status: 200, es: ['Quién abrió sus mensajes', 'Verificado con', 'un código enviado por correo electrónico'], en: ['Who opened your messages', 'Verified with'], signedIn: true },
      { path: `/o/${org.slug}/contacts/new`, status: 200, es: ['¿Qué desea agregar?', 'Enviar un código'], en: ['What do you want to add?', 'Send a code'], signedIn: true },
      { path: `/o/${org.slug}/contacts/${point!.id}/remove`, status: 200, es: ['¿Eliminar este correo electrónico?', 'Sí, eliminarlo'], en: ['Remove this email address?', 'Yes, remove it'], signedIn: true },
      { path: `/o/${org.slug}/contacts/${randomUUID()}/remove`, status: 404, es: ['No encontramos esos datos de contacto'], en: ['Contact details not found'], signedIn: true },
      { path: `/o/${org.slug}/passkeys`, status: 200, es: ['Sus llaves de acceso', 'Todavía no tiene llaves de acceso.'], en: ['Your passkeys', 'You have no passkeys yet.'], signedIn: true },
      { path: `/o/${org.slug}/passkeys/new`, status: 200, es: ['Nombre de esta llave de acceso', 'Crear la llave de acceso'], en: ['Name for this passkey', 'Create passkey'], signedIn: true },
      { path: `/o/${org.slug}/encryption`, status: 200, es: ['Correo electrónico cifrado', 'Su clave pública', 'Guardar la clave'], en: ['Encrypted email', 'Your public key', 'Save key'], signedIn: true },
      { path: `/o/${org.slug}/preferences`, status: 200, es: ['Cómo nos comunicamos con usted'], en: ['How we contact you'], signedIn: true },
      // Signed links, opened by a visitor who is not signed in: the browser's language decides.
      { path: `/o/${org.slug}/m/${await link('pickup', patient.id, { deliveryId: sent.deliveryIds[0]! })}`, status: 200, es: ['Tiene un mensaje seguro de', 'Enviarme un código'], en: ['You have a secure message from', 'Send me a code'], signedIn: signedOut },
      { path: `/o/${org.slug}/m/not-a-token`, status: 404, es: ['Este enlace no funciona', 'Iniciar sesión para leer sus mensajes'], en: ['This link does not work', 'Sign in to read your messages'], signedIn: signedOut },
      { path: `/o/${org.slug}/p/${await link('preferences', patient.id)}`, status: 200, es: ['Sus preferencias con', '<h2>Noticias de bienestar</h2>', '<h2 lang="en">Wellness news</h2>', 'Retirar la autorización', 'Dejar de recibirlo por correo electrónico'], en: ['Your choices with', 'Revoke permission', 'Stop by email'], signedIn: signedOut },
      { path: `/o/${org.slug}/u/${await link('unsubscribe', patient.id, { topicId: topic.id, channel: 'email' })}`, status: 200, es: ['Cancelar la suscripción', '“<span>Noticias de bienestar</span>”', 'por correo electrónico'], en: ['Unsubscribe', 'by email'], signedIn: signedOut },
      { path: `/o/${org.slug}/r/not-a-token`, status: 404, es: ['Este enlace no funciona', 'Inicie sesión para renovar'], en: ['This link does not work', 'Sign in to renew'], signedIn: signedOut },
      { path: `/o/${org.slug}/no/such/page`, status: 404, es: ['No encontramos esta página'], en: ['Page not found'], signedIn: signedOut },
    ];
  });

  it('each page renders in Spanish with no English left, and in English', async () => {
    for (const check of checks) {
      const spanish = await dev.fetch(check.path, { headers: es(check.signedIn ? cookie : undefined) });
      expect(spanish.status, check.path).toBe(check.status);
      const html = await spanish.text();
      expect(html, check.path).toContain('<html lang="es"');
      for (const words of check.es) expect(html, check.path).toContain(words);
      expect(englishLeft(html), check.path).toEqual([]);

      const english = await dev.fetch(check.path, { headers: en(check.signedIn ? cookie : undefined) });
      expect(english.status, check.path).toBe(check.status);
      const englishHtml = await english.text();
      expect(englishHtml, check.path).toContain('<html lang="en"');
      for (const words of check.en) expect(englishHtml, check.path).toContain(words);
    }
  });

  it('the checker finds English: it is not vacuous', () => {
    expect(englishLeft('<main><h1>Your passkeys</h1><button aria-label="Remove it">Quitar</button></main>')).toEqual(['Your passkeys', 'Remove it']);
    expect(englishLeft('<main><h1>Sus llaves de acceso</h1></main>')).toEqual([]);
  });

  it('400 field errors come back in Spanish: a bad contact point, a bad PGP key, a bad reply', async () => {
    const badContact = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', kind: 'email', value: 'not-an-address' }, `${cookie}; carepost_lang=es`);
    expect(badContact.status).toBe(400);
    const contactHtml = await badContact.text();
    expect(contactHtml).toContain('Escriba un correo electrónico con el formato correcto');
    expect(englishLeft(contactHtml)).toEqual([]);
    const yours = await post(`/o/${org.slug}/contacts/new`, { intent: 'send', kind: 'sms', value: '+15555550142' }, `${cookie}; carepost_lang=es`);
    expect(yours.status).toBe(400);
    expect(await yours.text()).toContain('Este número de celular ya está en su cuenta.');
    const badCode = await post(`/o/${org.slug}/contacts/new`, { intent: 'verify', kind: 'email', value: 'new@example.com', code: '12' }, `${cookie}; carepost_lang=es`);
    expect(badCode.status).toBe(400);
    const codeHtml = await badCode.text();
    expect(codeHtml).toContain('Escriba el código de 6 dígitos que enviamos');
    // The code step uses the shared CodeField: numeric keypad and the OS's one-time-code autofill.
    expect(codeHtml).toMatch(/<input[^>]*id="code"[^>]*autoComplete="one-time-code"|<input[^>]*autocomplete="one-time-code"[^>]*id="code"/i);

    const badKey = await post(`/o/${org.slug}/encryption`, { intent: 'save', publicKey: 'not a key' }, `${cookie}; carepost_lang=es`);
    expect(badKey.status).toBe(400);
    const keyHtml = await badKey.text();
    expect(keyHtml).toContain('Esto no parece ser una clave pública OpenPGP.');
    expect(englishLeft(keyHtml)).toEqual([]);
    const emptyKey = await post(`/o/${org.slug}/encryption`, { intent: 'save', publicKey: ' ' }, `${cookie}; carepost_lang=en`);
    expect(await emptyKey.text()).toContain('Paste your public key into the box.');

    const messageId = /\/o\/[^/]+\/messages\/([0-9a-f-]{36})"/.exec(await (await dev.fetch(`/o/${org.slug}/messages`, { headers: es(cookie) })).text())![1]!;
    const badReply = await post(`/o/${org.slug}/messages/${messageId}`, { intent: 'reply', reply: '   ' }, `${cookie}; carepost_lang=es`);
    expect(badReply.status).toBe(400);
    expect(await badReply.text()).toContain('Escriba su respuesta antes de enviarla.');
  });

  it('passkey JSON errors are in the patient’s language', async () => {
    const json = (path: string, body: unknown, lang: 'es' | 'en', withCookie = true) =>
      dev.fetch(path, {
        method: 'POST',
        headers: { ...formHeaders(withCookie ? `${cookie}; carepost_lang=${lang}` : undefined), 'content-type': 'application/json', 'accept-language': lang },
        body: JSON.stringify(body),
      });
    const unknown = await json(`/o/${org.slug}/passkeys/register`, { intent: 'nothing' }, 'es');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ error: 'Solicitud desconocida.' });
    const slow = await json(`/o/${org.slug}/passkeys/register`, { intent: 'finish', name: 'Mi teléfono', response: {} }, 'es');
    expect(slow.status).toBe(400);
    expect((await slow.json()).error).toBe('Tardó demasiado. Vuelva a intentarlo.');
    // Signing in: no session, the browser's language.
    const signIn = await json(`/o/${org.slug}/sign-in/passkey`, { intent: 'finish', response: {} }, 'es', false);
    expect(signIn.status).toBe(400);
    expect((await signIn.json()).error).toBe('Tardó demasiado. Vuelva a intentarlo.');
    const english = await json(`/o/${org.slug}/sign-in/passkey`, { intent: 'finish', response: {} }, 'en', false);
    expect((await english.json()).error).toBe('That took too long. Please try again.');
  });

  it('text answers (a withdrawn message’s attachment, a missing record) are in the page’s language', async () => {
    const attachment = await dev.fetch(attachmentPath, { headers: es(cookie) });
    expect(attachment.status).toBe(410);
    expect(await attachment.text()).toContain('Este mensaje ya no está disponible');
    const record = await dev.fetch(`/o/${org.slug}/choices/record/${randomUUID()}/download`, { headers: es(cookie) });
    expect(record.status).toBe(404);
    expect(await record.text()).toBe('No encontramos esta página');
  });
});
