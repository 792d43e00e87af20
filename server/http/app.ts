// The Express app in front of the Remix build: headers, logging, CX1, static files, health, Remix.
import path from 'node:path';
import type { ServerBuild } from '@remix-run/node';
import express from 'express';
import type { DbHandle } from '../../db/client';
import { migrationStatus } from '../../db/migrate';
import type { Config } from '../config';
import type { SmsTransport } from '../delivery/sms';
import type { MailTransport } from '../delivery/transport';
import { buildRouter } from '../api/framework';
import { docsPage, openApiDocument } from '../api/openapi';
import { OPERATIONS } from '../api/operations';
import { linkKeyring } from '../links/tokens';
import { vaultRing } from '../messages/vault';
import type { Logger } from '../logger';
import { remixRequestHandler } from './compression';
import type { CarepostLoadContext } from './load-context';
import { requestLog } from './request-log';
import { refuseCrossSite, securityHeaders } from './security';
import { smsWebhook } from './sms-webhook';
import { staticFiles } from './static-files';
import { oneClickUnsubscribe } from './unsubscribe';

export type HttpAppOptions = {
  config: Config;
  database: DbHandle;
  logger: Logger;
  build: ServerBuild;
  mail: MailTransport;
  sms: SmsTransport | undefined;
  publicDir?: string;
};

export function createHttpApp({ config, database, logger, build, mail, sms, publicDir = path.resolve('public') }: HttpAppOptions) {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);

  app.use(requestLog(logger));
  app.use(securityHeaders({ isProduction: config.isProduction }));

  // The organisation API (issue 7): its own authentication (API keys), JSON in and out, problem details for errors.
  // First after the headers and the log: nothing below applies to it (static files, cookies, CX1), and a GET that
  // passed the static handler cost a file-system lookup per request (issue 7's benchmark, ADR 021).
  const links = { keyring: linkKeyring(config.secrets.LINK_SIGNING_SECRET, config.previousLinkSecrets) };
  const vault = vaultRing(config);
  const apiDocument = openApiDocument(OPERATIONS, new URL('/api/v1', config.publicUrl).toString());
  app.get('/api/v1/openapi.json', (_req, res) => void res.type('application/json').send(JSON.stringify(apiDocument)));
  app.get('/api/v1/docs', (_req, res) => void res.type('text/html').send(docsPage(apiDocument)));
  app.use('/api/v1', buildRouter({ db: database.db, vault, links: links.keyring, publicUrl: config.publicUrl, hmacSecret: config.secrets.CODE_HMAC_SECRET, logger, allowHttpWebhooks: !config.isProduction }, OPERATIONS));

  // Fingerprinted build output for a year, the service worker and manifest revalidated, compressed at build time.
  app.use(staticFiles(publicDir));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      const status = await migrationStatus(database.sql);
      if (!status.upToDate) {
        res.status(503).json({ status: 'not_ready', reason: 'migrations_pending', applied: status.applied, expected: status.expected });
        return;
      }
      res.json({ status: 'ready', migrations: status.applied });
    } catch (error) {
      logger.warn({ errorCode: (error as { code?: string }).code }, 'readiness check failed');
      res.status(503).json({ status: 'not_ready', reason: 'database_unreachable' });
    }
  });

  app.use(oneClickUnsubscribe({ db: database.db, keyring: links.keyring, logger }));
  app.use(smsWebhook({ sms: config.sms, isProduction: config.isProduction, publicUrl: config.publicUrl, db: database.db, codeSecret: config.secrets.CODE_HMAC_SECRET, logger }));
  app.use(refuseCrossSite({ allowedOrigins: [config.publicUrl.origin], exemptPrefixes: ['/api/'] }));

  const context = {
    db: database.db,
    config: { mode: config.mode, isProduction: config.isProduction, publicUrl: config.publicUrl, dataDir: config.dataDir },
    logger,
    identity: {
      codeSecret: config.secrets.CODE_HMAC_SECRET,
      cookies: { secure: config.publicUrl.protocol === 'https:' },
      // PK2: the exact origin patients use, and its host name as the relying party id.
      webauthn: { rpId: config.publicUrl.hostname, rpName: 'Carepost', origins: [config.publicUrl.origin] },
    },
    transports: { mail, sms, mailFrom: config.mailFrom, publicHost: config.publicUrl.host, logger },
    links,
    vault,
    push: config.push ? { vapidPublicKey: config.push.publicKey } : undefined,
  };
  // Remix, with documents and data compressed only for requests no other site can have started (ADR 023).
  app.all(
    '*',
    remixRequestHandler({
      build,
      mode: config.isProduction ? 'production' : 'development',
      getLoadContext: (req, res): CarepostLoadContext => ({
        ...context,
        cspNonce: res.locals.cspNonce as string,
        clientIp: req.ip ?? 'unknown',
        responseDrained: () => responseDrained(res),
      }),
    }),
  );

  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    logger.error({ errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'unhandled error');
    if (!res.headersSent) res.status(500).type('text/plain').send('Something went wrong on our side. Please try again.');
  });
  return app;
}

function responseDrained(res: express.Response): Promise<void> {
  if (!res.writableNeedDrain || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
