// A real SMTP server for engine tests and benchmarks: keeps what it receives in memory (Message-ID, recipient, raw)
// and can answer with a chosen SMTP error for chosen messages.
import { SMTPServer } from 'smtp-server';

export type Received = { messageId: string | null; to: string[]; raw: string; bytes: number; at: number };

export async function startSink(options: { failWith?: (raw: string) => number | undefined; keepRaw?: boolean } = {}) {
  const received: Received[] = [];
  let dataCalls = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session, callback) {
      dataCalls += 1;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        const raw = data.toString('utf8');
        const code = options.failWith?.(raw);
        if (code) {
          callback(Object.assign(new Error(code >= 500 ? 'Rejected' : 'Try again later'), { responseCode: code }));
          return;
        }
        const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(raw)?.[1] ?? null;
        received.push({ messageId, to: session.envelope.rcptTo.map((r) => r.address), raw: options.keepRaw === false ? '' : raw, bytes: data.length, at: Date.now() });
        callback();
      });
    },
  });
  // A client that dies mid-session (a killed worker, a benchmark's pool closing) resets its connection: not a test failure.
  server.on('error', () => {});

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    dataCalls: () => dataCalls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
