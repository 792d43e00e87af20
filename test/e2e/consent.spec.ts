import fs from 'node:fs';
import { and, eq } from 'drizzle-orm';
import { consentTopics, topicPreferences } from '../../db/schema/index';
import { grantAuthorization } from '../../server/consent/ledger';
import { signableText } from '../../server/consent/overview';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, mintE2eLink, signInThroughUi } from './patients';

test('AV5, AV7, RV1, AU3: grant with a signature and download the copy, renew by keyboard, revoke, and see three events', async ({ page }) => {
  test.slow(); // one long journey through six pages, each checked with axe
  const patient = await createE2ePatient();
  try {
    await signInThroughUi(page, patient.email);
    await page.getByRole('link', { name: 'My choices' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('My choices');
    await expect(page.getByText('Never granted')).toHaveCount(3);
    await expectAxeClean(page);

    await page.getByRole('link', { name: 'Give permission: Partner pharmacy offers' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Give permission: Partner pharmacy offers');
    await expect(page.getByText('Northside Pharmacy Group pays Riverside Family Clinic')).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expectAxeClean(page);

    // Signing with nothing filled in: the errors are announced and tied to their fields.
    await page.getByRole('checkbox', { name: 'Email' }).uncheck();
    await page.getByRole('button', { name: 'Sign and give permission' }).click();
    await expect(page.getByRole('alert')).toHaveText('Please fix the problems below.');
    await expect(page.getByLabel('Type your full name to sign')).toHaveAccessibleDescription(/Type your full name to sign\./);
    await expect(page.getByText('Tick the box to confirm')).toBeVisible();
    await expectAxeClean(page);

    await page.getByRole('checkbox', { name: 'Email' }).check();
    await page.getByLabel('Type your full name to sign').fill(patient.displayName);
    await page.getByRole('checkbox', { name: /I have read this permission/ }).check();
    await page.getByRole('button', { name: 'Sign and give permission' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your signed permission: Partner pharmacy offers');
    await expect(page.getByRole('status')).toHaveText('Thank you. Your permission is recorded.');
    await expect(page.getByText(patient.displayName, { exact: true })).toBeVisible();
    await expectAxeClean(page);

    const downloading = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download a copy (HTML)' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^authorisation-partner-pharmacy-\d{4}-\d{2}-\d{2}\.html$/);
    const copy = fs.readFileSync((await download.path())!, 'utf8');
    expect(copy).toContain('Northside Pharmacy Group pays Riverside Family Clinic to send these offers.');
    expect(copy).toContain(patient.displayName);
    expect(copy).toMatch(/SHA-256 of the text<\/dt><dd>[0-9a-f]{64}<\/dd>/);

    // Renew, by keyboard only.
    await page.getByRole('link', { name: 'Back to my choices' }).click();
    await expect(page.getByText(/^Active until/)).toBeVisible();
    await page.getByRole('link', { name: 'Renew: Partner pharmacy offers' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Renew permission: Partner pharmacy offers');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await page.getByLabel('Type your full name to sign').focus();
    await page.keyboard.type(patient.displayName);
    await page.keyboard.press('Tab');
    await expect(page.getByRole('checkbox', { name: /I have read this permission/ })).toBeFocused();
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await expect(page.getByRole('button', { name: 'Sign and renew' })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status')).toHaveText(/Your permission is renewed/);

    await page.getByRole('link', { name: 'Back to my choices' }).click();
    await page.getByRole('link', { name: 'Revoke: Partner pharmacy offers' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Revoke permission: Partner pharmacy offers');
    await expectAxeClean(page);
    await page.getByRole('button', { name: 'Yes, revoke my permission' }).click();
    await expect(page.getByRole('status')).toHaveText(/Your permission is revoked/);
    await expect(page.getByText(/^Revoked on/)).toBeVisible();

    await page.getByRole('link', { name: 'History of your choices' }).click();
    const events = page.getByRole('list', { name: 'Consent events, newest first' }).getByRole('listitem');
    await expect(events).toHaveCount(3);
    await expect(events.nth(0)).toContainText('You revoked permission: Partner pharmacy offers');
    await expect(events.nth(1)).toContainText('You renewed permission');
    await expect(events.nth(2)).toContainText('You gave permission');
    await expectAxeClean(page);
  } finally {
    await patient.remove();
  }
});

test('preferences: care messages cannot be switched off, errors are announced, and choices save', async ({ page }) => {
  const patient = await createE2ePatient();
  try {
    await signInThroughUi(page, patient.email);
    await page.getByRole('link', { name: 'How we contact you' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('How we contact you');
    await expect(page.getByText('cannot be switched off')).toBeVisible();
    await expectAxeClean(page);
    const care = page.getByRole('group', { name: 'Send care messages by' });
    for (const box of await care.getByRole('checkbox').all()) await box.uncheck();
    await page.getByLabel(/At most this many marketing messages a week/).fill('lots');
    await page.getByRole('button', { name: 'Save my choices' }).click();
    await expect(page.getByRole('alert')).toHaveText('Nothing was saved. Please fix the problems below.');
    await expect(page.getByText('Keep at least one way to reach you about your care.')).toBeVisible();
    await expectAxeClean(page);
    await care.getByRole('checkbox', { name: 'Message in this portal' }).check();
    await page.getByLabel(/At most this many marketing messages a week/).fill('2');
    await page.getByRole('button', { name: 'Save my choices' }).click();
    // The page has a second status line, the push opt-in's ("Notifications are off on this device.").
    await expect(page.getByRole('status').filter({ hasText: /Your choices are saved/ })).toBeVisible();
    await expect(page.getByLabel(/At most this many marketing messages a week/)).toHaveValue('2');
  } finally {
    await patient.remove();
  }
});

test('RV1, CX4: a preference link in a fresh browser shows choices, lowers one, and sends granting to sign-in', async ({ browser }) => {
  const patient = await createE2ePatient();
  try {
    const signable = (await signableText(patient.db, patient.orgId, patient.id, 'wellness-newsletter'))!;
    const granted = await grantAuthorization(patient.db, {
      orgId: patient.orgId,
      patientId: patient.id,
      topicId: signable.topic.id,
      textId: signable.text.id,
      channels: ['email', 'sms'],
      signatureName: patient.displayName,
      evidence: { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: 'e2e', via: 'portal' },
      now: new Date(),
    });
    expect(granted.status).toBe('granted');
    const path = await mintE2eLink(patient.id, 'preferences');
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your choices with Riverside Family Clinic');
    await expect(page.getByText(patient.displayName)).toHaveCount(0);
    await expect(page.getByText(patient.email)).toHaveCount(0);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expectAxeClean(page);

    await page.getByRole('button', { name: 'Stop by text message' }).click();
    await expect(page.getByRole('status')).toHaveText('Done. We will not use that way for this any more.');
    await expect(page.getByRole('button', { name: 'Stop by text message' })).toHaveCount(0);
    const [pref] = await patient.db
      .select()
      .from(topicPreferences)
      .where(and(eq(topicPreferences.orgId, patient.orgId), eq(topicPreferences.patientId, patient.id), eq(topicPreferences.topicId, signable.topic.id)));
    expect(pref!.channels).not.toContain('sms');
    await expectAxeClean(page);
    expect(await context.cookies()).toEqual([]);

    await page.getByRole('button', { name: 'Sign in to give permission: Elective procedure offers' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
    await context.close();
  } finally {
    await patient.remove();
  }
});

test('EM2: a one-click unsubscribe POST with fetch and no cookies takes effect; a GET of the same URL changes nothing', async ({ browser }) => {
  const patient = await createE2ePatient();
  try {
    const path = await mintE2eLink(patient.id, 'unsubscribe', { topicKey: 'wellness-newsletter', channel: 'email' });
    const [topic] = await patient.db.select().from(consentTopics).where(and(eq(consentTopics.orgId, patient.orgId), eq(consentTopics.key, 'wellness-newsletter')));
    const prefRows = () =>
      patient.db
        .select()
        .from(topicPreferences)
        .where(and(eq(topicPreferences.orgId, patient.orgId), eq(topicPreferences.patientId, patient.id), eq(topicPreferences.topicId, topic!.id)));
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Unsubscribe');
    await expectAxeClean(page);
    await page.reload();
    expect(await prefRows()).toEqual([]);

    const status = await page.evaluate(async (url) => {
      const res = await fetch(url, { method: 'POST', credentials: 'omit', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      return res.status;
    }, path);
    expect(status).toBe(200);
    expect((await prefRows())[0]!.channels).not.toContain('email');
    await page.reload();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are unsubscribed');
    await expectAxeClean(page);
    await context.close();
  } finally {
    await patient.remove();
  }
});
