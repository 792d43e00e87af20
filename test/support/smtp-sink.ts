// A real SMTP server (smtp-server) for tests, behind a small TCP relay that counts connections and keeps every byte
// the client sent, so a test can show what did and did not cross the wire.
import net from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export type ReceivedMail = {
  raw: Buffer;
  parsed: ParsedMail;
  /** smtp-server's `session.secure`: the session had been upgraded to TLS before DATA. */
  secure: boolean;
  /** The negotiated cipher as smtp-server saw it, when secure. */
  cipher: string | null;
  envelope: { from: string; to: string[] };
};

export type SmtpSink = {
  /** The relay's port: what clients connect to. */
  port: number;
  url: string;
  /** TCP connections accepted. */
  readonly connections: number;
  /** Calls of smtp-server's onMailFrom, onRcptTo and onData. */
  readonly mailFromCalls: number;
  readonly rcptToCalls: number;
  readonly dataCalls: number;
  received: ReceivedMail[];
  /** Everything clients sent, as it arrived (ciphertext after STARTTLS). */
  clientBytes(): Buffer;
  close(): Promise<void>;
};

export type SmtpSinkOptions = {
  /** Offer STARTTLS with this key and certificate; without it STARTTLS is disabled. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Reply to RCPT TO with this code (e.g. 451, 550) instead of accepting. */
  rejectRcptWith?: number;
};

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  let connections = 0;
  let mailFromCalls = 0;
  let rcptToCalls = 0;
  let dataCalls = 0;
  const received: ReceivedMail[] = [];
  const sent: Buffer[] = [];

  const serverOptions: SMTPServerOptions = {
    authOptional: true,
    logger: false,
    banner: 'test sink',
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { disabledCommands: ['STARTTLS'] }),
    onMailFrom(_address, _session, callback) {
      mailFromCalls += 1;
      callback();
    },
    onRcptTo(_address, _session, callback) {
      rcptToCalls += 1;
      if (options.rejectRcptWith) {
        callback(Object.assign(new Error(options.rejectRcptWith >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: options.rejectRcptWith }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      dataCalls += 1;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((parsed) => {
            const cipher = (session as unknown as { tlsOptions?: { name?: string } | false }).tlsOptions;
            received.push({
              raw,
              parsed,
              secure: session.secure,
              cipher: cipher ? (cipher.name ?? null) : null,
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
            });
            callback();
          })
          .catch((error: Error) => callback(error));
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', () => {}); // a client that drops the TLS handshake is expected here
  const serverPort = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as net.AddressInfo).port)),
  );

  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    connections += 1;
    const upstream = net.connect({ host: '127.0.0.1', port: serverPort });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => sent.push(Buffer.from(chunk)));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  const port = await new Promise<number>((resolve) => relay.listen(0, '127.0.0.1', () => resolve((relay.address() as net.AddressInfo).port)));

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    get mailFromCalls() {
      return mailFromCalls;
    },
    get rcptToCalls() {
      return rcptToCalls;
    },
    get dataCalls() {
      return dataCalls;
    },
    received,
    clientBytes: () => Buffer.concat(sent),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
