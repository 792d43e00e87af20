// Admin settings in Chromium: every section is axe-clean, forms work by keyboard, and a new API key is shown once.
import { signInAdminWithCookie } from './admins';
import { expect, expectAxeClean, test } from './fixtures';

const BASE = '/admin/riverside/settings';

test('every settings section is axe-clean for the owner, and a field error is announced and linked', async ({ page }) => {
  test.setTimeout(90_000); // five pages, five axe scans
  await signInAdminWithCookie(page, 'owner');
  for (const [path, heading] of [
    ['', 'Settings'],
    ['/domains', 'TLS-enforced domains'],
    ['/dkim', 'DKIM signing'],
    ['/api-keys', 'API keys'],
    ['/webhooks', 'Webhooks'],
  ]) {
    await page.goto(`${BASE}${path}`);
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    await expectAxeClean(page);
  }

  await page.goto(`${BASE}/domains`);
  await page.getByLabel('Domain').fill('not a domain');
  await page.getByLabel('Domain').press('Enter');
  await expect(page.getByText('Enter a domain name, such as example.org.')).toBeVisible();
  await expect(page.getByLabel('Domain')).toHaveAttribute('aria-invalid', 'true');
  await expectAxeClean(page);
});

test('an API key is created by keyboard, shown once, and listed by its prefix afterwards', async ({ page }) => {
  await signInAdminWithCookie(page, 'owner');
  await page.goto(`${BASE}/api-keys`);
  const name = `E2E key ${Date.now()}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel(/^Consent:/).check();
  await page.getByRole('button', { name: 'Create key' }).focus();
  await page.keyboard.press('Enter');
  const shown = page.getByTestId('new-api-key');
  await expect(shown).toHaveText(/^cpk_[a-z0-9]{12}_/);
  const key = (await shown.textContent())!;
  await expectAxeClean(page);
  await page.reload();
  await expect(page.getByTestId('new-api-key')).toHaveCount(0);
  await expect(page.getByRole('cell', { name, exact: true })).toBeVisible();
  expect(await page.content()).not.toContain(key);
});

test('a marketer is refused settings', async ({ page }) => {
  await signInAdminWithCookie(page, 'marketer');
  const res = await page.goto(BASE);
  expect(res?.status()).toBe(403);
});

test('patient support is axe-clean before and after a search, and finds a patient by reference', async ({ page }) => {
  const { createE2ePatient } = await import('./patients');
  const patient = await createE2ePatient();
  try {
    await signInAdminWithCookie(page, 'support');
    await page.goto('/admin/riverside/support');
    await expectAxeClean(page);
    await page.getByLabel('Email address, mobile number or patient reference').fill(patient.email);
    await page.getByRole('button', { name: 'Find patient' }).click();
    await expect(page.getByRole('heading', { level: 2, name: patient.displayName })).toBeVisible();
    expect(page.url()).not.toContain('e2e-');
    await expectAxeClean(page);
  } finally {
    await patient.remove();
  }
});
