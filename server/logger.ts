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
    options.destination ?? logDestination(1),
  );
}

/**
 * Where log lines go (standard output in every process; the API benchmark passes /dev/null): written asynchronously
 * and batched, up to 4 KB or a quarter of a second per write. A synchronous write per request line, and then an
 * asynchronous one per line (a thread-pool round trip each), were measurable parts of an API request's CPU (issue 7,
 * ADR 021). Lines can therefore show up to 250 ms late. pino flushes what is pending when the process exits; a SIGKILL
 * can lose the last quarter second of lines.
 */
export function logDestination(dest: number | string): pino.DestinationStream {
  return pino.destination({ dest, sync: false, minLength: 4096, periodicFlush: 250 });
}
