import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { inject } from 'vitest';
import { connect } from '../../db/client';
import { loadConfig } from '../../server/config';
import { startMailCatcher } from '../../server/delivery/mail-catcher';
import { createDevSmsSink } from '../../server/delivery/sms';
import { createSmtpTransport } from '../../server/delivery/transport';
import { createHttpApp } from '../../server/http/app';
import { listen, loadRemixBuild } from '../../server/http/server';
import { createLogger } from '../../server/logger';

export const secret = Buffer.alloc(32, 9).toString('base64');

/** Starts the real Express + Remix app in this process against the test database, on a free port. */
export async function startTestServer(options: { production?: boolean; databaseUrl?: string; dataDir?: string } = {}) {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-http-'));
  const databaseUrl = options.databaseUrl ?? inject('databaseUrl');
  const config = loadConfig(
    options.production
      ? {
          NODE_ENV: 'production',
          DATABASE_URL: databaseUrl,
          SMTP_URL: 'smtp://127.0.0.1:1',
          PUBLIC_URL: 'https://portal.example.com',
          SESSION_SECRET: secret,
          LINK_SIGNING_SECRET: secret,
          VAULT_KEY: secret,
          CODE_HMAC_SECRET: secret,
          CAREPOST_DATA_DIR: dataDir,
        }
      : { NODE_ENV: 'test', DATABASE_URL: databaseUrl, CAREPOST_DATA_DIR: dataDir, PUBLIC_URL: 'http://localhost:3999' },
  );
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const database = connect(databaseUrl, { max: 3 });
  // A real SMTP server per test server: codes are read from the mail it received, never from a backdoor.
  const catcher = await startMailCatcher({ dataDir });
  const mail = createSmtpTransport(catcher.url, { pool: false });
  const sms = createDevSmsSink(dataDir);
  const app = createHttpApp({ config, database, logger, build: await loadRemixBuild(), mail, sms });
  const server = await listen(app, 0, '127.0.0.1');
  return {
    url: server.url,
    config,
    dataDir,
    logLines,
    fetch: (pathname: string, init?: RequestInit) => fetch(`${server.url}${pathname}`, { redirect: 'manual', ...init }),
    close: async () => {
      await server.close(1_000);
      await mail.close?.();
      await catcher.close();
      await database.close();
    },
  };
}
