import { e2e } from '../../playwright.config';
import { mailSnapshot, waitForCode } from '../support/mailbox';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, signInThroughUi } from './patients';

test('SE2: an accessible "still there?" warning before the idle timeout; staying keeps the session, silence signs out', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await page.clock.install();
    await signInThroughUi(page, patient.email);
    await expect(page.getByRole('alertdialog')).toHaveCount(0);

    await page.clock.fastForward('13:30');
    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole('button', { name: 'Stay signed in' })).toBeFocused();
    await expectAxeClean(page);
    await page.keyboard.press('Enter');
    await expect(dialog).toHaveCount(0);

    await page.clock.fastForward('15:30');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');
    await expect(page.getByText('nothing happened for 15 minutes')).toBeVisible();
    await page.goto('/o/riverside/account');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
  } finally {
    await patient.remove();
  }
});

test('SE5: the step-up page is accessible and returns to where the patient was', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await signInThroughUi(page, patient.email);
    await page.goto('/o/riverside/verify?returnTo=/o/riverside/account');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Confirm it is you');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expectAxeClean(page);
    const ignore = await mailSnapshot(e2e.dataDir);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await expect(page.getByLabel('6-digit code')).toBeVisible();
    await expectAxeClean(page);
    await page.getByLabel('6-digit code').fill(await waitForCode(e2e.dataDir, patient.email, { ignore }));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Signed in as ${patient.displayName}`);
  } finally {
    await patient.remove();
  }
});

test('OT5: the "code plus date of birth" step is accessible and records the stronger verification', async ({ page }) => {
  const patient = await createE2ePatient({ dateOfBirth: '1990-07-14' });
  try {
    await signInThroughUi(page, patient.email);
    await page.goto('/o/riverside/verify?returnTo=/o/riverside/account&level=code_dob');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    const ignore = await mailSnapshot(e2e.dataDir);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await page.getByLabel('6-digit code').fill(await waitForCode(e2e.dataDir, patient.email, { ignore }));
    const dob = page.getByRole('group', { name: 'Your date of birth' });
    await dob.getByLabel('Day').fill('14');
    await dob.getByLabel('Month').fill('7');
    await dob.getByLabel('Year').fill('1990');
    await expectAxeClean(page);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect(page.getByText('You proved who you are with a code and your date of birth.')).toBeVisible();
  } finally {
    await patient.remove();
  }
});
