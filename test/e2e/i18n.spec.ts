// Issue 9, item 3: the Spanish sign-in and choices flows end to end (the code read from the real mail), the language
// switcher by keyboard, and an axe scan of the patient pages in English and Spanish.
import type { Page } from '@playwright/test';
import { and, eq } from 'drizzle-orm';
import { patients } from '../../db/schema/index';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { e2e } from '../../playwright.config';
import { mailSnapshot } from '../support/mailbox';
import { expect, expectAxeClean, test } from './fixtures';
import { enqueuePortalMessage, removeMessages } from './messages';
import { createE2ePatient, mintE2eLink, signInThroughUi } from './patients';

/** The code from the real mail, and the mail's subject, so the test can see the language it was written in. */
async function waitForCodeMail(to: string, ignore: Set<string>): Promise<{ code: string; subject: string; text: string }> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const summary of await listMail(e2e.dataDir)) {
      if (!summary.to.includes(to) || ignore.has(summary.id)) continue;
      const mail = await readMail(e2e.dataDir, summary.id);
      const match = /(?:Your code is|Su código es) (\d{6})/.exec(mail?.text ?? '');
      if (match) return { code: match[1]!, subject: mail!.subject, text: mail!.text };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no code mail for ${to}`);
}

/** Tabs to a control, as a keyboard user would, failing if it is not in the tab order. */
async function tabTo(page: Page, name: string) {
  for (let i = 0; i < 15; i++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement?.textContent?.trim())) === name) return;
  }
  throw new Error(`${name} is not reachable with Tab`);
}

test('Spanish: switch by keyboard, sign in with the code from a Spanish email, give and revoke a permission', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'the journey is the same at both sizes; the axe sweep below covers the phone layout in both languages');
  test.slow(); // a whole journey: sign-in, signing and revoking, each page checked with axe
  const patient = await createE2ePatient();
  try {
    await page.goto('/o/riverside/sign-in');
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByRole('form', { name: 'Language / Idioma' })).toBeVisible();
    await tabTo(page, 'Español');
    await page.keyboard.press('Enter');
    await expect(page.locator('html')).toHaveAttribute('lang', 'es');
    await expect(page).toHaveURL(/\/o\/riverside\/sign-in$/); // nothing about the language in the URL
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Iniciar sesión');
    await expect(page.getByRole('button', { name: 'Español' })).toHaveAttribute('aria-current', 'true');
    await expectAxeClean(page);

    // Wrong input: the error is in Spanish and tied to the field.
    await page.getByLabel('Correo electrónico o número de celular').fill('no es una dirección');
    await page.getByRole('button', { name: 'Enviarme un código' }).click();
    await expect(page.getByLabel('Correo electrónico o número de celular')).toHaveAccessibleDescription(/Escriba un correo electrónico o un número de celular/);

    const ignore = await mailSnapshot(e2e.dataDir);
    await page.getByLabel('Correo electrónico o número de celular').fill(patient.email);
    await page.getByRole('button', { name: 'Enviarme un código' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Escriba su código');
    const mail = await waitForCodeMail(patient.email, ignore);
    expect(mail.subject).toBe('Su código para iniciar sesión en Riverside Family Clinic');
    expect(mail.text).toContain('Funciona una sola vez');
    const codeInput = page.getByLabel('Código de 6 dígitos');
    await expect(codeInput).toHaveAttribute('autocomplete', 'one-time-code');
    await expect(codeInput).toHaveAttribute('inputmode', 'numeric');
    await expect(codeInput).toHaveAccessibleDescription(/Escriba los 6 números/);
    await expectAxeClean(page);
    await codeInput.fill(mail.code);
    await page.getByRole('button', { name: 'Iniciar sesión', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Sesión iniciada como ${patient.displayName}`);

    // Signing in stored the choice on the patient: notices follow it.
    const { patients } = await import('../../db/schema/index');
    const { and, eq } = await import('drizzle-orm');
    const [row] = await patient.db.select({ locale: patients.locale }).from(patients).where(and(eq(patients.orgId, patient.orgId), eq(patients.id, patient.id)));
    expect(row!.locale).toBe('es');

    await page.getByRole('navigation', { name: 'Sus páginas' }).getByRole('link', { name: 'Mis autorizaciones' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Mis autorizaciones');
    await expect(page.getByText('Nunca otorgada')).toHaveCount(3);
    await page.getByRole('link', { name: 'Dar autorización: Boletín de bienestar' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Dar autorización: Boletín de bienestar');
    // The organisation's Spanish translation of the text, not the English original.
    await expect(page.getByRole('heading', { level: 2, name: 'Autorización para mercadeo: Boletín de bienestar' })).toBeVisible();
    await expect(page.getByRole('heading', { level: 3, name: 'Su derecho a retirarla' })).toBeVisible();
    await expectAxeClean(page);
    await page.getByLabel('Escriba su nombre completo para firmar').fill(patient.displayName);
    await page.getByRole('checkbox', { name: /Leí esta autorización/ }).check();
    await page.getByRole('button', { name: 'Firmar y dar autorización' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Su autorización firmada: Wellness newsletter');
    await expect(page.getByRole('status')).toHaveText('Gracias. Su autorización quedó registrada.');
    await expect(page.getByText('Idioma en que se leyó y firmó')).toBeVisible();
    await expectAxeClean(page);

    await page.getByRole('link', { name: 'Volver a mis autorizaciones' }).click();
    await expect(page.getByText(/^Vigente hasta el \d+ de \w+ de \d{4}$/)).toBeVisible();
    await page.getByRole('link', { name: 'Revocar: Boletín de bienestar' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Revocar autorización: Boletín de bienestar');
    await page.getByRole('button', { name: 'Sí, revocar mi autorización' }).click();
    await expect(page.getByRole('status')).toHaveText(/Su autorización quedó revocada/);
    await expect(page.getByText(/^Revocada el /)).toBeVisible();

    // A preference change, with its confirmation in Spanish.
    await page.getByRole('link', { name: 'Cómo y con qué frecuencia nos comunicamos con usted' }).click();
    await page.getByRole('checkbox', { name: 'Usar horario sin avisos' }).check();
    await page.getByRole('button', { name: 'Guardar mis preferencias' }).click();
    // The page has a second status line, the push opt-in's.
    await expect(page.getByRole('status').filter({ hasText: 'Sus preferencias quedaron guardadas. Se aplican a partir del próximo mensaje.' })).toBeVisible();
  } finally {
    await patient.remove();
  }
});

// ADR 022: a page loads only its own language's words. Signing in with a stored language changes the page's language
// without a reload (the code form is a client-side submission and the redirect sets the language cookie), so the
// other language's chunk is fetched then, and the page must end up wholly in it.
test('a stored Spanish preference takes over after an English sign-in, without a reload, in Spanish words throughout', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await patient.db.update(patients).set({ locale: 'es' }).where(and(eq(patients.orgId, patient.orgId), eq(patients.id, patient.id)));
    const chunks: string[] = [];
    page.on('request', (request) => {
      const match = /\/ui-(en|es)-[A-Z0-9]+\.js$/.exec(new URL(request.url()).pathname);
      if (match) chunks.push(match[1]!);
    });
    const ignore = await mailSnapshot(e2e.dataDir);
    await page.goto('/o/riverside/sign-in');
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    expect(chunks).toEqual(['en']);
    await page.getByLabel('Email address or mobile number').fill(patient.email);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Enter your code');
    const mail = await waitForCodeMail(patient.email, ignore);
    expect(mail.text).toContain('Su código es'); // notices follow the stored language
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    await page.getByLabel('6-digit code').fill(mail.code);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Sesión iniciada como ${patient.displayName}`);
    await expect(page.locator('html')).toHaveAttribute('lang', 'es');
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), 'the page was not reloaded').toBe(true);
    expect(chunks).toEqual(['en', 'es']);
    await expect(page.getByRole('button', { name: 'Cerrar sesión' }).first()).toBeVisible();
    await expect(page.getByText(/^Signed in as|^Sign out$/)).toHaveCount(0);
    await expectAxeClean(page);
  } finally {
    await patient.remove();
  }
});

const SIGNED_OUT_ROUTES = ['/', '/o/riverside', '/o/riverside/sign-in', '/o/riverside/sign-in/code', '/o/riverside/signed-out?reason=timeout', '/no-such-page', '/o/no-such-clinic'];
const SIGNED_IN_ROUTES = [
  '/o/riverside/account',
  '/o/riverside/messages',
  '/o/riverside/messages/access',
  '/o/riverside/choices',
  '/o/riverside/choices/history',
  '/o/riverside/choices/partner-pharmacy/sign',
  '/o/riverside/preferences',
  '/o/riverside/deliveries',
  '/o/riverside/contacts',
  '/o/riverside/contacts/new',
  '/o/riverside/passkeys',
  '/o/riverside/passkeys/new',
  '/o/riverside/encryption',
  '/o/riverside/verify?returnTo=%2Fo%2Friverside%2Fcontacts%2Fnew',
];

// At phone size (mobile first): every route in Spanish, and in English the pages the phone-size patient journeys do not
// already scan (the shared frame with the switcher, the error pages). At desktop size, where the patient journeys do not
// run (ADR 020), every route in English. The message page and the signed preference and unsubscribe links are added
// per run, since they need a message and links minted for this patient.
const ENGLISH_TOO = new Set(['/', '/o/riverside', '/no-such-page', '/o/no-such-clinic', '/o/riverside/account', '/o/riverside/choices']);

test('axe: every patient page in Spanish and English, with <html lang> following', async ({ page, context }, testInfo) => {
  test.setTimeout(300_000); // about 30 scans on two shared cores
  const desktop = testInfo.project.name === 'desktop';
  const scan = async (path: string, locale: 'en' | 'es') => {
    await context.addCookies([{ name: 'carepost_lang', value: locale, url: e2e.baseURL }]);
    const response = await page.goto(path);
    expect(response, path).not.toBeNull();
    await expect(page.locator('html'), path).toHaveAttribute('lang', locale);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expectAxeClean(page);
  };
  const locales = (path: string): readonly ('en' | 'es')[] => (desktop ? ['en'] : ENGLISH_TOO.has(path) ? ['es', 'en'] : ['es']);
  for (const path of SIGNED_OUT_ROUTES) for (const locale of locales(path)) await scan(path, locale);
  const patient = await createE2ePatient();
  try {
    const messageId = await enqueuePortalMessage(patient, { subject: 'Your results are ready', text: 'Please read the letter from your care team.' });
    const linkRoutes = [await mintE2eLink(patient.id, 'preferences'), await mintE2eLink(patient.id, 'unsubscribe', { topicKey: 'partner-pharmacy', channel: 'email' })];
    for (const path of linkRoutes) for (const locale of locales(path)) await scan(path, locale);
    await context.addCookies([{ name: 'carepost_lang', value: 'en', url: e2e.baseURL }]);
    await signInThroughUi(page, patient.email);
    const signedIn = [...SIGNED_IN_ROUTES, `/o/riverside/messages/${messageId}`];
    for (const path of signedIn) for (const locale of locales(path)) await scan(path, locale);
  } finally {
    await removeMessages(patient);
    await patient.remove();
  }
});
