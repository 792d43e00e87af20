// Web and worker as functions, so production runs them as separate processes and `npm start` runs both in one.
import { connect } from '../../db/client';
import { runMigrations } from '../../db/migrate';
import type { Config } from '../config';
import { createDevSmsSink, createTwilioSmsTransport, type SmsTransport } from '../delivery/sms';
import { createWebPushTransport, type PushTransport } from '../delivery/push';
import { startFeedbackServer } from '../delivery/bounces';
import { createMxTransport, createProbe, dnsMxResolver } from '../delivery/tls';
import { createSmtpTransport } from '../delivery/transport';
import { startWorkerLoop } from '../delivery/worker-loop';
import { LANE_PASS, runPass, type EngineDeps } from '../engine/engine';
import { linkKeyring } from '../links/tokens';
import { vaultRing } from '../messages/vault';
import { runWebhookPass } from '../delivery/webhooks';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createHttpApp } from '../http/app';
import { expireDueAuthorizations } from '../consent/ledger';
import { runCampaignPass } from '../campaigns/lane';
import { pruneIdentityState } from '../identity/maintenance';

const HOUSEKEEPING_EVERY_MS = 10 * 60 * 1000;
import { listen, loadRemixBuild } from '../http/server';
import type { Logger } from '../logger';

export function createSms(config: Config): SmsTransport | undefined {
  switch (config.sms.provider) {
    case 'twilio':
      return createTwilioSmsTransport(config.sms);
    case 'dev-sink':
      return createDevSmsSink(config.dataDir);
    case 'none':
      return undefined;
  }
}

/** Web push when VAPID keys are configured (always outside production); else undefined, said once in the log (ADR 015). */
export function createPush(config: Config, logger: Logger): PushTransport | undefined {
  if (!config.push) {
    logger.info('web push is off: set VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT to turn it on');
    return undefined;
  }
  return createWebPushTransport({ vapid: config.push, allowPrivateNetworks: !config.isProduction });
}

/** `migrate: false` in a cluster worker (ADR 021): its primary has applied the migrations once, before forking. */
export async function startWeb(config: Config, databaseUrl: string, logger: Logger, options: { migrate?: boolean } = {}) {
  if (!config.smtpUrl) throw new Error('SMTP_URL is not set: the web process sends sign-in codes by email');
  if (options.migrate !== false) await runMigrations(databaseUrl);
  const database = connect(databaseUrl, { max: 10, applicationName: 'carepost-web' });
  const build = await loadRemixBuild();
  const mail = createSmtpTransport(config.smtpUrl, { dkim: config.dkim });
  const sms = createSms(config);
  const app = createHttpApp({ config, database, logger, build, mail, sms });
  const server = await listen(app, config.port, config.host);
  return {
    url: server.url,
    port: server.port,
    close: async (graceMs?: number) => {
      await server.close(graceMs);
      await mail.close?.();
      await sms?.close?.();
      await database.close();
    },
  };
}

export async function startWorker(config: Config, databaseUrl: string, logger: Logger, concurrency: number) {
  if (!config.smtpUrl) throw new Error('SMTP_URL is not set: the worker hands mail to it');
  const database = connect(databaseUrl, { max: concurrency + 4, applicationName: 'carepost-worker' });
  const mail = createSmtpTransport(config.smtpUrl, { maxConnections: Math.max(2, concurrency), dkim: config.dkim });
  const sms = createSms(config);
  const push = createPush(config, logger);
  const deps: EngineDeps = {
    db: database.db,
    vault: vaultRing(config),
    links: linkKeyring(config.secrets.LINK_SIGNING_SECRET, config.previousLinkSecrets),
    publicUrl: config.publicUrl,
    mailFrom: config.mailFrom,
    messageIdDomain: config.publicUrl.hostname,
    mail,
    sms,
    push,
    logger,
    workerId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    // TR1: the content over required TLS to the recipient's own server, when it takes TLS (ADR 007).
    tls: config.directTlsDelivery
      ? {
          probe: createProbe({ resolver: dnsMxResolver, timeoutMs: 10_000, ehloName: config.publicUrl.hostname }),
          transport: createMxTransport({ resolver: dnsMxResolver, timeoutMs: 30_000, ehloName: config.publicUrl.hostname, dkim: config.dkim }),
        }
      : undefined,
  };
  // Housekeeping (spent identity state, authorisations past their expiry) at most every ten minutes across lanes.
  let lastHousekeeping = 0;
  const pass = async () => {
    if (Date.now() - lastHousekeeping >= HOUSEKEEPING_EVERY_MS) {
      lastHousekeeping = Date.now();
      const pruned = await pruneIdentityState(database.db, new Date());
      const expired = await expireDueAuthorizations(database.db, new Date());
      if (pruned.verifications + pruned.sessions + expired > 0) logger.info({ ...pruned, expiredAuthorizations: expired }, 'housekeeping');
    }
    // Each lane claims its own batch and works through it three deliveries at a time (LANE_PASS, ADR 027).
    return runPass(deps, LANE_PASS);
  };
  // Bounces and complaints (issue 5). Unset: no listener. Set it on one worker process only (several would compete).
  const feedback = config.feedbackSmtpPort ? await startFeedbackServer({ db: database.db, port: config.feedbackSmtpPort, logger, links: deps.links }) : undefined;
  const worker = await startWorkerLoop({ sql: database.sql, logger, concurrency, pass });
  // Renewal campaigns (issue 8): one lane, polling and woken by launch/resume; several worker processes share the
  // campaigns through SKIP LOCKED on the campaign row, and the throttle is counted under that lock.
  const campaignLane = await startWorkerLoop({ sql: database.sql, logger, concurrency: 1, pass: () => runCampaignPass({ db: database.db, vault: deps.vault, logger }) });
  // Outbound webhooks (issue 7): one lane, polling; several worker processes share the work through SKIP LOCKED.
  const webhooks = await startWorkerLoop({ sql: database.sql, logger, concurrency: 1, pass: () => runWebhookPass({ db: database.db, vault: deps.vault, logger, allowPrivateNetworks: !config.isProduction }) });
  return {
    close: async () => {
      await feedback?.close();
      await webhooks.stop();
      await campaignLane.stop();
      await worker.stop();
      await mail.close?.();
      await sms?.close?.();
      await database.close();
    },
  };
}

/** Runs shutdown steps in order; a step that fails is logged and the next one still runs. */
export async function shutdownInOrder(logger: Logger, steps: [name: string, step: () => Promise<void> | undefined][]): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      logger.warn({ step: name, errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'shutdown step failed');
    }
  }
}

/** Runs `stop` once on SIGINT or SIGTERM; a second signal exits at once. */
export function onShutdownSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ errorName: (error as Error).name }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
