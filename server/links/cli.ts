// `npm run link -- --org <slug> --patient <id or external ref> --purpose <preferences|unsubscribe|renewal|pickup>
//   [--topic <key>] [--channel <email|sms|push|portal>] [--delivery <id>] [--days <n>]`
// Prints a signed link (CX4), minted by the same server function the API uses.
import { parseArgs } from 'node:util';
import { connect } from '../../db/client';
import { loadConfigOrExit } from '../config';
import { withDatabase } from '../runtime/database';
import { mintPatientLink } from './links';
import { LINK_PURPOSES, linkKeyring, type LinkPurpose } from './tokens';
import { isUuid } from '../ids';

const USAGE = 'usage: npm run link -- --org <slug> --patient <id or external ref> --purpose <preferences|unsubscribe|renewal|pickup> [--topic <key>] [--channel <channel>] [--delivery <id>] [--days <n>]';

const ERRORS: Record<string, string> = {
  unknown_organisation: 'No organisation has that slug.',
  unknown_patient: 'No patient with that id or external reference in this organisation.',
  unknown_topic: 'No topic with that key in this organisation.',
  invalid_channel: 'The channel must be one of email, sms, push, portal.',
  missing_context: 'unsubscribe needs --topic and --channel; renewal needs --topic; pickup needs --delivery.',
};

let args;
try {
  args = parseArgs({
    options: {
      org: { type: 'string' },
      patient: { type: 'string' },
      purpose: { type: 'string' },
      topic: { type: 'string' },
      channel: { type: 'string' },
      delivery: { type: 'string' },
      days: { type: 'string' },
    },
  }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
const days = args.days === undefined ? undefined : Number(args.days);
if (!args.org || !args.patient || !args.purpose || !(LINK_PURPOSES as readonly string[]).includes(args.purpose) || (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 366))) {
  console.error(USAGE);
  process.exit(2);
}

const config = loadConfigOrExit();
const exitCode = await withDatabase(config, async (databaseUrl) => {
  const handle = connect(databaseUrl, { max: 1, applicationName: 'carepost-link' });
  try {
    const keyring = linkKeyring(config.secrets.LINK_SIGNING_SECRET, config.previousLinkSecrets);
    const patient = isUuid(args.patient!) ? { id: args.patient! } : { externalRef: args.patient! };
    const result = await mintPatientLink(handle.db, keyring, config.publicUrl, {
      orgSlug: args.org!,
      patient,
      purpose: args.purpose as LinkPurpose,
      topicKey: args.topic,
      channel: args.channel,
      deliveryId: args.delivery,
      ttlSeconds: days === undefined ? undefined : days * 86_400,
      now: new Date(),
    });
    if (!result.ok) {
      console.error(ERRORS[result.error]);
      return 1;
    }
    console.log(result.url);
    console.error(`expires ${result.expiresAt.toISOString()}, link id ${result.linkId}`);
    return 0;
  } finally {
    await handle.close();
  }
});
process.exit(exitCode);
