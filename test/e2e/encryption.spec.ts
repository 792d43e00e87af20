import { generateKey, readKey } from 'openpgp';
import { formatFingerprint } from '../../server/delivery/pgp';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, signInThroughUi } from './patients';

test('PGP, SE5: a signed-in patient adds their public key, sees its fingerprint, and removes it', async ({ page }) => {
  // A whole sign-in, three forms and three axe scans: slow on a loaded machine.
  test.slow();
  const patient = await createE2ePatient();
  const { publicKey } = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: patient.displayName, email: patient.email }] });
  const fingerprint = formatFingerprint((await readKey({ armoredKey: publicKey })).getFingerprint());
  try {
    await signInThroughUi(page, patient.email);
    await page.goto('/o/riverside/encryption');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Encrypted email');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByText('You have not added a key.')).toBeVisible();
    await expectAxeClean(page);

    // A mistake first: the error is tied to the box and announced.
    const box = page.getByLabel('Your public key');
    await box.fill('this is not a key');
    await page.getByRole('button', { name: 'Save key' }).click();
    await expect(box).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByRole('alert').filter({ hasText: 'does not look like one OpenPGP public key' })).toBeVisible();
    await expect(box).toHaveAccessibleDescription(/Paste the whole block.*Error: This does not look like one OpenPGP public key/);
    await expectAxeClean(page);

    await box.fill(publicKey);
    await page.getByRole('button', { name: 'Save key' }).click();
    await expect(page.getByRole('status')).toContainText('will now be encrypted to this key');
    await expect(page.getByText(fingerprint)).toBeVisible();
    await expect(page.getByText('Does not expire')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Replace key' })).toBeVisible();
    await expectAxeClean(page);

    await page.getByRole('button', { name: 'Remove key' }).click();
    await expect(page.getByRole('status')).toContainText('Removed.');
    await expect(page.getByText('You have not added a key.')).toBeVisible();
    await expect(page.getByText(fingerprint)).toHaveCount(0);
  } finally {
    await patient.remove();
  }
});
