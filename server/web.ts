// Production web process: `npm run web` (migrations are applied at start-up).
import { loadConfigOrExit } from './config';
import { createLogger } from './logger';
import { provideDatabase } from './runtime/database';
import { onShutdownSignal, startWeb } from './runtime/processes';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'carepost-web' });
const database = await provideDatabase(config, { attach: true });
const web = await startWeb(config, database.url, logger);
logger.info({ url: web.url }, 'web listening');
onShutdownSignal(logger, async () => {
  await web.close();
  await database.stop();
});
