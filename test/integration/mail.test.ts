import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMail, readMail, readRawMail } from '../../server/delivery/dev-mailbox';
import { startMailCatcher, type MailCatcher } from '../../server/delivery/mail-catcher';
import { createSmtpTransport, TransportError } from '../../server/delivery/transport';

let dataDir: string;
let catcher: MailCatcher;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-mail-'));
  catcher = await startMailCatcher({ dataDir });
});
afterAll(async () => {
  await catcher.close();
});

describe('mail transport and catcher', () => {
  it('a mail sent through the pooled SMTP transport is kept by the catcher and readable in the dev mailbox', async () => {
    const transport = createSmtpTransport(catcher.url);
    try {
      const result = await transport.send({
        from: 'Carepost <no-reply@carepost.localhost>',
        to: 'patient@example.com',
        subject: 'A secure message is waiting',
        text: 'Open the portal to read it.',
        messageId: '<delivery-123@carepost.localhost>',
        headers: { 'List-Unsubscribe': '<https://portal.example.com/u/t>, <mailto:unsubscribe@carepost.localhost>' },
      });
      expect(result.accepted).toEqual(['patient@example.com']);
      expect(result.messageId).toBe('<delivery-123@carepost.localhost>');
    } finally {
      await transport.close?.();
    }
    const [summary] = await listMail(dataDir);
    expect(summary).toMatchObject({ subject: 'A secure message is waiting', to: ['patient@example.com'] });
    const view = await readMail(dataDir, summary!.id);
    expect(view!.text.trim()).toBe('Open the portal to read it.');
    // EM1 groundwork: List-Unsubscribe arrives as one header holding both URIs.
    const unsubscribe = view!.headers.filter((h) => h.name.toLowerCase() === 'list-unsubscribe');
    expect(unsubscribe).toHaveLength(1);
    expect(unsubscribe[0]!.value).toContain('mailto:unsubscribe@carepost.localhost');
    expect(readRawMail(dataDir, summary!.id)!.toString()).toContain('Message-ID: <delivery-123@carepost.localhost>');
  });

  it('an SMTP rejection becomes a TransportError with a stable code and the reply code', async () => {
    const rejecting = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
      },
    });
    const port = await new Promise<number>((resolve) =>
      rejecting.listen(0, '127.0.0.1', () => resolve((rejecting.server.address() as { port: number }).port)),
    );
    const transport = createSmtpTransport(`smtp://127.0.0.1:${port}`, { pool: false });
    try {
      const error = await transport
        .send({ from: 'a@carepost.localhost', to: 'gone@example.com', subject: 's', text: 't' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).code).toBe('EENVELOPE');
      expect((error as TransportError).responseCode).toBe(550);
      expect((error as TransportError).permanent).toBe(true);
    } finally {
      await transport.close?.();
      await new Promise<void>((resolve) => rejecting.close(() => resolve()));
    }
  });

  it('a closed port is a connection error, not a permanent failure', async () => {
    const transport = createSmtpTransport('smtp://127.0.0.1:1', { pool: false });
    const error = (await transport.send({ from: 'a@carepost.localhost', to: 'b@example.com', subject: 's', text: 't' }).catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe('ESOCKET'); // nodemailer's code for a refused connection
    expect(error.permanent).toBe(false);
  });
});
