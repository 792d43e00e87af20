// A worker process for crash tests: the real engine against DATABASE_URL, handing mail to SINK_URL, until killed.
// Prints "ready" once connected. Short lease and retry delays so a test sees recovery within seconds.
import { connect } from '../../db/client';
import { createSmtpTransport } from '../../server/delivery/transport';
import { runPass, type EngineDeps } from '../../server/engine/engine';
import { linkKeyring } from '../../server/links/tokens';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';

const handle = connect(process.env.DATABASE_URL!, { max: 6 });
const deps: EngineDeps = {
  db: handle.db,
  vault: kekRing(Buffer.alloc(32, 7)),
  links: linkKeyring(Buffer.alloc(32, 8)),
  publicUrl: new URL('https://portal.example.com'),
  mailFrom: 'no-reply@carepost.test',
  messageIdDomain: 'carepost.test',
  mail: createSmtpTransport(process.env.SINK_URL!, { pool: false }),
  sms: undefined,
  logger: createLogger({ level: 'silent' }),
  workerId: process.env.WORKER_ID ?? `crash-${process.pid}`,
  leaseMs: 1_500,
  retryBaseMs: 100,
};
console.log('ready');
const lanes = Number(process.env.LANES ?? 3);
await Promise.all(
  Array.from({ length: lanes }, async () => {
    for (;;) {
      try {
        if ((await runPass(deps, { batchSize: 10, concurrency: 1 })) === 0) await new Promise((r) => setTimeout(r, 50));
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // the database went away: try again
      }
    }
  }),
);
