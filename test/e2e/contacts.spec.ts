import { randomBytes } from 'node:crypto';
import type { Locator, Page } from '@playwright/test';
import { e2e } from '../../playwright.config';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { mailSnapshot, waitForCode } from '../support/mailbox';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, signInThroughUi } from './patients';

/** Moves focus with the Tab key alone until `target` has it. */
async function tabTo(page: Page, target: Locator) {
  for (let i = 0; i < 40; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error('could not reach the element with the Tab key');
}

test('SE5, OT6: a signed-in patient adds an email address with a code from the real mail, by keyboard, and sees it listed', async ({ page }) => {
  // A whole sign-in, two forms and five axe scans: about 15 s on a quiet machine, but 40-50 s on a loaded one.
  test.slow();
  const patient = await createE2ePatient();
  const added = `e2e-added-${randomBytes(4).toString('hex')}@example.org`;
  try {
    await signInThroughUi(page, patient.email);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');

    await tabTo(page, page.getByRole('link', { name: 'Manage your contact details' }));
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your contact details');
    const list = page.getByRole('list', { name: 'Contact details' });
    await expect(list.getByRole('listitem')).toHaveCount(1);
    await expect(list).toContainText(patient.email);
    await expect(list).toContainText('Verified');
    await expect(list.getByRole('link', { name: `Remove ${patient.email}` })).toBeVisible();
    await expectAxeClean(page);

    // Signed in a moment ago, so the step-up is already satisfied (SE5 allows five minutes).
    await tabTo(page, page.getByRole('link', { name: 'Add an email address or mobile number' }));
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Add an email address or mobile number');
    await expect(page.getByRole('radio', { name: 'Email address' })).toBeChecked();
    await expectAxeClean(page);

    // A mistake first: the error is tied to the field and announced.
    await tabTo(page, page.getByLabel('New email address'));
    await page.keyboard.type('not-an-address');
    await page.keyboard.press('Enter');
    const field = page.getByLabel('New email address');
    await expect(field).toHaveAttribute('aria-invalid', 'true');
    await expect(page.locator('#value-error')).toContainText('Enter an email address in the right format');
    await expectAxeClean(page);

    const ignore = await mailSnapshot(e2e.dataDir);
    await field.fill('');
    await tabTo(page, field);
    await page.keyboard.type(added);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Enter the code');
    await expect(page.getByRole('status')).toContainText(added);
    const codeInput = page.getByLabel('6-digit code');
    await expect(codeInput).toBeFocused();
    await expect(codeInput).toHaveAttribute('autocomplete', 'one-time-code');
    await expectAxeClean(page);

    const code = await waitForCode(e2e.dataDir, added, { ignore });
    await page.keyboard.type(code);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your contact details');
    await expect(page.getByRole('status')).toContainText('Added.');
    await expect(list.getByRole('listitem')).toHaveCount(2);
    await expect(list.getByRole('listitem').filter({ hasText: added })).toContainText('Verified');
    await expectAxeClean(page);

    // The address that was already on record is told, with the new one masked.
    await expect
      .poll(async () => {
        for (const m of await listMail(e2e.dataDir)) {
          if (!ignore.has(m.id) && m.to.includes(patient.email) && m.subject.includes('contact details changed')) return (await readMail(e2e.dataDir, m.id))?.text ?? '';
        }
        return '';
      })
      .toContain('A new email address was added to your');
  } finally {
    await patient.remove();
  }
});
