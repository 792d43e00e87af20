// The relay transport's connections (ADR 026): a pool of nodemailer's own SMTPConnection, each sending complete
// messages (Buffers) that the transport composed. nodemailer's protocol code is unchanged (EHLO, STARTTLS and
// requireTLS, AUTH, PIPELINING, dot-stuffing, reply codes); what this replaces is its Mailer and SMTPPool layer, which
// per message normalised the mail again, built a MIME tree even for a finished message and ran a stream pipeline with
// an AbortSignal: about half of the relay's CPU per notice in bench:send.
import type { Writable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export type PoolOptions = {
  connection: SMTPConnection.Options;
  auth?: { user: string; pass: string };
  /** Connections open at once; sends beyond that wait in order. */
  maxConnections: number;
  /** A connection is closed after this many messages and a new one opened (nodemailer's pool default: 100). */
  maxMessages?: number;
  /** false: one connection per message, closed after it (nodemailer's `pool: false`). */
  pooled: boolean;
};

/** `counted`: holds one of the pool's slots (verify's connection does not). */
type Conn = { smtp: SMTPConnection; messages: number; gone: boolean; counted: boolean };
type SmtpError = Error & { code?: string; responseCode?: number };

/**
 * A finished message as the duck-typed stream SMTPConnection.send accepts: it learns whether any byte of the message
 * was handed to the connection (after the server's 354), which a Buffer would not tell. Only a message none of whose
 * bytes left may be sent again over another connection, as nodemailer's pool does (DL5: never twice).
 */
class MessageSource {
  started = false;
  constructor(
    private readonly message: Buffer,
    private readonly socket: Writable | undefined,
  ) {}
  on() {
    return this;
  }
  removeListener() {
    return this;
  }
  destroy() {}
  pipe<T extends NodeJS.WritableStream>(destination: T): T {
    this.started = true;
    // The message and the end-of-data line that nodemailer's dot-stuffing stream writes after it go out in one write
    // to the socket, not two: the socket is held (corked) until the stream has written both (on the next tick).
    const socket = this.socket;
    socket?.cork();
    destination.end(this.message);
    if (socket) process.nextTick(() => socket.uncork());
    return destination;
  }
}

export class SmtpPool {
  private readonly idle: Conn[] = [];
  private readonly waiting: { resolve: (conn: Conn | null) => void; reject: (error: unknown) => void }[] = [];
  private open = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Sends one message; rejects with nodemailer's error (code, responseCode, command) when it was not accepted. */
  async send(envelope: { from: string; to: string[] }, message: Buffer): Promise<SMTPConnection.SentMessageInfo> {
    for (let attempt = 0; ; attempt += 1) {
      const conn = await this.acquire();
      const reused = conn.messages > 0;
      const source = new MessageSource(message, (conn.smtp as unknown as { _socket?: Writable })._socket);
      try {
        const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
          conn.smtp.send(envelope, source as never, (error, result) => (error ? reject(error) : resolve(result))),
        );
        conn.messages += 1;
        this.release(conn);
        return info;
      } catch (error) {
        conn.messages += 1;
        const e = error as SmtpError;
        // The server refused this message (a reply code, not 421): the session is fine once reset.
        if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421 && !conn.gone) {
          conn.smtp.reset((resetError) => (resetError ? this.discard(conn) : this.release(conn)));
          throw error;
        }
        this.discard(conn);
        // A reused connection the server dropped while it was idle, before any byte of this message left: once more,
        // on a new connection. Anything else is the caller's to retry (it keeps the Message-ID, DL2).
        if (reused && !source.started && attempt === 0 && !e.responseCode && (e.code === 'ECONNECTION' || e.code === 'ESOCKET')) continue;
        throw error;
      }
    }
  }

  /** Opens one connection, says EHLO (and logs in), and closes it: the relay is reachable and takes us. */
  async verify(): Promise<void> {
    const conn = await this.connect();
    conn.smtp.quit();
  }

  /** Closes idle connections now and the others after their message; sends still waiting fail. */
  close(): void {
    this.closed = true;
    for (const conn of this.idle.splice(0)) this.discard(conn);
    for (const waiter of this.waiting.splice(0)) waiter.reject(Object.assign(new Error('The mail transport was closed'), { code: 'ECONNECTION' }));
  }

  private async acquire(): Promise<Conn> {
    for (;;) {
      if (this.closed) throw Object.assign(new Error('The mail transport was closed'), { code: 'ECONNECTION' });
      const idle = this.idle.pop();
      if (idle) return idle;
      if (this.open < this.options.maxConnections) {
        this.open += 1;
        try {
          const conn = await this.connect();
          conn.counted = true;
          return conn;
        } catch (error) {
          this.open -= 1;
          this.wakeOne();
          throw error;
        }
      }
      // Handed a connection by release(), or null: a slot was freed, so open one.
      const handed = await new Promise<Conn | null>((resolve, reject) => this.waiting.push({ resolve, reject }));
      if (handed) return handed;
    }
  }

  private release(conn: Conn): void {
    if (conn.gone || this.closed || !this.options.pooled || conn.messages >= (this.options.maxMessages ?? 100)) {
      this.discard(conn);
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(conn);
    else this.idle.push(conn);
  }

  /** Closes a connection (QUIT) and frees its slot. */
  private discard(conn: Conn): void {
    if (conn.gone) return;
    this.lost(conn);
    conn.smtp.quit();
  }

  /** The connection is not to be handed out again; its slot is freed once, and a waiting send may open another. */
  private lost(conn: Conn): void {
    if (conn.gone) return;
    conn.gone = true;
    const index = this.idle.indexOf(conn);
    if (index >= 0) this.idle.splice(index, 1);
    if (conn.counted) {
      this.open -= 1;
      this.wakeOne();
    }
  }

  private wakeOne(): void {
    this.waiting.shift()?.resolve(null);
  }

  private async connect(): Promise<Conn> {
    const smtp = new SMTPConnection(this.options.connection);
    const conn: Conn = { smtp, messages: 0, gone: false, counted: false };
    // The server ended the session (its idle timeout) or the socket failed: never hand this connection out again.
    // Errors during a send reach that send's callback as well; this listener only keeps them from being unhandled.
    smtp.on('error', () => this.lost(conn));
    smtp.on('end', () => this.lost(conn));
    try {
      // A failure before the greeting (refused, timed out, TLS) is emitted as 'error', not given to connect()'s callback.
      await new Promise<void>((resolve, reject) => {
        const ended = () => reject(Object.assign(new Error('Connection closed before the greeting'), { code: 'ECONNECTION' }));
        smtp.once('error', reject);
        smtp.once('end', ended);
        smtp.connect((error) => {
          // Connected (or failed): later errors and ends are lost()'s alone.
          smtp.removeListener('error', reject);
          smtp.removeListener('end', ended);
          if (error) reject(error);
          else resolve();
        });
      });
      if (this.options.auth) {
        await new Promise<void>((resolve, reject) => smtp.login({ credentials: this.options.auth! }, (error) => (error ? reject(error) : resolve())));
      }
    } catch (error) {
      conn.gone = true;
      smtp.close();
      throw error;
    }
    return conn;
  }
}
