// Admin sign-in in real Chromium (issue 8 acceptance): password + TOTP, a passkey (Chromium's virtual authenticator
// over CDP), invitation acceptance with authenticator enrolment, the account, team and overview pages; every page
// axe-clean, the forms used by keyboard.
import { randomBytes } from 'node:crypto';
import type { CDPSession, Page } from '@playwright/test';
import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { connect } from '../../db/client';
import { DEMO } from '../../db/seed';
import { DEMO_ADMIN_PASSWORD, DEMO_ADMIN_TOTP_SECRET } from '../../db/demo-credentials';
import { admins, adminTotpFactors, organisations } from '../../db/schema/index';
import { hashPassword } from '../../server/admin/passwords';
import type { AdminRole } from '../../server/admin/roles';
import { sealAdminTotpSecret } from '../../server/admin/totp';
import { loadConfig } from '../../server/config';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { vaultRing } from '../../server/messages/vault';
import { runningEmbeddedUrl } from '../../server/runtime/database';
import { e2e } from '../../playwright.config';
import { signInAdminWithCookie } from './admins';
import { expect, expectAxeClean, test } from './fixtures';

const SLUG = 'riverside';
// Several pages each get an axe run, on two shared cores.
test.describe.configure({ timeout: 120_000 });

/**
 * An admin of the demo organisation who signs in like the seeded demo admins: the documented demo password and
 * authenticator secret (db/demo-credentials.ts), sealed with the e2e server's own vault key. Each test has its own
 * admin, so two tests never spend the same code (a replay would rightly be refused).
 */
async function createSignInAdmin(role: AdminRole = 'owner') {
  const url = runningEmbeddedUrl(e2e.dataDir);
  if (!url) throw new Error(`the e2e server's database is not running (data in ${e2e.dataDir})`);
  const ring = vaultRing(loadConfig({ CAREPOST_DATA_DIR: e2e.dataDir, NODE_ENV: 'test', PUBLIC_URL: e2e.baseURL }));
  const handle = connect(url, { max: 1 });
  try {
    const [org] = await handle.db.select().from(organisations).where(eq(organisations.slug, SLUG));
    const tag = randomBytes(4).toString('hex');
    const [admin] = await handle.db
      .insert(admins)
      .values({ orgId: org!.id, role, email: `e2e-signin-${tag}@admin.example`, name: `Sam Signin ${tag}`, passwordHash: await hashPassword(DEMO_ADMIN_PASSWORD) })
      .returning();
    await handle.db.insert(adminTotpFactors).values({ orgId: org!.id, adminId: admin!.id, secret: sealAdminTotpSecret(ring, org!.id, admin!.id, DEMO_ADMIN_TOTP_SECRET), confirmedAt: new Date() });
    return { email: admin!.email, name: admin!.name };
  } finally {
    await handle.close();
  }
}

/** What the authenticator app shows now for a secret. */
async function codeFor(secret: string) {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) });
}

async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

/** Email and password typed and sent by keyboard only. */
async function passwordByKeyboard(page: Page, email: string, password: string) {
  await page.goto(`/admin/${SLUG}/sign-in`);
  await page.getByLabel('Email address').focus();
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Password')).toBeFocused();
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

async function waitForInvitation(to: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const summary of await listMail(e2e.dataDir)) {
      if (!summary.to.includes(to)) continue;
      const match = /https?:\/\/\S+\/invite\/([A-Za-z0-9_-]{43})/.exec((await readMail(e2e.dataDir, summary.id))?.text ?? '');
      if (match) return `/admin/${SLUG}/invite/${match[1]}`;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no invitation mail for ${to}`);
}

test('AU1: an admin signs in with password and TOTP, by keyboard; sign-in, code and overview pages are axe-clean', async ({ page }) => {
  const admin = await createSignInAdmin('owner');
  await page.goto(`/admin/${SLUG}/sign-in`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in to the admin console');
  await expectAxeClean(page);

  // A wrong password: one message, the same for every kind of refusal, and the page stays accessible.
  await passwordByKeyboard(page, admin.email, 'not-the-right-password');
  await expect(page.getByRole('alert').filter({ hasText: 'do not match an admin account here' })).toBeVisible();
  await expectAxeClean(page);

  await passwordByKeyboard(page, admin.email, DEMO_ADMIN_PASSWORD);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Enter your authentication code');
  await expect(page.getByRole('button', { name: 'Use a passkey' })).toHaveCount(0); // no passkey yet
  await expectAxeClean(page);
  // A malformed code: a field error, tied to the field.
  await page.getByLabel('Authentication code').focus();
  await page.keyboard.type('12');
  await page.keyboard.press('Enter');
  await expect(page.getByText('Enter the 6-digit code your authenticator app shows now.')).toBeVisible();
  await expect(page.getByLabel('Authentication code')).toHaveAttribute('aria-invalid', 'true');
  await expectAxeClean(page);
  await page.getByLabel('Authentication code').fill('');
  await page.getByLabel('Authentication code').focus();
  await page.keyboard.type(await codeFor(DEMO_ADMIN_TOTP_SECRET));
  await page.keyboard.press('Enter');

  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${admin.name}`);
  await expect(page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Team' })).toBeVisible();
  await expectAxeClean(page);

  // Sign out: back to sign-in, and the console is closed.
  await page.getByRole('button', { name: `Sign out ${admin.name}` }).click();
  await expect(page.getByText('You are signed out.')).toBeVisible();
  await page.goto(`/admin/${SLUG}/team`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in to the admin console');
});

test('the demo owner printed by npm start signs in with the documented password and authenticator secret', async ({ page }, testInfo) => {
  // One project only: both would spend the same code for the same seeded admin, and the second would be a replay.
  test.skip(testInfo.project.name !== 'desktop', 'the seeded admin signs in once per run');
  const owner = DEMO.admins.find((a) => a.role === 'owner')!;
  await page.goto(`/admin/${SLUG}/sign-in`);
  await page.getByLabel('Email address').fill(owner.email);
  await page.getByLabel('Password').fill(DEMO_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Authentication code').fill(await codeFor(DEMO_ADMIN_TOTP_SECRET));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${owner.name}`);
});

test('PK: an admin adds a passkey on the account page, then signs in with it alone and as the second step', async ({ page }) => {
  const admin = await createSignInAdmin('marketer');
  const { cdp, authenticatorId } = await virtualAuthenticator(page);
  await passwordByKeyboard(page, admin.email, DEMO_ADMIN_PASSWORD);
  await page.getByLabel('Authentication code').fill(await codeFor(DEMO_ADMIN_TOTP_SECRET));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${admin.name}`);

  await page.getByRole('link', { name: 'Your account' }).first().click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your account');
  await expect(page.getByText('You have no passkeys yet.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Add a passkey' })).toBeEnabled();
  await expectAxeClean(page);
  await page.getByLabel('Name for the new passkey').fill('E2E laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByRole('list', { name: 'Your passkeys' })).toContainText('E2E laptop');
  await expectAxeClean(page);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  expect(credentials).toHaveLength(1);

  // The passkey alone: both factors in one.
  await page.getByRole('button', { name: `Sign out ${admin.name}` }).click();
  await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${admin.name}`);
  // A marketer sees no team link.
  await expect(page.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Team' })).toHaveCount(0);

  // After the password, "Use a passkey" instead of a code.
  await page.getByRole('button', { name: `Sign out ${admin.name}` }).click();
  await expect(page.getByText('You are signed out.')).toBeVisible();
  await passwordByKeyboard(page, admin.email, DEMO_ADMIN_PASSWORD);
  await expect(page.getByRole('button', { name: 'Use a passkey' })).toBeVisible();
  await expectAxeClean(page);
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${admin.name}`);
});

test('AU1: an owner invites an admin from the team page; the invitee accepts, enrols an authenticator app and is signed in', async ({ page, browser }) => {
  const owner = await signInAdminWithCookie(page, 'owner');
  await page.goto(`/admin/${SLUG}/team`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Team');
  await expectAxeClean(page);
  // Errors first: 400, shown next to the fields.
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByText('Enter their name, up to 100 characters.')).toBeVisible();
  await expectAxeClean(page);

  const tag = randomBytes(4).toString('hex');
  const email = `e2e-invitee-${tag}@admin.example`;
  const name = `Ivy Invitee ${tag}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel(/^Compliance:/).check();
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByRole('status')).toHaveText(`Invitation sent to ${email}. The link works for 7 days.`);
  await expect(page.getByRole('list', { name: 'Team members' })).toContainText(name);
  await expect(page.getByRole('list', { name: 'Team members' })).toContainText(owner.name);

  const link = await waitForInvitation(email);
  const context = await browser.newContext();
  const invitee = await context.newPage();
  try {
    await invitee.goto(link);
    await expect(invitee.getByRole('heading', { level: 1 })).toHaveText('Accept your invitation');
    await expectAxeClean(invitee);
    await invitee.getByLabel('New password', { exact: true }).fill('short');
    await invitee.getByLabel('New password again').fill('short');
    await invitee.getByRole('button', { name: 'Continue' }).click();
    await expect(invitee.getByText('Use at least 12 characters.', { exact: false })).toBeVisible();
    await expectAxeClean(invitee);
    await invitee.getByLabel('New password', { exact: true }).fill('ivy-chooses-a-long-passphrase');
    await invitee.getByLabel('New password again').fill('ivy-chooses-a-long-passphrase');
    await invitee.getByRole('button', { name: 'Continue' }).click();

    await expect(invitee.getByRole('heading', { level: 1 })).toHaveText('Add an authenticator app');
    await expectAxeClean(invitee);
    const grouped = (await invitee.locator('code.fingerprint').first().textContent())!;
    expect(grouped).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    await expect(invitee.locator('code.fingerprint').nth(1)).toContainText('otpauth://totp/');
    await invitee.getByLabel('Authentication code').fill(await codeFor(grouped.replaceAll(' ', '')));
    await invitee.getByRole('button', { name: 'Finish and sign in' }).click();
    await expect(invitee.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${name}`);
    await expect(invitee.getByRole('navigation', { name: 'Admin pages' }).getByRole('link', { name: 'Audit log' })).toBeVisible();

    // The link worked once.
    await invitee.goto(link);
    await expect(invitee.getByRole('heading', { level: 1 })).toHaveText('This invitation link does not work');
    await expectAxeClean(invitee);
  } finally {
    await context.close();
  }

  // The owner sees them active, and changes their role by keyboard.
  await page.reload();
  const row = page.getByRole('list', { name: 'Team members' }).getByRole('listitem').filter({ hasText: name });
  await expect(row).toContainText('Compliance · Active');
  await page.getByLabel(`Role of ${name}`, { exact: true }).selectOption('support');
  await page.getByRole('button', { name: `Change role of ${name}` }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toHaveText('Role changed to Support.');
  await expect(row).toContainText('Support · Active');
  await expectAxeClean(page);
});

test('the password reset pages and every role’s overview are axe-clean', async ({ page }) => {
  await page.goto(`/admin/${SLUG}/reset`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Reset your password');
  await expectAxeClean(page);
  await page.getByLabel('Email address').fill('nobody-at-all@admin.example');
  await page.getByRole('button', { name: 'Email me a code' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Choose a new password');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(page.getByText('Enter the 6-digit code from the email.')).toBeVisible();
  await expectAxeClean(page);

  for (const role of ['compliance', 'marketer', 'support'] as const) {
    await page.context().clearCookies();
    const admin = await signInAdminWithCookie(page, role);
    await page.goto(`/admin/${SLUG}`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${admin.name}`);
    await expectAxeClean(page);
  }
});
