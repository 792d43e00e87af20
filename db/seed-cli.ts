import { loadConfigOrExit } from '../server/config';
import { withDatabase } from '../server/runtime/database';
import { connect } from './client';
import { runMigrations } from './migrate';
import { seedDemo } from './seed';
import { vaultRing } from '../server/messages/vault';

const config = loadConfigOrExit();
if (config.isProduction) {
  console.error('db:seed loads demo data and does not run in production.');
  process.exit(1);
}
await withDatabase(config, async (url) => {
  await runMigrations(url);
  const handle = connect(url, { max: 1 });
  try {
    const summary = await seedDemo(handle.db, vaultRing(config));
    console.log(`seeded ${summary.name} (/o/${summary.slug}) with ${summary.patients.length} patients`);
  } finally {
    await handle.close();
  }
});
