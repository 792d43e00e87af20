// The embedded mail catcher: a real SMTP server on 127.0.0.1 that keeps what it receives in <dataDir>/mail,
// for `npm start` outside production. The dev mailbox page (/dev/mail) reads the same folder.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

export type MailCatcher = { port: number; url: string; close: () => Promise<void> };

const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
const KEEP_NEWEST = 500;

export function mailFolder(dataDir: string): string {
  return path.join(dataDir, 'mail');
}

export async function startMailCatcher(options: { dataDir: string; port?: number; log?: (line: string) => void }): Promise<MailCatcher> {
  const folder = mailFolder(options.dataDir);
  fs.mkdirSync(folder, { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    banner: 'Carepost dev mail catcher',
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(Object.assign(new Error('Message too large'), { responseCode: 552 }));
          return;
        }
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        const id = `${Date.now().toString().padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
        const header = `X-Carepost-Envelope: ${JSON.stringify(envelope)}\r\n`;
        fs.mkdirSync(folder, { recursive: true }); // someone may have emptied the mailbox by deleting the folder
        fs.writeFileSync(path.join(folder, `${id}.eml`), Buffer.concat([Buffer.from(header), ...chunks]));
        prune(folder);
        callback();
      });
    },
  });
  server.on('error', (error) => options.log?.(`mail catcher error: ${error.message}`));
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const address = server.server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function prune(folder: string): void {
  const files = fs.readdirSync(folder).filter((f) => f.endsWith('.eml')).sort();
  for (const file of files.slice(0, Math.max(0, files.length - KEEP_NEWEST))) fs.rmSync(path.join(folder, file), { force: true });
}
