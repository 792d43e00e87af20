// Production web process: `npm run web` (migrations are applied at start-up). With WEB_PROCESSES above 1 (the default
// on a machine with several cores, ADR 021) this process is a node:cluster primary: it provides the database, applies
// the migrations once, and forks that many workers, each a whole web server on the same port.
import { runMigrations } from '../db/migrate';
import { loadConfigOrExit } from './config';
import { createLogger } from './logger';
import { forkWebWorkers, isWebWorker, serveAsWebWorker } from './runtime/cluster';
import { provideDatabase } from './runtime/database';
import { onShutdownSignal, startWeb } from './runtime/processes';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'carepost-web' });

if (isWebWorker()) {
  // The primary gave us DATABASE_URL (its own, or the embedded cluster it owns) and has applied the migrations.
  await serveAsWebWorker(logger, () => startWeb(config, config.databaseUrl!, logger, { migrate: false }));
} else if (config.webProcesses === 1) {
  const database = await provideDatabase(config, { attach: true });
  const web = await startWeb(config, database.url, logger);
  logger.info({ url: web.url, processes: 1 }, 'web listening');
  onShutdownSignal(logger, async () => {
    await web.close();
    await database.stop();
  });
} else {
  const database = await provideDatabase(config, { attach: true });
  await runMigrations(database.url);
  let workers;
  try {
    workers = await forkWebWorkers({ count: config.webProcesses, env: { DATABASE_URL: database.url }, logger });
  } catch (error) {
    logger.fatal({ errorName: (error as Error).name, message: (error as Error).message }, 'web workers did not start');
    await database.stop();
    process.exit(1);
  }
  logger.info({ url: workers.url, processes: config.webProcesses, workerPids: workers.pids() }, 'web listening');
  // Once, whichever asks first: a signal, or the workers ending on their own (Ctrl-C reaches them too).
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await workers.stop();
      await database.stop();
    })());
  onShutdownSignal(logger, stop);
  // The set ends on its own when every worker was stopped directly (exit 0), or when crashes come too fast.
  workers.stopped.then(
    () => stop().then(() => process.exit(0)),
    (error: Error) => {
      logger.fatal({ message: error.message }, 'web workers keep dying; stopping');
      void stop().finally(() => process.exit(1));
    },
  );
}
