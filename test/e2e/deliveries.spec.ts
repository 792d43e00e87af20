import { randomBytes } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import { consentTopics, deliveries, messages } from '../../db/schema/index';
import { loadConfig } from '../../server/config';
import { MESSAGE_CONTENT } from '../../server/engine/enqueue';
import { kekRing, sealJson } from '../../server/messages/vault';
import { e2e } from '../../playwright.config';
import { expect, expectAxeClean, test } from './fixtures';
import { createE2ePatient, signInThroughUi } from './patients';

test('AU3, EN3: a signed-in patient opens "Messages we sent you" from the nav and reads each delivery in words, without its content', async ({ page }) => {
  const patient = await createE2ePatient();
  const { db, id: patientId, orgId } = patient;
  const messageIds: string[] = [];
  try {
    // Seeded straight into the ledger, as the engine leaves rows: finished ones, and one waiting until later (so the
    // e2e server's worker leaves it alone). Sealed with the server's own vault key, like real messages.
    const config = loadConfig({ CAREPOST_DATA_DIR: e2e.dataDir, NODE_ENV: 'test', PUBLIC_URL: e2e.baseURL });
    const subject = `Lab results ${randomBytes(4).toString('hex')}`;
    const content = sealJson(kekRing(config.secrets.VAULT_KEY), { orgId, purpose: MESSAGE_CONTENT }, { subject, text: `About ${subject}` });
    const [topic] = await db.select().from(consentTopics).where(and(eq(consentTopics.orgId, orgId), eq(consentTopics.key, 'wellness-newsletter')));
    const now = Date.now();
    const rows = [
      { category: 'treatment' as const, topicId: null, channel: 'email' as const, status: 'sent' as const, route: 'pgp' as const, reason: 'care_message', minutesAgo: 5 },
      { category: 'marketing' as const, topicId: topic!.id, channel: 'email' as const, status: 'blocked' as const, route: null, reason: 'authorization_revoked', minutesAgo: 60 },
      { category: 'operations' as const, topicId: null, channel: 'sms' as const, status: 'queued' as const, route: null, reason: 'quiet_hours', minutesAgo: 120 },
    ];
    for (const r of rows) {
      const at = new Date(now - r.minutesAgo * 60_000);
      const [message] = await db.insert(messages).values({ orgId, category: r.category, topicId: r.topicId, content, createdAt: at }).returning({ id: messages.id });
      messageIds.push(message!.id);
      await db.insert(deliveries).values({
        orgId,
        messageId: message!.id,
        patientId,
        channel: r.channel,
        category: r.category,
        topicId: r.topicId,
        status: r.status,
        decision: r.status === 'sent' ? 'allow' : r.status === 'blocked' ? 'block' : 'defer',
        reason: r.reason,
        route: r.route,
        dueAt: r.status === 'queued' ? new Date(now + 6 * 60 * 60_000) : at,
        createdAt: at,
        updatedAt: at,
        sentAt: r.status === 'sent' ? at : null,
      });
    }

    await signInThroughUi(page, patient.email);
    await page.getByRole('navigation', { name: 'Your pages' }).getByRole('link', { name: 'Messages we sent you' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Messages we sent you');
    await expect(page.getByRole('link', { name: 'Messages we sent you' })).toHaveAttribute('aria-current', 'page');
    const items = page.getByRole('list', { name: 'Messages, newest first' }).getByRole('listitem');
    await expect(items).toHaveCount(3);
    await expect(items.nth(0)).toContainText('About your care');
    await expect(items.nth(0).getByRole('definition')).toHaveText(['Email', 'Sent encrypted to your key (PGP).']);
    await expect(items.nth(1)).toContainText('Marketing: Wellness newsletter');
    await expect(items.nth(1)).toContainText('Not sent: you took your permission back.');
    await expect(items.nth(2)).toContainText('About your account');
    await expect(items.nth(2).getByRole('definition')).toHaveText(['Text message', /^Waiting: quiet hours\. We will try again after .+/]);
    await expect(page.getByText(subject)).toHaveCount(0);
    await expect(page.getByRole('navigation', { name: 'Pages of messages' })).toHaveCount(0);
    await expectAxeClean(page);
  } finally {
    await db.delete(deliveries).where(and(eq(deliveries.orgId, orgId), eq(deliveries.patientId, patientId)));
    if (messageIds.length) await db.delete(messages).where(and(eq(messages.orgId, orgId), inArray(messages.id, messageIds)));
    await patient.remove();
  }
});
