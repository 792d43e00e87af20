// ADR 026: the relay transport's own pool of nodemailer SMTPConnections, against a real smtp-server: connections are
// reused and capped, a refused message leaves the session usable, a connection the server dropped is never used
// again, a message is re-sent on a new connection only when none of its bytes left (DL5: never twice), and a closed
// transport fails the sends still waiting.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpTransport, TransportError, type MailTransport } from '../../server/delivery/transport';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { makeCertificate } from '../support/tls-certs';

type Server = SMTPServer & { connections: Set<{ session: SMTPServerSession; _socket: Socket }> };
type Hooks = {
  onMailFrom?: (session: SMTPServerSession, server: Server) => number | 'drop' | undefined;
  onData?: (raw: string) => number | undefined;
  socketTimeout?: number;
};

const servers: SMTPServer[] = [];
const sinks: SmtpSink[] = [];
const transports: MailTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) await t.close?.();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function startServer(hooks: Hooks = {}) {
  const received: { messageId: string | undefined; to: string[]; connection: string }[] = [];
  let connections = 0;
  let open = 0;
  let maxOpen = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    socketTimeout: hooks.socketTimeout,
    onConnect(_session, callback) {
      connections += 1;
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      callback();
    },
    onClose() {
      open -= 1;
    },
    onMailFrom(_address, session, callback) {
      const verdict = hooks.onMailFrom?.(session, server as Server);
      if (verdict === 'drop') {
        // The connection dies before the server answers MAIL FROM: no byte of the message was sent.
        for (const c of (server as Server).connections) if (c.session.id === session.id) c._socket.destroy();
        return;
      }
      if (verdict) return callback(Object.assign(new Error('Refused'), { responseCode: verdict }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const code = hooks.onData?.(raw);
        if (code) return callback(Object.assign(new Error(code >= 500 ? 'Rejected' : 'Try again later'), { responseCode: code }));
        received.push({ messageId: /^Message-ID:\s*(<[^>]+>)/im.exec(raw)?.[1], to: session.envelope.rcptTo.map((r) => r.address), connection: session.id });
        callback();
      });
    },
  });
  server.on('error', () => {});
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return { url: `smtp://127.0.0.1:${port}`, received, stats: () => ({ connections, maxOpen, open }) };
}

function transport(url: string, options: Parameters<typeof createSmtpTransport>[1]) {
  const t = createSmtpTransport(url, options);
  transports.push(t);
  return t;
}

const mail = (to = `p-${randomUUID().slice(0, 8)}@patient.test`) => ({
  from: 'Riverside Clinic <no-reply@clinic.test>',
  to,
  subject: 'A new message',
  text: 'You have a new message in the portal.',
  messageId: `<${randomUUID()}@clinic.test>`,
});

describe('SMTP pool (ADR 026)', () => {
  it('reuses its connections and never opens more than maxConnections; every mail arrives once', async () => {
    const server = await startServer();
    const t = transport(server.url, { pool: true, maxConnections: 3 });
    const mails = Array.from({ length: 30 }, () => mail());
    const results = await Promise.all(mails.map((m) => t.send(m)));
    expect(results.map((r) => r.messageId)).toEqual(mails.map((m) => m.messageId));
    expect(results.every((r) => r.accepted.length === 1 && r.rejected.length === 0 && r.response.startsWith('250'))).toBe(true);
    expect(server.received.map((r) => r.messageId).sort()).toEqual(mails.map((m) => m.messageId).sort());
    expect(server.stats().maxOpen).toBeLessThanOrEqual(3);
    expect(server.stats().connections).toBeLessThanOrEqual(3);
  });

  it('a refused message (550) fails with its reply code, and the same connection carries the next one', async () => {
    let mailFrom = 0;
    const server = await startServer({ onMailFrom: () => (++mailFrom === 1 ? 550 : undefined) });
    const t = transport(server.url, { pool: true, maxConnections: 1 });
    const refused = await t.send(mail()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as TransportError).responseCode).toBe(550);
    expect((refused as TransportError).permanent).toBe(true);
    await t.send(mail());
    expect(server.received).toHaveLength(1);
    expect(server.stats().connections).toBe(1);
  });

  it('DL5: a 421 after the message is a transient error, and the pool does not send it again', async () => {
    let dataCalls = 0;
    const server = await startServer({ onData: () => (++dataCalls === 1 ? 421 : undefined) });
    const t = transport(server.url, { pool: true, maxConnections: 2 });
    const error = await t.send(mail()).catch((e: unknown) => e);
    expect((error as TransportError).responseCode).toBe(421);
    expect((error as TransportError).permanent).toBe(false);
    expect(dataCalls).toBe(1);
    expect(server.received).toHaveLength(0);
    await t.send(mail());
    expect(server.received).toHaveLength(1);
  });

  it('a connection the server closed while idle is not used again', async () => {
    const server = await startServer({ socketTimeout: 300 });
    const t = transport(server.url, { pool: true, maxConnections: 1 });
    await t.send(mail());
    await new Promise((resolve) => setTimeout(resolve, 700)); // the server's idle timeout ends the session
    await t.send(mail());
    expect(server.received).toHaveLength(2);
    expect(server.stats().connections).toBe(2);
  });

  it('DL5: a reused connection that dies before any byte of the message left: sent once, over a new connection', async () => {
    let dropped = 0;
    const server = await startServer({ onMailFrom: (session) => (session.transaction === 2 && dropped++ === 0 ? 'drop' : undefined) });
    const t = transport(server.url, { pool: true, maxConnections: 1 });
    await t.send(mail());
    const second = mail();
    await t.send(second);
    expect(dropped).toBe(1);
    expect(server.received.map((r) => r.messageId)).toEqual([expect.any(String), second.messageId]);
    expect(server.stats().connections).toBe(2);
  });

  it('without a pool, each mail has its own connection', async () => {
    const server = await startServer();
    const t = transport(server.url, { pool: false });
    await Promise.all([t.send(mail()), t.send(mail()), t.send(mail())]);
    expect(server.received).toHaveLength(3);
    expect(new Set(server.received.map((r) => r.connection)).size).toBe(3);
  });

  it('TR1: with TLS required, a relay without STARTTLS or with a certificate we do not trust gets no envelope and no message', async () => {
    const plain = await startSmtpSink();
    const untrusted = await startSmtpSink({ tls: await makeCertificate('relay.example.test') });
    sinks.push(plain, untrusted);
    for (const sink of [plain, untrusted]) {
      const error = await transport(sink.url, { pool: true, maxConnections: 1, requireTls: true })
        .send(mail())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransportError);
      expect(sink.mailFromCalls).toBe(0);
      expect(sink.received).toHaveLength(0);
    }
  });

  it('an unreachable relay is a connection error, not a reply code; close() fails the sends still waiting', async () => {
    const t = transport('smtp://127.0.0.1:1', { pool: true, maxConnections: 1 });
    const error = await t.send(mail()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).responseCode).toBeUndefined();
    expect((error as TransportError).permanent).toBe(false);

    const server = await startServer({ onData: () => undefined });
    const slow = transport(server.url, { pool: true, maxConnections: 1 });
    const first = slow.send(mail());
    const waiting = slow.send(mail()).catch((e: unknown) => e);
    await slow.close?.();
    await first.catch(() => undefined);
    const closed = await waiting;
    expect(closed).toBeInstanceOf(TransportError);
    expect((closed as TransportError).code).toBe('ECONNECTION');
  });
});
