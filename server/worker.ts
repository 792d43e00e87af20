// Worker process: `npm run worker -- --concurrency N`. Several may share one database.
import { runMigrations } from '../db/migrate';
import { loadConfigOrExit } from './config';
import { parseConcurrency } from './delivery/worker-loop';
import { createLogger } from './logger';
import { provideDatabase } from './runtime/database';
import { onShutdownSignal, startWorker } from './runtime/processes';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'carepost-worker' });
const concurrency = parseConcurrency(process.argv.slice(2));
const database = await provideDatabase(config, { attach: true });
await runMigrations(database.url);
const worker = await startWorker(config, database.url, logger, concurrency);
onShutdownSignal(logger, async () => {
  await worker.close();
  await database.stop();
});
