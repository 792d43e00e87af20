// What both benchmarks need: progress lines that keep stdout's last line for the JSON result, a throwaway embedded
// Postgres, and a clinic with one marketing topic and a published authorisation text.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type DbHandle } from '../db/client';
import { startEmbeddedPostgres } from '../db/embedded';
import { runMigrations } from '../db/migrate';
import { consentTopics, organisations, type AuthorizationText } from '../db/schema/index';
import { createTextDraft, publishText } from '../server/consent/texts';
import type { MailTransport } from '../server/delivery/transport';
import { runPass, type EngineDeps } from '../server/engine/engine';
import { linkKeyring } from '../server/links/tokens';
import { createLogger } from '../server/logger';
import { kekRing } from '../server/messages/vault';

/** With --json, progress goes to stderr so the JSON object is stdout's only line. */
export function progress(json: boolean): (line: string) => void {
  return (line) => (json ? console.error(line) : console.log(line));
}

/** Runs `body` against a migrated, throwaway embedded Postgres, and removes it afterwards. */
export async function withBenchDatabase<T>(name: string, poolSize: number, body: (handle: DbHandle, url: string) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `carepost-bench-${name}-`));
  fs.chmodSync(dataDir, 0o755);
  const cluster = await startEmbeddedPostgres({
    dataDir,
    preferredPort: 0,
    database: 'carepost_bench',
    ephemeral: true,
  });
  try {
    await runMigrations(cluster.url);
    const handle = connect(cluster.url, { max: poolSize });
    try {
      return await body(handle, cluster.url);
    } finally {
      await handle.close();
    }
  } finally {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** An organisation with one marketing topic ("news") and its published authorisation text. */
export async function createBenchClinic(handle: DbHandle, slug: string, name: string, now: Date) {
  const { db } = handle;
  const [org] = await db.insert(organisations).values({ slug, name }).returning();
  const [topic] = await db.insert(consentTopics).values({ orgId: org!.id, key: 'news', name: 'News', description: 'News.' }).returning();
  const draft = await createTextDraft(db, {
    orgId: org!.id,
    topicId: topic!.id,
    validForMonths: 12,
    elements: {
      information: 'Your name and email address.',
      disclosedBy: `${name} uses it.`,
      recipients: `${name} receives it.`,
      purpose: 'To send you news. This is marketing.',
      expiry: 'This ends 12 months after you sign.',
      revocation: 'You can take it back at any time in the portal.',
      noConditioning: 'Your care does not depend on signing.',
      redisclosure: 'The recipient may share it again, and it may then not be protected.',
    },
  });
  const published = await publishText(db, {
    orgId: org!.id,
    textId: draft.id,
    actor: { type: 'system' },
    now,
  });
  if (published.status !== 'published') throw new Error('bench: text not published');
  const text: AuthorizationText = published.text;
  return { org: org!, topic: topic!, text };
}

/** The engine's settings in bench:send, in its own process and in its forked engine processes: the same keys, so
 * every process opens the messages the bench sealed and mints the same links. */
export const benchLinkDeps = () => ({
  links: linkKeyring(Buffer.alloc(32, 2)),
  publicUrl: new URL('https://portal.example.com'),
  mailFrom: 'Bench Clinic <no-reply@bench.test>',
  messageIdDomain: 'bench.test',
});
export const benchVault = () => kekRing(Buffer.alloc(32, 1));
export function benchEngineDeps(db: DbHandle['db'], mail: MailTransport): EngineDeps {
  return { db, vault: benchVault(), ...benchLinkDeps(), mail, sms: undefined, logger: createLogger({ level: 'silent' }) };
}

/** Engine lanes as the worker runs them, each claiming and processing batches until nothing is due: the same loop for
 * bench:send's in-process run and for each of its engine processes, so both modes drive the engine alike. */
export async function runEngineLanes(deps: EngineDeps, lanes: number, workerPrefix: string, options: { batchSize: number; concurrency: number }): Promise<void> {
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const laneDeps = { ...deps, workerId: `${workerPrefix}-${lane}` };
      while ((await runPass(laneDeps, options)) > 0) {
        /* until nothing is due */
      }
    }),
  );
}
