// Logo upload in Chromium (issue 8, ADR 016): an owner uploads an SVG logo by keyboard on the settings page (axe-clean,
// no CSP violation), and the organisation's patient landing page shows it. Desktop only: the page is the same on
// mobile and the upload is covered over HTTP in test/integration/admin-logo-http.test.ts.
import { randomBytes } from 'node:crypto';
import { connect } from '../../db/client';
import { organisations } from '../../db/schema/index';
import { runningEmbeddedUrl } from '../../server/runtime/database';
import { e2e } from '../../playwright.config';
import { signInAdminWithCookie } from './admins';
import { expect, expectAxeClean, test } from './fixtures';

const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="Lakeside"><circle cx="32" cy="32" r="30" fill="#1f5f8b"/><script>alert(1)</script></svg>`;

/** An organisation of its own, so the demo organisation's logo (checked by the landing test) stays as it is. */
async function newOrganisation(): Promise<string> {
  const handle = connect(runningEmbeddedUrl(e2e.dataDir)!, { max: 1 });
  try {
    const [org] = await handle.db.insert(organisations).values({ slug: `logo-${randomBytes(3).toString('hex')}`, name: 'Lakeside Clinic' }).returning();
    return org!.slug;
  } finally {
    await handle.close();
  }
}

test('an owner uploads a logo by keyboard and patients see it on the landing page', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'one run is enough: the form is the same on mobile');
  const slug = await newOrganisation();
  await signInAdminWithCookie(page, 'owner', slug);
  await page.goto(`/admin/${slug}/settings`);
  await expect(page.getByText('No logo yet')).toBeVisible();

  const input = page.getByLabel('Logo file (SVG)');
  await input.focus();
  await expect(input).toBeFocused();
  // The file chooser itself is the operating system's; Playwright fills it as a keyboard user's choice would.
  await input.setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(LOGO) });
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Upload logo' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByText('Logo saved.')).toBeVisible();
  const preview = page.getByAltText('Your current logo');
  await expect(preview).toBeVisible();
  expect(await preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await expectAxeClean(page);

  await page.goto(`/o/${slug}`);
  const logo = page.locator('.org-header__logo');
  await expect(logo).toBeVisible();
  expect(await logo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  const served = await page.request.get(`/o/${slug}/logo.svg`);
  expect(await served.text()).not.toContain('script');
});
