// The admin console's evidence pages in Chromium (issue 8, parts 4, 7 and 8): an owner creates a topic, is refused
// publishing a draft that lacks an element (AV3; focus moves to the error summary), fixes it and publishes; the preview
// is the text the patient then reads on the signing page; then the dashboard, and the audit log filtered, exported and
// verified (AU2). Its own organisation, so the demo organisation's topics stay as other specs expect them.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect } from '../../db/client';
import { contactPoints, organisations, patients } from '../../db/schema/index';
import { runningEmbeddedUrl } from '../../server/runtime/database';
import { e2e } from '../../playwright.config';
import { signInAdminWithCookie } from './admins';
import { expect, expectAxeClean, test } from './fixtures';
import { signInThroughUi } from './patients';

const ELEMENTS: [string, string][] = [
  ['What information', 'Your name, email address, and the services you used with us in the last two years.'],
  ['Who uses or discloses it', 'Harbour Clinic uses this information.'],
  ['Who receives it', 'Harbour Clinic and its mailing partner, Mailwell Inc., receive it.'],
  ['Why', 'To send you news about our wellness programs. This is marketing.'],
  ['When this permission ends', 'This permission ends 24 months after you sign, or sooner if you take it back.'],
  ['Your right to take it back', 'You can take this permission back at any time. Use the link in any message, or your choices page.'],
  ['Your care does not depend on this', 'Your treatment, payment and eligibility for benefits do not depend on whether you sign.'],
  ['Further sharing', 'Once shared, the recipient may share the information again. It may then no longer be protected by federal privacy law.'],
];

async function organisationWithPatient() {
  const handle = connect(runningEmbeddedUrl(e2e.dataDir)!, { max: 1 });
  const tag = randomBytes(4).toString('hex');
  const [org] = await handle.db
    .insert(organisations)
    .values({ slug: `harbour-${tag}`, name: 'Harbour Clinic', brandColor: '#1f5f8b', timeZone: 'America/New_York' })
    .returning();
  const email = `harbour-${tag}@example.com`;
  const [patient] = await handle.db.insert(patients).values({ orgId: org!.id, externalRef: `h-${tag}`, displayName: `Sam Harbour-${tag}` }).returning();
  await handle.db.insert(contactPoints).values({ orgId: org!.id, patientId: patient!.id, kind: 'email', value: email, source: 'organisation', verifiedAt: new Date() });
  await handle.close();
  return { slug: org!.slug, tag, email, displayName: patient!.displayName };
}

test('AV3, AV2, AU2: create a topic, publish after a refused draft, preview as the patient sees it, then dashboard, audit search, export and verify', async ({ page }) => {
  test.setTimeout(240_000); // a long journey through every evidence page, each checked with axe
  const { slug, tag, email, displayName } = await organisationWithPatient();
  await signInAdminWithCookie(page, 'owner', slug);

  await page.goto(`/admin/${slug}/topics`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Topics and texts');
  await expect(page.getByText('There are no topics yet.')).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expectAxeClean(page);

  // A topic, after a refused first attempt.
  await page.getByRole('link', { name: 'New topic' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('New topic');
  await expectAxeClean(page);
  await page.getByLabel('Key').fill('Wellness News!');
  await page.getByRole('button', { name: 'Create topic' }).click();
  await expect(page.locator('.error-summary')).toBeFocused();
  await expect(page.getByLabel('Key')).toHaveAccessibleDescription(/Use lower-case letters/);
  await expectAxeClean(page);
  await page.getByLabel('Key').fill(`wellness-${tag}`);
  await page.getByLabel('Name patients see').fill('Wellness news');
  await page.getByLabel('Description').fill('News about our wellness programs.');
  await page.getByRole('button', { name: 'Create topic' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Wellness news');
  await expect(page.getByRole('status')).toContainText('Topic created.');
  await expectAxeClean(page);

  // A draft lacking "Further sharing": refused with the error by that field, focus on the summary, the draft kept.
  for (const [label, value] of ELEMENTS.slice(0, -1)) await page.getByLabel(label, { exact: true }).fill(value);
  await page.getByRole('button', { name: 'Publish' }).click();
  const summary = page.locator('.error-summary');
  await expect(summary).toBeFocused();
  await expect(summary).toContainText('Not published. The draft is saved');
  await expect(page.getByLabel('Further sharing', { exact: true })).toHaveAccessibleDescription(/Error: Say that the recipient may share the information further/);
  await expect(page.getByRole('heading', { name: 'Draft version 1' })).toBeVisible();
  await expectAxeClean(page);
  // The summary's link takes the keyboard user to the field.
  await summary.getByRole('link', { name: /Say that the recipient may share/ }).click();
  await expect(page).toHaveURL(/#redisclosure$/);

  // Fixed and published: the version is now read-only, and its text is the preview.
  await page.getByLabel('Further sharing', { exact: true }).fill(ELEMENTS[7]![1]);
  await page.getByRole('button', { name: 'Save draft' }).click();
  await expect(page.getByRole('status')).toContainText('Draft saved.');
  const preview = page.locator('.preview .auth-text');
  await expect(preview.getByRole('heading', { level: 2 })).toHaveText('Permission for marketing: Wellness news');
  const previewText = await preview.innerText();
  await expectAxeClean(page);
  await page.getByRole('button', { name: 'Publish' }).click();
  await expect(page.getByRole('status')).toContainText('Published.');
  await expect(page.getByRole('heading', { name: 'Version 1: published, read-only' })).toBeVisible();
  const published = page.locator('.auth-text').first();
  expect(await published.innerText()).toBe(previewText);
  await expectAxeClean(page);

  // Its Spanish words (issue 9): a refused empty name is announced, then the name is saved; the page is axe-clean.
  await page.getByRole('link', { name: 'Texts in other languages (Spanish)' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Español: Wellness news');
  await expectAxeClean(page);
  await page.getByRole('button', { name: 'Save name and description' }).click();
  await expect(page.locator('.error-summary')).toBeFocused();
  await expect(page.getByLabel('Name in Español')).toHaveAccessibleDescription(/Error: Enter the name patients see in this language/);
  await expectAxeClean(page);
  await page.getByLabel('Name in Español').fill('Noticias de bienestar');
  await page.getByRole('button', { name: 'Save name and description' }).click();
  await expect(page.getByRole('status')).toHaveText('Name and description saved.');
  await expect(page.getByLabel('Qué información (Español)')).toHaveAttribute('lang', 'es');

  // The patient's signing page shows exactly that text.
  await signInThroughUi(page, email, slug);
  await page.goto(`/o/${slug}/choices/wellness-${tag}/sign`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Give permission: Wellness news');
  expect(await page.locator('.auth-text').innerText()).toBe(previewText);

  // The dashboard: charts with their tables, no patient.
  await page.goto(`/admin/${slug}/compliance`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Compliance');
  await expect(page.getByRole('img', { name: /Bar chart of active authorisations per topic/ })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Active authorisations by topic' })).toContainText('Wellness news');
  await expect(page.getByText('Never verified.')).toBeVisible();
  await expect(page.locator('main')).not.toContainText(displayName);
  await expect(page.locator('main')).not.toContainText(email);
  await expectAxeClean(page);

  // The audit log: filter, export, verify.
  await page.getByRole('link', { name: 'Search, export or verify the audit log' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Audit log');
  await expectAxeClean(page);
  await page.getByLabel('Event type').fill('consent.text.');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/action=consent\.text\./);
  const results = page.getByRole('table');
  await expect(results).toContainText('consent.text.published');
  await expect(results).toContainText('consent.text.draft_created');
  await expect(results).not.toContainText('consent.topic.created');
  await expectAxeClean(page);

  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download these results as CSV' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(new RegExp(`^audit-${slug}-\\d{8}-\\d{6}\\.csv$`));
  const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
  expect(csv[0]).toBe('seq,occurred_at_utc,occurred_at_local,actor_type,actor_id,action,subject_type,subject_id,details,prev_hash,hash');
  expect(csv.slice(1).every((line) => /,consent\.text\.[a-z_]+,authorization_text,/.test(line))).toBe(true);
  expect(csv.some((line) => line.includes(',consent.text.published,'))).toBe(true);

  await page.getByRole('button', { name: 'Verify chain' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Chain intact.' })).toBeVisible();
  await expectAxeClean(page);
  await page.goto(`/admin/${slug}/compliance`);
  await expect(page.getByText(/^Intact/)).toBeVisible();
});
