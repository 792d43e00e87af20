import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { connect } from '../../db/client';
import { contactPoints, organisations, patients } from '../../db/schema/index';
import { runningEmbeddedUrl } from '../../server/runtime/database';
import { e2e } from '../../playwright.config';

/** A fresh patient of the demo organisation in the e2e server's database, removed again by `remove()`. */
export async function createE2ePatient(options: { dateOfBirth?: string } = {}) {
  const url = runningEmbeddedUrl(e2e.dataDir);
  if (!url) throw new Error(`the e2e server's database is not running (data in ${e2e.dataDir})`);
  const handle = connect(url, { max: 1 });
  const [org] = await handle.db.select().from(organisations).where(eq(organisations.slug, 'riverside'));
  const tag = randomBytes(4).toString('hex');
  const email = `e2e-${tag}@example.com`;
  const [patient] = await handle.db.insert(patients).values({ orgId: org!.id, externalRef: `e2e-${tag}`, displayName: `Robin E2E-${tag}`, dateOfBirth: options.dateOfBirth ?? null }).returning();
  await handle.db.insert(contactPoints).values({ orgId: org!.id, patientId: patient!.id, kind: 'email', value: email, source: 'organisation', verifiedAt: new Date() });
  return {
    id: patient!.id,
    orgId: org!.id,
    email,
    displayName: patient!.displayName,
    db: handle.db,
    remove: async () => {
      try {
        await handle.db.delete(patients).where(and(eq(patients.orgId, org!.id), eq(patients.id, patient!.id)));
      } catch {
        // A patient who signed an authorisation keeps their records (AV5: six years); the e2e folder is thrown away.
      } finally {
        await handle.close();
      }
    },
  };
}

/** Signs in through the real pages with the code from the real mail. */
export async function signInThroughUi(page: import('@playwright/test').Page, email: string, slug = 'riverside') {
  const { mailSnapshot, waitForCode } = await import('../support/mailbox');
  const ignore = await mailSnapshot(e2e.dataDir);
  await page.goto(`/o/${slug}/sign-in`);
  await page.getByLabel('Email address or mobile number').fill(email);
  await page.getByRole('button', { name: 'Send me a code' }).click();
  await page.getByRole('heading', { level: 1, name: 'Enter your code' }).waitFor();
  await page.getByLabel('6-digit code').fill(await waitForCode(e2e.dataDir, email, { ignore }));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: /^Signed in as/ }).waitFor();
}

/** A signed link for an e2e patient, minted with the e2e server's own keys (its secrets file). */
export async function mintE2eLink(patientId: string, purpose: 'preferences' | 'unsubscribe' | 'renewal', options: { topicKey?: string; channel?: string } = {}) {
  const { loadConfig } = await import('../../server/config');
  const { mintPatientLink } = await import('../../server/links/links');
  const { linkKeyring } = await import('../../server/links/tokens');
  const config = loadConfig({ CAREPOST_DATA_DIR: e2e.dataDir, NODE_ENV: 'test', PUBLIC_URL: e2e.baseURL });
  const url = runningEmbeddedUrl(e2e.dataDir)!;
  const handle = connect(url, { max: 1 });
  try {
    const result = await mintPatientLink(handle.db, linkKeyring(config.secrets.LINK_SIGNING_SECRET), config.publicUrl, {
      orgSlug: 'riverside',
      patient: { id: patientId },
      purpose,
      topicKey: options.topicKey,
      channel: options.channel,
      now: new Date(),
    });
    if (!result.ok) throw new Error(result.error);
    return new URL(result.url).pathname;
  } finally {
    await handle.close();
  }
}
