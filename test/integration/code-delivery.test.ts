import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDevSmsSink, listDevSms } from '../../server/delivery/sms';
import type { MailTransport } from '../../server/delivery/transport';
import { deliverCode } from '../../server/identity/code-delivery';
import { createLogger } from '../../server/logger';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }),
  });
  return { lines, logger };
}

const unusedMail: MailTransport = { send: async () => { throw new Error('not used'); } };

describe('code delivery', () => {
  it('an SMS code goes through the SMS transport with an origin-bound last line, and only the code', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-sms-code-'));
    const { lines, logger } = capture();
    await deliverCode(
      { mail: unusedMail, sms: createDevSmsSink(dataDir), mailFrom: 'x@carepost.localhost', publicHost: 'portal.example.com', logger },
      'Riverside Family Clinic',
      { channel: 'sms', to: '+15555550123', code: '042917', contactPointId: 'cp-1' },
    );
    const [sms] = listDevSms(dataDir);
    expect(sms!.to).toBe('+15555550123');
    expect(sms!.body).toMatch(/^042917 is your Riverside Family Clinic sign-in code\./);
    expect(sms!.body.trim().split('\n').at(-1)).toBe('@portal.example.com #042917');
    expect(lines.join('')).not.toContain('042917');
    expect(lines.join('')).not.toContain('+15555550123');
  });

  it('a transport failure is logged by contact point id, never with the code or the address', async () => {
    const { lines, logger } = capture();
    const failing: MailTransport = {
      send: async () => {
        throw Object.assign(new Error('550 mailbox unavailable for someone@example.com'), { code: 'EENVELOPE' });
      },
    };
    await deliverCode(
      { mail: failing, sms: undefined, mailFrom: 'x@carepost.localhost', publicHost: 'portal.example.com', logger },
      'Clinic',
      { channel: 'email', to: 'someone@example.com', code: '731004', contactPointId: 'cp-2' },
    );
    const log = lines.join('');
    expect(log).toContain('"contactPointId":"cp-2"');
    expect(log).toContain('code not sent');
    expect(log).not.toContain('731004');
    expect(log).not.toContain('someone@example.com');
  });

  it('with no SMS transport configured, an SMS code is not sent and says why in the log', async () => {
    const { lines, logger } = capture();
    await deliverCode(
      { mail: unusedMail, sms: undefined, mailFrom: 'x@carepost.localhost', publicHost: 'portal.example.com', logger },
      'Clinic',
      { channel: 'sms', to: '+15555550999', code: '111222', contactPointId: 'cp-3' },
    );
    expect(lines.join('')).toContain('"errorCode":"no_sms_transport"');
  });
});
