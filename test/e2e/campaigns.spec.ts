// A renewal campaign end to end in Chromium, against the `npm start` stack: an owner creates and schedules a campaign
// for 1,000 seeded authorisations expiring soon, launches it and watches the progress reach 100%; one of those
// patients renews from the renewal mail the dev mail catcher received; the results show that renewal. Every campaign
// page is axe-clean (WCAG 2.2 AA) and runs under the enforced CSP (the fixture fails on any violation).
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { connect } from '../../db/client';
import { consentTopics, organisations } from '../../db/schema/index';
import { createTextDraft, publishText } from '../../server/consent/texts';
import { listMail, readMail } from '../../server/delivery/dev-mailbox';
import { runningEmbeddedUrl } from '../../server/runtime/database';
import { e2e } from '../../playwright.config';
import { validElements } from '../support/consent';
import { mailSnapshot, waitForCode } from '../support/mailbox';
import { signInAdminWithCookie } from './admins';
import { expect, expectAxeClean, test } from './fixtures';

const COUNT = 1000;
const DAY_MS = 86_400_000;

/**
 * An organisation of its own (so the demo organisation's topics, which other tests count, stay as they are), a topic
 * with a published text, and COUNT patients whose authorisations for it end in
 * ten days, seeded in one set-based statement. One of them has a real email address and an email authorisation; the
 * others authorised the portal only, so the mailbox is not flooded for the other tests running alongside.
 */
async function seedExpiringAuthorisations() {
  const handle = connect(runningEmbeddedUrl(e2e.dataDir)!, { max: 1 });
  try {
    const db = handle.db;
    const tag = randomBytes(3).toString('hex');
    const [org] = await db.insert(organisations).values({ slug: `camp-${tag}`, name: `Campaign Clinic ${tag}` }).returning();
    const [topic] = await db
      .insert(consentTopics)
      .values({ orgId: org!.id, key: `renewal-${tag}`, name: `Healthy living news ${tag}`, description: 'News about healthy living.' })
      .returning();
    const draft = await createTextDraft(db, { orgId: org!.id, topicId: topic!.id, elements: validElements, validForMonths: 12 });
    const published = await publishText(db, { orgId: org!.id, textId: draft.id, actor: { type: 'system' }, now: new Date() });
    if (published.status !== 'published') throw new Error('text not published');
    const text = published.text;
    const grantedAt = new Date(Date.now() - 355 * DAY_MS);
    const expiresAt = new Date(Date.now() + 10 * DAY_MS);
    const email = `e2e-renewal-${tag}@example.com`;
    const first = `e2e-camp-${tag}-1`;
    const evidence = JSON.stringify({ method: 'code_email', verifiedAt: grantedAt.toISOString(), ipAddress: '127.0.0.1', userAgent: null, via: 'portal', signatureName: 'Seeded' });
    await db.execute(sql`
      with p as (
        insert into patients (org_id, external_ref, display_name)
        select ${org!.id}, ${`e2e-camp-${tag}-`} || g, ${`Campaign Patient ${tag} `} || g from generate_series(1, ${COUNT}) as g
        returning id, external_ref
      ), cp as (
        insert into contact_points (org_id, patient_id, kind, value, source, verified_at)
        select ${org!.id}, p.id, 'email', ${email}, 'organisation', now() from p where p.external_ref = ${first}
      ), e as (
        insert into authorization_events (org_id, patient_id, topic_id, kind, text_id, text_hash, channels, expires_at, evidence, occurred_at)
        select ${org!.id}, p.id, ${topic!.id}, 'granted', ${text.id}, ${text.contentHash},
               case when p.external_ref = ${first} then '["email"]'::jsonb else '["portal"]'::jsonb end,
               ${expiresAt.toISOString()}::timestamptz, ${evidence}::jsonb, ${grantedAt.toISOString()}::timestamptz
          from p
        returning id, patient_id, channels
      )
      insert into consent_states (org_id, patient_id, topic_id, status, grant_event_id, text_id, channels, granted_at, expires_at, updated_at)
      select ${org!.id}, e.patient_id, ${topic!.id}, 'active', e.id, ${text.id}, e.channels, ${grantedAt.toISOString()}::timestamptz, ${expiresAt.toISOString()}::timestamptz, now()
        from e`);
    return { topic: topic!, email, slug: org!.slug };
  } finally {
    await handle.close();
  }
}

async function waitForRenewalMail(slug: string, to: string, ignore: Set<string>): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const summary of await listMail(e2e.dataDir, 50)) {
      if (!summary.to.includes(to) || ignore.has(summary.id)) continue;
      const mail = await readMail(e2e.dataDir, summary.id);
      const link = new RegExp(`https?://\\S+/o/${slug}/r/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+`).exec(mail?.text ?? '');
      if (link) return new URL(link[0]).pathname;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no renewal mail for ${to}`);
}

test('DL4, AV7: a renewal campaign for 1,000 authorisations reaches 100%, a patient renews from the mail, and the results show it', async ({ page }) => {
  test.setTimeout(240_000);
  const seeded = await seedExpiringAuthorisations();
  const mailBefore = await mailSnapshot(e2e.dataDir);
  await signInAdminWithCookie(page, 'owner', seeded.slug);

  await page.goto(`/admin/${seeded.slug}/campaigns`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Renewal campaigns');
  await expectAxeClean(page);

  await page.getByRole('link', { name: 'New campaign' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('New renewal campaign');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expectAxeClean(page);

  // Nothing filled in: every problem is listed and tied to its field; nothing is created.
  await page.getByLabel('Expiring within (days)').fill('');
  await page.getByRole('button', { name: 'Save as draft' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'There is a problem' })).toBeVisible();
  await expect(page.getByLabel('Campaign name')).toHaveAccessibleDescription(/Give the campaign a name/);
  await expectAxeClean(page);

  const name = `Renewals ${seeded.topic.key}`;
  await page.getByLabel('Campaign name').fill(name);
  await page.getByRole('checkbox', { name: seeded.topic.name }).check();
  await page.getByLabel('Expiring within (days)').fill('30');
  await page.getByRole('checkbox', { name: 'Email' }).check();
  await page.getByRole('checkbox', { name: 'Portal message' }).check();
  await page.getByLabel('Requests per minute at most').fill('5000');
  // Start date and time left empty: the campaign starts when launched. Starting at a scheduled time is
  // campaigns.test.ts's (the form's times have whole minutes, so a scheduled start here would idle for one).
  await expect(page.getByLabel('Start date')).toHaveValue('');
  await page.getByRole('button', { name: 'Save as draft' }).click();

  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(page.getByText('1,000 patients would be asked if it started now.')).toBeVisible();
  await expect(page.locator('.campaign-facts')).toContainText('When launched');
  await expect(page.getByRole('table', { name: 'A few of them' })).toBeVisible(); // the owner may see sample recipients
  await expectAxeClean(page);

  await page.getByRole('button', { name: 'Launch campaign' }).click();
  await expect(page.getByRole('status')).toHaveText('The campaign is launched.');
  await expect(page.locator('.campaign-facts')).toContainText(/Scheduled|Running|Completed/);
  // Launching again is refused by the page (no button) and by the server (the second POST changes nothing, DL4).
  await expect(page.getByRole('button', { name: 'Launch campaign' })).toHaveCount(0);

  // The page refreshes itself while the campaign runs.
  const progress = page.locator('#campaign-progress');
  await expect(progress).toHaveAttribute('value', '100', { timeout: 180_000 });
  await expect(page.getByText('100% done: 1,000 of 1,000 requests decided')).toBeVisible();
  await expect(page.locator('.campaign-facts')).toContainText('Completed', { timeout: 30_000 });
  await expect(page.getByRole('img', { name: `Results funnel of ${name}` })).toBeVisible();
  await expectAxeClean(page);

  // The patient with an email address renews from the mail.
  const renewalPath = await waitForRenewalMail(seeded.slug, seeded.email, mailBefore);
  const codeBefore = await mailSnapshot(e2e.dataDir);
  await page.goto(renewalPath);
  await page.getByLabel('Email address or mobile number').fill(seeded.email);
  await page.getByRole('button', { name: 'Send me a code' }).click();
  await page.getByLabel('6-digit code').fill(await waitForCode(e2e.dataDir, seeded.email, { ignore: codeBefore }));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Renew permission: ${seeded.topic.name}`);
  await page.getByLabel('Type your full name to sign').fill(`Campaign Patient 1`);
  await page.getByRole('checkbox', { name: /I have read this permission/ }).check();
  await page.getByRole('button', { name: 'Sign and renew' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Your signed permission: ${seeded.topic.name}`);

  await page.goto(`/admin/${seeded.slug}/campaigns`);
  await expect(page.getByRole('row', { name: new RegExp(name) })).toContainText('Completed');
  await expectAxeClean(page);
  await page.getByRole('link', { name }).click();
  const funnel = page.getByRole('table', { name: 'Results funnel' });
  await expect(funnel.getByRole('row', { name: /^Renewed/ })).toContainText('1');
  await expect(funnel.getByRole('row', { name: /^Targeted/ })).toContainText('1,000');
  await expect(funnel.getByRole('row', { name: /^Sent/ })).toContainText('1,000');
  await expect(funnel.getByRole('row', { name: /^No response/ })).toContainText('999');
  await expectAxeClean(page);
});
