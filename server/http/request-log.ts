import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger';
import { isUuid } from '../ids';

// Long opaque path segments are signed tokens (pickup, preference links): they never reach a log.
// Row ids (UUIDs) are not secrets and stay readable.
const LONG_SEGMENT = /(?<=\/)[A-Za-z0-9_.~%-]{32,}(?=\/|$)/g;

export function loggablePath(path: string): string {
  return path.replace(LONG_SEGMENT, (segment) => (isUuid(segment) ? segment : ':token'));
}

/** One line per request: method, path without the query string, status, duration. No bodies, no cookies. */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      if (req.path === '/healthz') return;
      logger.info(
        {
          requestId,
          method: req.method,
          path: loggablePath(req.path),
          status: res.statusCode,
          durationMs: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        },
        'request',
      );
    });
    next();
  };
}
