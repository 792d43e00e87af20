import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServerBuild } from '@remix-run/node';
import type express from 'express';

export type RunningServer = { port: number; url: string; close: (graceMs?: number) => Promise<void> };

export async function loadRemixBuild(buildPath = path.resolve('build/index.js')): Promise<ServerBuild> {
  try {
    return (await import(pathToFileURL(buildPath).href)) as ServerBuild;
  } catch (error) {
    throw new Error(`Could not load the Remix build at ${buildPath}. Run \`npm run build\` first.\n${(error as Error).message}`);
  }
}

/** Listens, and closes gracefully: stop accepting, let in-flight requests finish, then drop what is left. */
export async function listen(app: express.Express, port: number, host: string): Promise<RunningServer> {
  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    port: actualPort,
    url: `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${actualPort}`,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
