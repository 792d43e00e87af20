import pino from 'pino';

export type Logger = pino.Logger;

/**
 * One JSON logger for every process. Callers log ids and reason codes; never bodies, cookies, query strings,
 * codes, contact points or message content (AU2, "No PHI, codes or secrets in logs").
 */
export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name ?? 'carepost',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A safety net only: callers log ids and reason codes. (`errorCode` is an error's stable code, e.g. ESOCKET.)
      redact: { paths: ['*.authorization', '*.cookie', '*.password', '*.code', '*.otp', '*.token'], censor: '[redacted]' },
    },
    // Standard output, written off the main thread and coalesced under load (a synchronous write per request line
    // was a measurable part of an API request's CPU, issue 7). pino flushes what is pending when the process exits;
    // a SIGKILL can lose the last few milliseconds of lines.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
