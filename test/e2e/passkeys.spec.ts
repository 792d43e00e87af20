import type { CDPSession, Page } from '@playwright/test';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, signInThroughUi } from './patients';

/** Chromium's virtual authenticator over CDP: a platform authenticator with resident keys and user verification. */
async function virtualAuthenticator(page: Page, options: { isUserVerified?: boolean } = {}): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: options.isUserVerified ?? true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** A browser without passkey autofill: Chromium's virtual authenticator would otherwise answer autofill at once. */
async function withoutAutofill(page: Page) {
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
}

test('PK: a passkey is added after a code sign-in, then used with a username and without one', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await withoutAutofill(page);
    const { cdp, authenticatorId } = await virtualAuthenticator(page);
    await signInThroughUi(page, patient.email);
    await page.getByRole('link', { name: 'Add a passkey' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Add a passkey');
    await expect(page.getByRole('button', { name: 'Create passkey' })).toBeEnabled();
    await expectAxeClean(page);
    await page.getByLabel('Name for this passkey').fill('Test laptop');
    await page.getByRole('button', { name: 'Create passkey' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your passkeys');
    await expect(page.getByRole('list', { name: 'Passkeys' })).toContainText('Test laptop');
    await expectAxeClean(page);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);

    // Without a username: the device offers its passkey for this site.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');
    await page.goto('/o/riverside/sign-in');
    await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeVisible();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Signed in as ${patient.displayName}`);
    await expect(page.getByText('You proved who you are with a passkey.')).toBeVisible();

    // With a username: the address typed first.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');
    await page.goto('/o/riverside/sign-in');
    await page.getByLabel('Email address or mobile number').fill(patient.email);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Signed in as ${patient.displayName}`);
  } finally {
    await patient.remove();
  }
});

test('PK3: an authenticator that does not verify the user cannot add a passkey', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await virtualAuthenticator(page, { isUserVerified: false });
    await signInThroughUi(page, patient.email);
    await page.goto('/o/riverside/passkeys/new');
    await expect(page.getByRole('button', { name: 'Create passkey' })).toBeEnabled();
    await page.getByRole('button', { name: 'Create passkey' }).click();
    await expect(page.getByRole('alert').filter({ hasText: /passkey/ })).toBeVisible();
    await page.goto('/o/riverside/passkeys');
    await expect(page.getByText('You have no passkeys yet.')).toBeVisible();
  } finally {
    await patient.remove();
  }
});

test('PK: where the browser offers passkeys in autofill (conditional UI), the sign-in page uses it', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await virtualAuthenticator(page);
    await signInThroughUi(page, patient.email);
    await page.goto('/o/riverside/passkeys/new');
    await expect(page.getByRole('button', { name: 'Create passkey' })).toBeEnabled();
    await page.getByRole('button', { name: 'Create passkey' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your passkeys');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');

    // The page starts a conditional request on load; the virtual authenticator answers it as a patient picking the
    // passkey from the address field's suggestions would.
    await page.goto('/o/riverside/sign-in');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Signed in as ${patient.displayName}`);
    await expect(page.getByText('You proved who you are with a passkey.')).toBeVisible();
  } finally {
    await patient.remove();
  }
});
