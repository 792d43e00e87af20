// Issue 8, roles: a marketer sees topics, campaigns and aggregate figures only, never a patient's name, contact point
// or message. This walks EVERY admin route in the Remix build (so a new page is covered the day it lands) as a
// marketer, with real patients, authorisations, a campaign and a message in the organisation, and checks that no
// page answers with their names, email addresses, phone numbers or message text.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../server/campaigns/campaigns';
import { grantAuthorization } from '../../server/consent/ledger';
import { enqueueMessage } from '../../server/engine/enqueue';
import { loadRemixBuild } from '../../server/http/server';
import { vaultRing } from '../../server/messages/vault';
import { createTestAdmin } from '../support/admin';
import { publishedTopic } from '../support/consent';
import { createTestOrganisation, testDatabase } from '../support/db';
import { startTestServer } from '../support/http';
import { createTestPatient } from '../support/identity';

const handle = testDatabase();
const db = handle.db;
let dev: Awaited<ReturnType<typeof startTestServer>>;
let org: Awaited<ReturnType<typeof createTestOrganisation>>;
const secrets: string[] = [];
const ids: Record<string, string> = {};

beforeAll(async () => {
  dev = await startTestServer();
  org = await createTestOrganisation(handle, 'Marketer Clinic');
  const { topic, text } = await publishedTopic(handle, org.id, { validForMonths: 12 });
  const owner = await createTestAdmin(db, org.id, 'owner');
  const evidence = { method: 'code_email', verifiedAt: new Date().toISOString(), ipAddress: '127.0.0.1', userAgent: 'vitest', via: 'portal' as const };
  const body = `Biopsy result ${randomBytes(4).toString('hex')}`;
  for (let i = 0; i < 3; i++) {
    const { patient, email } = await createTestPatient(handle, org.id, { unverifiedPhone: true });
    secrets.push(patient.displayName, email, patient.externalRef);
    const granted = await grantAuthorization(db, { orgId: org.id, patientId: patient.id, topicId: topic.id, textId: text.id, channels: ['email'], signatureName: patient.displayName, evidence, now: new Date() });
    expect(granted.status).toBe('granted');
    const sent = await db.transaction((tx) =>
      enqueueMessage(tx, vaultRing(dev.config), { orgId: org.id, category: 'treatment', content: { subject: body, text: body }, recipients: [{ patientId: patient.id, channels: ['email'] }], actor: { type: 'system' }, now: new Date() }),
    );
    expect(sent.ok).toBe(true);
  }
  secrets.push(body);
  const campaign = await createCampaign(db, {
    orgId: org.id,
    adminId: owner.adminId,
    now: new Date(),
    draft: { name: 'Renew 2026', kind: 'renewal', topicIds: [topic.id], expiringWithinDays: 365, grantedBefore: null, channels: ['email'], throttlePerMinute: 100, scheduledAt: null },
  });
  ids.id = campaign.id;
  ids.topicId = topic.id;
  ids.token = 'x'.repeat(43);
});
afterAll(async () => {
  await dev.close();
  await handle.close();
});

describe('EN3: a marketer sees no PHI on any admin page', () => {
  it('EN3: every admin route in the build answers a marketer without a patient name, email, phone, reference or message text', async () => {
    const build = await loadRemixBuild();
    const routes = Object.values(build.routes);
    const byId = new Map(routes.map((r) => [r.id, r]));
    const fullPath = (id: string): string => {
      const r = byId.get(id)!;
      const parent = r.parentId && r.parentId !== 'root' ? fullPath(r.parentId) : '';
      return [parent, r.path ?? ''].filter(Boolean).join('/');
    };
    const adminPaths = [...new Set(routes.filter((r) => r.id.startsWith('routes/admin.')).map((r) => `/${fullPath(r.id)}`))];
    expect(adminPaths.length).toBeGreaterThan(20);
    const marketer = await createTestAdmin(db, org.id, 'marketer');
    const seen: string[] = [];
    for (const pattern of adminPaths) {
      const path = pattern.replace(':slug', org.slug).replace(/:(\w+)/g, (_m, name: string) => ids[name] ?? 'unknown');
      const res = await dev.fetch(path, { headers: { cookie: marketer.cookie } });
      const text = await res.text();
      seen.push(`${res.status} ${pattern}`);
      for (const secret of secrets) expect(text, `${pattern} (${res.status}) shows ${secret}`).not.toContain(secret);
      expect(text).not.toMatch(/\+1555\d{7}/);
    }
    // The walk reached the pages a marketer may use, and was refused the others.
    expect(seen).toContain(`200 /admin/:slug/campaigns/:id`);
    expect(seen).toContain(`200 /admin/:slug/compliance`);
    expect(seen).toContain(`403 /admin/:slug/campaigns/:id/recipients`);
    expect(seen).toContain(`403 /admin/:slug/audit`);
    expect(seen).toContain(`403 /admin/:slug/support`);
  });
});
