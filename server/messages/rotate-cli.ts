// `npm run vault:rotate [-- --json] [--batch-size N]`: re-wraps every sealed value under the current VAULT_KEY (TR1).
// Prints a summary per column and, with --json, the report as one JSON object on the last line. Exits 1 when any value
// did not open, because then the old key must not be dropped yet.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { connect } from '../../db/client';
import { loadConfigOrExit } from '../config';
import { createLogger } from '../logger';
import { withDatabase } from '../runtime/database';
import { rotateVault, type RotationCounts } from './rotate';
import { vaultRing } from './vault';

const USAGE = 'usage: npm run vault:rotate [-- --json] [--batch-size <rows, default 500>]';

const WIDTHS = [9, 10, 9, 7, 8];

const PROCEDURE = [
  'Rotating the vault key:',
  '  1. Set VAULT_KEY to a new key (openssl rand -base64 32) and put the old one in VAULT_KEY_PREVIOUS',
  '     (comma-separated when there are several); restart the web and worker processes so new values are sealed',
  '     with the new key while old ones still open.',
  '  2. Run npm run vault:rotate with the same environment. It re-wraps each data key under the new key; the',
  '     encrypted contents themselves are not rewritten. Running it again is harmless.',
  '  3. When a run reports failed 0 and skipped 0, remove the old key from VAULT_KEY_PREVIOUS and restart.',
  '     A failed value did not open with any configured key (unknown key or damaged): look at it before dropping',
  '     a key, because whatever is still sealed under a dropped key can never be opened again.',
].join('\n');

let args;
try {
  args = parseArgs({ options: { json: { type: 'boolean', default: false }, 'batch-size': { type: 'string' }, help: { type: 'boolean', default: false } } }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(`${USAGE}\n\n${PROCEDURE}`);
  process.exit(0);
}
const batchSize = args['batch-size'] === undefined ? 500 : Number(args['batch-size']);
if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
  console.error(USAGE);
  process.exit(2);
}

const config = loadConfigOrExit();
// Logs go to stderr so stdout stays the summary, with the JSON report on its last line.
const logger = createLogger({ level: config.logLevel, name: 'vault-rotate', destination: pino.destination({ dest: 2, sync: true }) });
const ring = vaultRing(config);

const exitCode = await withDatabase(config, async (databaseUrl) => {
  const handle = connect(databaseUrl, { max: 2, applicationName: 'carepost-vault-rotate' });
  try {
    const report = await rotateVault(handle.db, ring, { batchSize, logger });
    const row = (name: string, cells: (string | number)[]) => `${name.padEnd(38)}${cells.map((cell, i) => String(cell).padStart(WIDTHS[i]!)).join('')}`;
    const counts = (c: RotationCounts) => [c.scanned, c.rewrapped, c.alreadyCurrent, c.failed, c.skipped];
    console.log(`Current key id ${ring.current.kid}; previous key ids: ${ring.all.slice(1).map((k) => k.kid).join(', ') || 'none'}`);
    console.log(row('column', ['scanned', 'rewrapped', 'current', 'failed', 'skipped']));
    for (const [name, c] of Object.entries(report.columns)) console.log(row(name, counts(c)));
    console.log(row('total', counts(report.totals)));
    for (const f of report.failures) console.log(`failed: ${f.column} ${f.key} (organisation ${f.orgId}): ${f.reason}`);
    const unlisted = report.totals.failed - report.failures.length;
    if (unlisted > 0) console.log(`... and ${unlisted} more failures (see the log on stderr)`);
    console.log('');
    if (report.totals.failed > 0) {
      console.log(`${report.totals.failed} values did not open: keep every key in VAULT_KEY_PREVIOUS until they are understood.`);
    } else if (report.totals.skipped > 0) {
      console.log(`${report.totals.skipped} values were busy or went away during the run: run it again before dropping the old key.`);
    } else {
      console.log(`Every sealed value is under key ${ring.current.kid}: VAULT_KEY_PREVIOUS can now be emptied.`);
    }
    console.log(`\n${PROCEDURE}`);
    if (args.json) console.log(JSON.stringify(report));
    return report.totals.failed === 0 ? 0 : 1;
  } finally {
    await handle.close();
  }
});
process.exit(exitCode);
