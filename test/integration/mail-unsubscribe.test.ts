// EM1: the mailto: half of List-Unsubscribe works: a mail to unsubscribe@ with the signed token in its subject opts the
// patient out of that topic on that channel; without a valid token, or with a token for another purpose, nothing.
import { and, eq } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicPreferences } from '../../db/schema/index';
import { startFeedbackServer } from '../../server/delivery/bounces';
import { unsubscribeMailto } from '../../server/delivery/mail-unsubscribe';
import { linkKeyring, mintLink } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const keyring = linkKeyring(Buffer.alloc(32, 4));
let server: Awaited<ReturnType<typeof startFeedbackServer>>;
beforeAll(async () => {
  server = await startFeedbackServer({ db: handle.db, port: 0, logger: createLogger({ level: 'silent' }), links: keyring });
});
afterAll(async () => {
  await server.close();
  await handle.close();
});

async function mailTo(mailto: string) {
  const url = new URL(mailto);
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, ignoreTLS: true });
  await transport.sendMail({ from: 'patient@example.com', to: url.pathname, subject: decodeURIComponent(url.searchParams.get('subject') ?? ''), text: '' });
  transport.close();
}

describe('mailto unsubscribe', () => {
  it('EM1: the mailto in List-Unsubscribe opts out that topic on that channel; forged or wrong-purpose tokens do nothing', async () => {
    const org = await createTestOrganisation(handle);
    const { patient } = await createTestPatient(handle, org.id);
    const { topic } = await publishedTopic(handle, org.id);
    const prefOf = async () =>
      (await handle.db.select().from(topicPreferences).where(and(eq(topicPreferences.orgId, org.id), eq(topicPreferences.patientId, patient.id), eq(topicPreferences.topicId, topic.id))))[0];
    const mint = (purpose: 'unsubscribe' | 'preferences') =>
      mintLink(keyring, { purpose, orgId: org.id, patientId: patient.id, context: { topicId: topic.id, channel: 'email' }, now: new Date(), linkId: crypto.randomUUID() });

    const wrongPurpose = await mint('preferences');
    await mailTo(unsubscribeMailto('carepost.test', wrongPurpose));
    const forged = await mint('unsubscribe');
    await mailTo(unsubscribeMailto('carepost.test', `${forged.slice(0, -3)}${forged.endsWith('AAA') ? 'BBB' : 'AAA'}`));
    await mailTo('mailto:unsubscribe@carepost.test?subject=unsubscribe');
    expect(await prefOf()).toBeUndefined();

    await mailTo(unsubscribeMailto('carepost.test', await mint('unsubscribe')));
    expect((await prefOf())!.channels).toEqual(['sms', 'push', 'portal']);
  });
});
