// Worker process: `npm run worker -- --concurrency N`. Several may share one database.
import { runMigrations } from '../db/migrate';
import { loadConfigOrExit } from './config';
import { startMailCatcher } from './delivery/mail-catcher';
import { parseConcurrency } from './delivery/worker-loop';
import { createLogger } from './logger';
import { provideDatabase } from './runtime/database';
import { onShutdownSignal, startWorker } from './runtime/processes';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'carepost-worker' });
const concurrency = parseConcurrency(process.argv.slice(2));
const database = await provideDatabase(config, { attach: true });
await runMigrations(database.url);
// Outside production without SMTP_URL, mail goes to a catcher of its own that files into the same dev mailbox
// (<data dir>/mail, shown at /dev/mail) as `npm start`'s.
const catcher = config.smtpUrl ? undefined : await startMailCatcher({ dataDir: config.dataDir, log: (l) => logger.warn(l) });
const worker = await startWorker({ ...config, smtpUrl: config.smtpUrl ?? catcher!.url }, database.url, logger, concurrency);
onShutdownSignal(logger, async () => {
  await worker.close();
  await catcher?.close();
  await database.stop();
});
