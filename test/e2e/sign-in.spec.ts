import type { Page } from '@playwright/test';
import { e2e } from '../../playwright.config';
import { mailSnapshot, waitForCode } from '../support/mailbox';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient } from './patients';

async function tabTo(page: Page, id: string) {
  for (let i = 0; i < 15; i++) {
    if ((await page.evaluate(() => document.activeElement?.id)) === id) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`could not reach #${id} with the Tab key`);
}

test('a patient signs in with a code from the real mail, by keyboard alone, and signs out leaving nothing behind', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await page.goto('/o/riverside');
    await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expectAxeClean(page);

    // A mistake first: the error is tied to the field and announced.
    await tabTo(page, 'contact');
    await page.keyboard.type('not an address');
    await page.keyboard.press('Enter');
    const contact = page.getByLabel('Email address or mobile number');
    await expect(contact).toHaveAttribute('aria-invalid', 'true');
    await expect(page.locator('#contact-error')).toContainText('Enter an email address');
    await expectAxeClean(page);

    const ignore = await mailSnapshot(e2e.dataDir);
    await contact.fill('');
    await tabTo(page, 'contact');
    await page.keyboard.type(patient.email);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Enter your code');
    const codeInput = page.getByLabel('6-digit code');
    await expect(codeInput).toHaveAttribute('autocomplete', 'one-time-code');
    await expectAxeClean(page);

    const code = await waitForCode(e2e.dataDir, patient.email, { ignore });
    await tabTo(page, 'code');
    await page.keyboard.type(code);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Signed in as ${patient.displayName}`);
    await expect(page.getByText('(this browser)')).toBeVisible();
    await expectAxeClean(page);

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');
    await expectAxeClean(page);

    // PW2, SE3: Back shows nothing private; the page is fetched again and sends the visitor to sign in.
    await page.goBack();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
    await expect(page.getByText(patient.displayName)).toHaveCount(0);
    // No session cookie survives (the sign-in page may hold a passkey-challenge id for autofill: nothing private).
    expect((await page.context().cookies()).filter((c) => !c.name.endsWith('carepost_webauthn'))).toEqual([]);
  } finally {
    await patient.remove();
  }
});

test('OT3: a code asked for in one browser does not work in another', async ({ browser, page }) => {
  const patient = await createE2ePatient();
  const other = await browser.newContext();
  try {
    const ignore = await mailSnapshot(e2e.dataDir);
    await page.goto('/o/riverside/sign-in');
    await page.getByLabel('Email address or mobile number').fill(patient.email);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Enter your code');
    const code = await waitForCode(e2e.dataDir, patient.email, { ignore });

    const stranger = await other.newPage();
    await stranger.goto(`${e2e.baseURL}/o/riverside/sign-in/code`);
    await stranger.getByLabel('6-digit code').fill(code);
    await stranger.getByRole('button', { name: 'Sign in' }).click();
    await expect(stranger.getByRole('alert')).toContainText('asked for in another browser');

    // The code still works where it was asked for.
    await page.getByLabel('6-digit code').fill(code);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Signed in as ${patient.displayName}`);
  } finally {
    await other.close();
    await patient.remove();
  }
});
