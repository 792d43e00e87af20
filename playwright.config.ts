import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig, devices } from '@playwright/test';

const chromium = process.env.CHROME_PATH || '/usr/bin/chromium';
if (!fs.existsSync(chromium)) {
  // One line, and how to fix it: Playwright's own browser download cannot work on this network.
  console.error(`Chromium not found at ${chromium}: install it with \`apt-get install -y chromium\` or set CHROME_PATH.`);
  process.exit(1);
}

const port = Number(process.env.E2E_PORT ?? 3947);
const mailPort = Number(process.env.E2E_MAIL_PORT ?? 2947);
const dataDir = path.join(os.tmpdir(), `carepost-e2e-${port}`);
/** Debian's Chromium and its flags, shared with bench/lighthouse.ts. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const chromiumPath = chromium;
export const e2e = { baseURL: `http://localhost:${port}`, mailUrl: `smtp://127.0.0.1:${mailPort}`, dataDir };

export default defineConfig({
  testDir: 'test/e2e',
  fullyParallel: true,
  // Each test runs axe several times against a server, worker and Postgres sharing two cores with the browser.
  timeout: 60_000,
  workers: 2,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list']],
  use: {
    baseURL: e2e.baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: chromiumArgs,
    },
  },
  projects: [
    {
      name: 'mobile',
      use: { ...devices['Pixel 7'], browserName: 'chromium' },
      // The admin console and its long campaign journey run at desktop size only.
      testIgnore: [/admin-[^/]*\.spec\.ts$/, /campaigns\.spec\.ts$/, /axe-check\.spec\.ts$/],
    },
    {
      name: 'desktop',
      use: { ...devices['Desktop Chrome'], browserName: 'chromium' },
      // The patient journeys run at phone size (mobile first). At desktop size every patient page is still scanned
      // with axe in i18n.spec's sweep, and the sign-in journey, the Spanish journey and the push opt-in run here, so
      // the suite fits its budget on two cores (ADR 020).
      testIgnore: [/(consent|pickup|passkeys|landing|session|contacts|pwa|encryption|deliveries|dev-mail)\.spec\.ts$/],
    },
  ],
  webServer: {
    // The same stack `npm start` runs, on its own throwaway data folder and ports.
    command: `node --import tsx scripts/e2e-server.ts`,
    url: `${e2e.baseURL}/readyz`,
    env: { PORT: String(port), MAIL_CATCHER_PORT: String(mailPort), CAREPOST_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    reuseExistingServer: false,
    timeout: 120_000,
    gracefulShutdown: { signal: 'SIGINT', timeout: 15_000 },
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
