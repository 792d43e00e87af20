import { loadConfig } from '../server/config';
import { withDatabase } from '../server/runtime/database';
import { runMigrations } from './migrate';

const config = loadConfig();
await withDatabase(config, async (url) => {
  await runMigrations(url);
  console.log('migrations applied');
});
