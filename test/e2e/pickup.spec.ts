import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { CDPSession, Locator, Page } from '@playwright/test';
import { and, eq } from 'drizzle-orm';
import { connect, type Database } from '../../db/client';
import { contactPoints, deliveries, messages, organisations, patients } from '../../db/schema/index';
import { loadConfig } from '../../server/config';
import { listMail, readMail, readRawMail } from '../../server/delivery/dev-mailbox';
import { enqueueMessage } from '../../server/engine/enqueue';
import { vaultRing } from '../../server/messages/vault';
import { runningEmbeddedUrl } from '../../server/runtime/database';
import { e2e } from '../../playwright.config';
import { mailSnapshot, waitForCode } from '../support/mailbox';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, signInThroughUi } from './patients';

// Issue 6, secure message pickup, end to end: the real engine turns an email delivery into a PHI-free notice (EM4),
// the real mail catcher holds it, and the patient follows its link through the real pages.

type Patient = { id: string; orgId: string; email: string; displayName: string; db: Database };
type Attachment = { name: string; contentType: string; content: Buffer };

const tag = () => randomBytes(4).toString('hex');

// A small but well-formed PDF, so the bytes that come back can be compared exactly.
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n', 'latin1');

/** Enqueued as the organisation's system would, sealed with the e2e server's own vault key so its worker opens it. */
async function enqueue(patient: Patient, content: { subject: string; text: string }, channels: ('email' | 'portal')[], attachments: Attachment[] = []) {
  const ring = vaultRing(loadConfig({ CAREPOST_DATA_DIR: e2e.dataDir, NODE_ENV: 'test', PUBLIC_URL: e2e.baseURL }));
  const result = await patient.db.transaction((tx) =>
    enqueueMessage(tx, ring, {
      orgId: patient.orgId,
      category: 'treatment',
      content,
      attachments,
      recipients: [{ patientId: patient.id, channels }],
      actor: { type: 'system' },
      now: new Date(),
    }),
  );
  if (!result.ok) throw new Error(`enqueue refused: ${JSON.stringify(result.fieldErrors)}`);
  return result.messageId;
}

/** Messages and deliveries go before the patient; access rows and replies follow the message (cascade). */
async function removeMessages(patient: Patient) {
  const owned = and(eq(deliveries.orgId, patient.orgId), eq(deliveries.patientId, patient.id));
  const ids = (await patient.db.select({ id: deliveries.messageId }).from(deliveries).where(owned)).map((d) => d.id);
  await patient.db.delete(deliveries).where(owned);
  for (const id of new Set(ids)) await patient.db.delete(messages).where(and(eq(messages.orgId, patient.orgId), eq(messages.id, id)));
}

/** The notice the worker sent to `to`, as the catcher stored it: raw bytes (for EM4) and the decoded text. */
async function waitForNotice(to: string, orgName: string) {
  let found: { raw: string; text: string } | undefined;
  await expect
    .poll(
      async () => {
        for (const m of await listMail(e2e.dataDir)) {
          if (!m.to.includes(to) || m.subject !== `New message from ${orgName}`) continue;
          found = { raw: readRawMail(e2e.dataDir, m.id)!.toString('utf8'), text: (await readMail(e2e.dataDir, m.id))!.text };
          return true;
        }
        return false;
      },
      { message: `a notice mail to ${to}`, timeout: 15_000 },
    )
    .toBe(true);
  const link = /https?:\/\/\S+\/m\/\S+/.exec(found!.text)?.[0];
  expect(link, 'the pickup link in the notice').toBeDefined();
  return { ...found!, link: new URL(link!).pathname };
}

/** Moves focus with the Tab key alone until `target` has it. */
async function tabTo(page: Page, target: Locator) {
  for (let i = 0; i < 60; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error('could not reach the element with the Tab key');
}

/**
 * The page's HTML once no navigation is in flight: after Back or a reload the browser may still be following the
 * server's redirect to sign-in when the previous check passed, and page.content() refuses to read a navigating page.
 */
async function settledContent(page: Page): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    await page.waitForLoadState('load').catch(() => undefined);
    try {
      return await page.content();
    } catch (error) {
      if (attempt >= 20 || !/navigating/i.test(String(error))) throw error;
      await page.waitForTimeout(250);
    }
  }
}

/** No PHI anywhere in what the browser holds for this page, hidden markup and hydration data included. */
async function expectNoPhi(page: Page, secrets: string[]) {
  const html = await settledContent(page);
  for (const secret of secrets) expect(html, `page content after sign-out must not contain "${secret}"`).not.toContain(secret);
}

test('EM4, AU1, AU3: a message waits in the portal; the notice carries no PHI; the link, a code, the message, an attachment and the access history', async ({ page }) => {
  // A notice from the worker, a code from the catcher, five pages and five axe scans.
  test.slow();
  const patient = await createE2ePatient();
  const t = tag();
  const subject = `Biopsy result ${t}`;
  const body = [`Dear Robin, your biopsy ${t} came back benign.`, `Dr Okafor will call about follow-up ${t}-fu.`];
  const attachment = { name: `pathology-${t}.pdf`, contentType: 'application/pdf', content: PDF };
  try {
    const messageId = await enqueue(patient, { subject, text: body.join('\n\n') }, ['email'], [attachment]);
    const notice = await waitForNotice(patient.email, 'Riverside Family Clinic');

    // EM4: the notice names the sender and links to the portal, and holds nothing of the message, encoded or not.
    for (const mail of [notice.raw, notice.text]) {
      for (const phi of [subject, t, ...body, attachment.name]) expect(mail).not.toContain(phi);
    }
    expect(notice.text).toContain('You have a new message from Riverside Family Clinic.');
    expect(notice.link).toMatch(/^\/o\/riverside\/m\/[^/]+$/);

    await page.goto(notice.link);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You have a secure message from Riverside Family Clinic');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    const where = page.getByRole('group', { name: 'Where should we send the code?' });
    await expect(where.getByRole('radio')).toHaveCount(1);
    await expect(where.getByRole('radio', { name: /^Email to e\S*•+\S*@example\.com$/ })).toBeChecked();
    await expect(page.getByText(patient.email)).toHaveCount(0);
    await expect(page.getByText(subject)).toHaveCount(0);
    await expectAxeClean(page);

    const ignore = await mailSnapshot(e2e.dataDir);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    const codeField = page.getByLabel('6-digit code');
    await expect(codeField).toBeVisible();
    await expectAxeClean(page);
    await codeField.fill(await waitForCode(e2e.dataDir, patient.email, { ignore }));
    await page.getByRole('button', { name: 'Open my message' }).click();

    await expect(page).toHaveURL(`/o/riverside/messages/${messageId}`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
    for (const line of body) await expect(page.getByText(line)).toBeVisible();
    const files = page.getByRole('region', { name: 'Attachments' });
    await expect(files.getByRole('listitem')).toHaveText([`${attachment.name} (PDF, ${PDF.length} bytes)`]);
    await expectAxeClean(page);

    const downloading = page.waitForEvent('download');
    await files.getByRole('link', { name: attachment.name }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe(attachment.name);
    expect(await fs.readFile(await download.path())).toEqual(PDF);

    await page.getByRole('navigation', { name: 'Your pages' }).getByRole('link', { name: 'Secure messages' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Secure messages');
    await expect(page.getByRole('list', { name: 'Messages, newest first' }).getByRole('listitem')).toHaveText([new RegExp(`^${subject}.* · 1 attachment$`)]);
    await expect(page.getByText('You have read them all.')).toBeVisible();
    await expectAxeClean(page);

    await page.getByRole('link', { name: 'who opened your messages and when' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Who opened your messages');
    // AU1, AU3: one row for reading the message, one for the download, both from this device and this code.
    const rows = page.getByRole('table').getByRole('row').filter({ hasText: subject });
    await expect(rows).toHaveCount(2);
    await expect(rows.filter({ hasText: 'The message' })).toHaveCount(1);
    await expect(rows.filter({ hasText: 'An attachment' })).toHaveCount(1);
    for (const row of await rows.all()) {
      await expect(row).toContainText('(this device)');
      await expect(row).toContainText('a code sent by email');
    }
    await expectAxeClean(page);

    // The message's own history names the file; reading it again is one more open.
    await rows.first().getByRole('link', { name: subject }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
    const history = page.getByRole('region', { name: 'Who opened this message' }).getByRole('row');
    await expect(history.filter({ hasText: 'The message' })).toHaveCount(2);
    await expect(history.filter({ hasText: `Attachment: ${attachment.name}` })).toHaveCount(1);
  } finally {
    await removeMessages(patient).catch(() => undefined);
    await patient.remove();
  }
});

test('PW2: after sign-out, Back and offline show no PHI', async ({ page, context }) => {
  const patient = await createE2ePatient();
  const t = tag();
  const subject = `HIV test result ${t}`;
  const text = `Your viral load ${t} is undetectable.`;
  try {
    const messageId = await enqueue(patient, { subject, text }, ['portal']);
    await signInThroughUi(page, patient.email);
    await page.goto(`/o/riverside/messages/${messageId}`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
    await expect(page.getByText(text)).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');

    // Back asks the server again (no-store, no bfcache), which now sends the browser to sign in.
    await page.goBack();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
    await expectNoPhi(page, [subject, text, t]);

    // Offline, nothing can be fetched and nothing was kept to show instead.
    await context.setOffline(true);
    await page.goBack().catch(() => undefined);
    await expectNoPhi(page, [subject, text, t]);
    await page.reload().catch(() => undefined);
    await expectNoPhi(page, [subject, text, t]);
    await page.goForward().catch(() => undefined);
    await expectNoPhi(page, [subject, text, t]);
  } finally {
    await context.setOffline(false);
    await removeMessages(patient).catch(() => undefined);
    await patient.remove();
  }
});

/** Chromium's virtual authenticator over CDP, as in passkeys.spec.ts. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

/**
 * An organisation of its own with a passkey pickup policy and one patient: the demo organisation is shared with the
 * other spec files running in parallel, so its policy must not change under them. Organisations keep their audit
 * chain (ON DELETE RESTRICT), so the row stays; the e2e data folder is thrown away after the run.
 */
async function createPasskeyOrganisation() {
  const handle = connect(runningEmbeddedUrl(e2e.dataDir)!, { max: 1 });
  const t = tag();
  const [org] = await handle.db
    .insert(organisations)
    .values({ slug: `e2e-passkey-${t}`, name: `Passkey Clinic ${t}`, brandColor: '#336699', pickupPolicy: 'passkey' })
    .returning();
  const email = `e2e-pk-${t}@example.com`;
  const [patient] = await handle.db.insert(patients).values({ orgId: org!.id, externalRef: `e2e-${t}`, displayName: `Sam E2E-${t}` }).returning();
  await handle.db.insert(contactPoints).values({ orgId: org!.id, patientId: patient!.id, kind: 'email', value: email, source: 'organisation', verifiedAt: new Date() });
  return {
    org: org!,
    patient: { id: patient!.id, orgId: org!.id, email, displayName: patient!.displayName, db: handle.db } satisfies Patient,
    close: () => handle.close(),
  };
}

test('OT5: with a passkey pickup policy, a code session is asked for a passkey and does not see the message', async ({ page }) => {
  // A notice, a code sign-in, a passkey made and used: about as long as the first test.
  test.slow();
  const { org, patient, close } = await createPasskeyOrganisation();
  const t = tag();
  const subject = `Genetic screening ${t}`;
  const text = `Your BRCA screening ${t} needs a conversation.`;
  const phi = [subject, text, t];
  try {
    // No passkey autofill: the virtual authenticator would answer a conditional request on its own.
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
    const { cdp, authenticatorId } = await virtualAuthenticator(page);
    const messageId = await enqueue(patient, { subject, text }, ['email']);
    const notice = await waitForNotice(patient.email, org.name);
    const messagePath = `/o/${org.slug}/messages/${messageId}`;

    // The link itself offers no code while the policy asks for a passkey.
    await page.goto(notice.link);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`You have a secure message from ${org.name}`);
    await expect(page.getByText(`${org.name} asks for a passkey before you read messages.`)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Send me a code' })).toHaveCount(0);
    await expectNoPhi(page, phi);

    // A code session is enough to sign in, not to read.
    const ignore = await mailSnapshot(e2e.dataDir);
    await page.goto(`/o/${org.slug}/sign-in`);
    await page.getByLabel('Email address or mobile number').fill(patient.email);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await page.getByLabel('6-digit code').fill(await waitForCode(e2e.dataDir, patient.email, { ignore }));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // Signed in: the account page, or straight back towards the message (the link left a return cookie).
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^(Signed in as|Confirm it is you)/);

    await page.goto(messagePath);
    await expect(page).toHaveURL(/\/verify\?/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Confirm it is you');
    await expect(page.getByText(`${org.name} asks for a passkey before you read your messages`)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Send me a code' })).toHaveCount(0);
    await expectNoPhi(page, phi);
    // The inbox's subjects are health information too: the same rule sends the code session to verify.
    const inbox = await page.request.get(`/o/${org.slug}/messages`, { maxRedirects: 0 });
    expect(inbox.headers()['location']).toContain(`/o/${org.slug}/verify?`);
    expect(await inbox.text()).not.toContain(subject);

    // With a passkey added (the code sign-in a moment ago satisfies the step-up), that passkey opens the message.
    await page.goto(`/o/${org.slug}/passkeys/new`);
    await expect(page.getByRole('button', { name: 'Create passkey' })).toBeEnabled();
    await page.getByLabel('Name for this passkey').fill('Test phone');
    await page.getByRole('button', { name: 'Create passkey' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your passkeys');
    expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials).toHaveLength(1);

    await page.goto(messagePath);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Confirm it is you');
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page).toHaveURL(messagePath);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
    await expect(page.getByText(text)).toBeVisible();
    const opened = page.getByRole('table').getByRole('row').filter({ hasText: 'The message' });
    await expect(opened).toHaveCount(1);
    await expect(opened).toContainText('a passkey');

    // And from the notice's link, signed out: the passkey button leads straight to the message.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('You are signed out');
    await page.goto(notice.link);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page).toHaveURL(messagePath);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
  } finally {
    await removeMessages(patient).catch(() => undefined);
    await patient.db.delete(patients).where(and(eq(patients.orgId, org.id), eq(patients.id, patient.id))).catch(() => undefined);
    await close();
  }
});

test('AC: a patient replies to a message with the keyboard alone', async ({ page }) => {
  const patient = await createE2ePatient();
  const t = tag();
  const subject = `Appointment follow-up ${t}`;
  try {
    const messageId = await enqueue(patient, { subject, text: `Please tell us how you are feeling ${t}.` }, ['portal']);
    await signInThroughUi(page, patient.email);
    await page.goto(`/o/riverside/messages/${messageId}`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(subject);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');

    const reply = `Much better, thank you ${t}.`;
    await tabTo(page, page.getByLabel('Your reply'));
    await page.keyboard.type(reply);
    await tabTo(page, page.getByRole('button', { name: 'Send reply' }));
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status')).toHaveText('Your reply was sent securely to Riverside Family Clinic.');
    await expect(page.getByRole('list', { name: 'Your replies' }).getByRole('listitem')).toHaveText([reply]);
    await expect(page.getByLabel('Your reply')).toHaveValue('');
  } finally {
    await removeMessages(patient).catch(() => undefined);
    await patient.remove();
  }
});
