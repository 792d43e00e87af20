// A webhook dispatcher process for crash tests: fan-out and sends for ORG_ID against DATABASE_URL, until killed.
// Prints "ready" once connected. A short lease, so a killed process's claims are taken again within a second.
import { connect } from '../../db/client';
import { runWebhookPass } from '../../server/delivery/webhooks';
import { createLogger } from '../../server/logger';
import { kekRing } from '../../server/messages/vault';

const handle = connect(process.env.DATABASE_URL!, { max: 4 });
const deps = { db: handle.db, vault: kekRing(Buffer.alloc(32, 7)), logger: createLogger({ level: 'silent' }), orgIds: [process.env.ORG_ID!], leaseMs: 800, limit: 5, allowPrivateNetworks: true };
console.log('ready');
for (;;) {
  try {
    if ((await runWebhookPass(deps)) === 0) await new Promise((r) => setTimeout(r, 50));
  } catch {
    await new Promise((r) => setTimeout(r, 100));
  }
}
