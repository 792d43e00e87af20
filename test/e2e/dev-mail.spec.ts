import { randomBytes } from 'node:crypto';
import { createSmtpTransport } from '../../server/delivery/transport';
import { e2e } from '../../playwright.config';
import { expect, expectAxeClean, test } from './fixtures';

test('a mail sent through the transport appears on /dev/mail, parsed and raw', async ({ page }) => {
  const subject = `Your code is waiting ${randomBytes(3).toString('hex')}`;
  const transport = createSmtpTransport(e2e.mailUrl, { pool: false });
  try {
    await transport.send({ from: 'Carepost <no-reply@carepost.localhost>', to: 'ana.lindqvist@example.com', subject, text: 'Line one.\nLine two.' });
  } finally {
    await transport.close?.();
  }
  await page.goto('/dev/mail');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Dev mailbox');
  await page.getByRole('link', { name: new RegExp(subject) }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
  await expect(page.getByTestId('mail-text')).toContainText('Line one.');
  await expectAxeClean(page);
  await page.getByRole('link', { name: 'View raw source' }).click();
  await expect(page.locator('body')).toContainText(`Subject: ${subject}`);
});
