// `npm run api-key -- --org <slug> --name <label> --scopes messages,consent,links,patients,webhooks`
// `npm run api-key -- --org <slug> --rotate <key id> [--grace-minutes N]` · `npm run api-key -- --org <slug> --revoke <key id>`
// Until the admin console exists (issue 8), keys are made here. The key is printed once; only its HMAC is stored.
import { parseArgs } from 'node:util';
import { eq } from 'drizzle-orm';
import { connect } from '../../db/client';
import { API_SCOPES, organisations, type ApiScope } from '../../db/schema/index';
import { loadConfigOrExit } from '../config';
import { withDatabase } from '../runtime/database';
import { createApiKey, revokeApiKey, rotateApiKey } from './keys';

const USAGE = `usage: npm run api-key -- --org <slug> (--name <label> --scopes <${API_SCOPES.join(',')}> | --rotate <key id> [--grace-minutes N] | --revoke <key id>)`;

let args;
try {
  args = parseArgs({
    options: { org: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' }, rotate: { type: 'string' }, revoke: { type: 'string' }, 'grace-minutes': { type: 'string' } },
  }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
const scopes = (args.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const creating = args.name !== undefined;
const grace = Number(args['grace-minutes'] ?? 0);
if (!args.org || [creating, args.rotate !== undefined, args.revoke !== undefined].filter(Boolean).length !== 1 || (creating && (scopes.length === 0 || scopes.some((s) => !(API_SCOPES as readonly string[]).includes(s)))) || !(grace >= 0 && grace <= 7 * 24 * 60)) {
  console.error(USAGE);
  process.exit(2);
}

const config = loadConfigOrExit();
const exitCode = await withDatabase(config, async (databaseUrl) => {
  const handle = connect(databaseUrl, { max: 1, applicationName: 'carepost-api-key' });
  try {
    const [org] = await handle.db.select({ id: organisations.id }).from(organisations).where(eq(organisations.slug, args.org!));
    if (!org) {
      console.error('No organisation has that slug.');
      return 1;
    }
    const secret = config.secrets.CODE_HMAC_SECRET;
    const actor = { type: 'system' as const };
    const now = new Date();
    if (args.revoke) {
      const done = await revokeApiKey(handle.db, { orgId: org.id, keyId: args.revoke, at: now, actor });
      console.error(done ? 'revoked' : 'No such active key in this organisation.');
      return done ? 0 : 1;
    }
    const made = args.rotate
      ? await rotateApiKey(handle.db, secret, { orgId: org.id, keyId: args.rotate, graceMs: grace * 60_000, actor, now })
      : await createApiKey(handle.db, secret, { orgId: org.id, name: args.name!, scopes: scopes as ApiScope[], actor, now });
    if (!made) {
      console.error('No such active key in this organisation.');
      return 1;
    }
    console.log(made.key);
    console.error(`key id ${made.id}. Store the key now: it is not shown again.${args.rotate ? ` The old key stops working ${grace ? `in ${grace} minutes` : 'now'}.` : ''}`);
    return 0;
  } finally {
    await handle.close();
  }
});
process.exit(exitCode);
