import { loadConfigOrExit } from '../server/config';
import { withDatabase } from '../server/runtime/database';
import { runMigrations } from './migrate';

const config = loadConfigOrExit();
await withDatabase(config, async (url) => {
  await runMigrations(url);
  console.log('migrations applied');
});
