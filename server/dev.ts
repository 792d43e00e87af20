// `npm start`: the whole product on one machine. Embedded Postgres (unless DATABASE_URL), the mail catcher
// (unless SMTP_URL), migrations, the demo seed, the web server and the worker, in one process.
import { seedDemo } from '../db/seed';
import { DEMO_ADMIN_PASSWORD, DEMO_ADMIN_TOTP_SECRET } from '../db/demo-credentials';
import { vaultRing } from './messages/vault';
import { connect } from '../db/client';
import { loadConfigOrExit } from './config';
import { startMailCatcher } from './delivery/mail-catcher';
import { createLogger } from './logger';
import { provideDatabase } from './runtime/database';
import { choosePort } from '../db/postmaster';
import { onShutdownSignal, shutdownInOrder, startWeb, startWorker } from './runtime/processes';

const baseConfig = loadConfigOrExit();
if (baseConfig.isProduction) {
  console.error('npm start runs the development stack. In production run `npm run web` and `npm run worker` (see README).');
  process.exit(1);
}
const logger = createLogger({ level: baseConfig.logLevel, name: 'carepost' });
// A second `npm start` must not take the first one's database away from it.
if (baseConfig.port !== 0 && (await choosePort(baseConfig.port)) !== baseConfig.port) {
  console.error(`Port ${baseConfig.port} is in use. Is Carepost already running? Stop it, or set PORT to another port.`);
  process.exit(1);
}
const started = Date.now();

const database = await provideDatabase(baseConfig, { attach: false, log: (line) => logger.debug({ postgres: line }) });
const catcher = baseConfig.smtpUrl ? undefined : await startMailCatcher({ dataDir: baseConfig.dataDir, port: Number(process.env.MAIL_CATCHER_PORT ?? 0), log: (l) => logger.warn(l) });
const config = { ...baseConfig, smtpUrl: baseConfig.smtpUrl ?? catcher!.url };

const web = await startWeb(config, database.url, logger);
const seedHandle = connect(database.url, { max: 1 });
const demo = await seedDemo(seedHandle.db, vaultRing(config)).finally(() => seedHandle.close());
const worker = await startWorker(config, database.url, logger, 1);
// People open the public URL (the CX1 check compares Origin against it), not the bind address.
const base = config.publicUrl.origin;

const lines = [
  '',
  `Carepost is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  '',
  `  Web:            ${base}`,
  `  Demo portal:    ${base}/o/${demo.slug}   (${demo.name})`,
  `  Dev mailbox:    ${base}/dev/mail${catcher ? `   (SMTP catcher on ${catcher.url})` : ''}`,
  `  Dev texts:      ${config.sms.provider === 'dev-sink' ? `${base}/dev/sms` : `SMS through ${config.sms.provider}`}`,
  `  Web push:       ${config.push ? `on; VAPID keys in ${process.env.VAPID_PUBLIC_KEY ? 'the environment' : `${config.dataDir}/vapid.json`} (opt in on the preferences page)` : 'off'}`,
  `  Health:         ${base}/healthz   ${base}/readyz`,
  `  Database:       ${database.embedded ? `embedded Postgres, data in ${config.dataDir}/pg` : 'DATABASE_URL'}`,
  '',
  `  Sign in at ${base}/o/${demo.slug}/sign-in with a demo patient's email or phone; the code arrives in the dev mailbox or dev texts:`,
  ...demo.patients.map((p) => `    ${p.name.padEnd(16)} ${p.email}${p.phone ? `   ${p.phone}` : ''}`),
  `  Demo admin sign-in: ${base}/admin/${demo.slug}/sign-in, ${demo.admins[0]!.email}, password ${DEMO_ADMIN_PASSWORD}, authenticator secret ${DEMO_ADMIN_TOTP_SECRET}`,
  '  (add the secret to an authenticator app; every demo admin below has the same password and secret)',
  ...demo.admins.map((a) => `    ${a.role.padEnd(16)} ${a.email}`),
  '',
  '  Ctrl-C stops everything, the embedded Postgres included.',
  '',
];
process.stdout.write(lines.join('\n') + '\n');

onShutdownSignal(logger, () =>
  shutdownInOrder(logger, [
    ['worker', () => worker.close()],
    ['web', () => web.close(3_000)],
    ['mail catcher', () => catcher?.close()],
    ['database', () => database.stop()],
  ]),
);
