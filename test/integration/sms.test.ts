// The Twilio SMS transport against a local HTTP server that speaks Twilio's Messages wire format (the real service
// cannot be reached from here), and the dev SMS sink on a throwaway folder.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDevSmsSink, createTwilioSmsTransport, listDevSms, readDevSms, SmsError, smsFolder } from '../../server/delivery/sms';

const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
const AUTH_TOKEN = 'test-auth-token-not-real';
const FROM = '+15005550006';
const TO = '+447700900123';
const BODY = 'Your Carepost code is 482913';

type Reply = 'created' | 'invalid_number' | 'bad_request' | 'unauthorized' | 'rate_limited' | 'server_error' | 'hang';
type ReceivedRequest = { method: string; path: string; authorization: string; contentType: string; form: URLSearchParams };

let server: http.Server;
let baseUrl: string;
let reply: Reply = 'created';
const received: ReceivedRequest[] = [];

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function twilioError(res: http.ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}) {
  sendJson(res, status, { code, message, more_info: `https://example.invalid/docs/errors/${code}`, status }, headers);
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization ?? '',
        contentType: req.headers['content-type'] ?? '',
        form,
      });
      if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`) {
        twilioError(res, 404, 20404, 'The requested resource was not found');
        return;
      }
      const expectedAuth = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`;
      if (req.headers.authorization !== expectedAuth || reply === 'unauthorized') {
        twilioError(res, 401, 20003, 'Authenticate');
        return;
      }
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        twilioError(res, 400, 20001, 'Unsupported content type');
        return;
      }
      const to = form.get('To') ?? '';
      // Twilio's own messages echo the number, which is why SmsError must never carry them.
      switch (reply) {
        case 'invalid_number':
          return twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
        case 'bad_request':
          return twilioError(res, 400, 21610, `Attempt to send to unsubscribed recipient ${to}: ${form.get('Body')}`);
        case 'rate_limited':
          return twilioError(res, 429, 20429, 'Too Many Requests', { 'retry-after': '7' });
        case 'server_error':
          return twilioError(res, 500, 20500, `Internal Server Error sending to ${to}`);
        case 'hang':
          return; // never answer: the client's timeout must fire
        case 'created':
          break;
      }
      if (!to || !form.get('Body') || !(form.get('From') || form.get('MessagingServiceSid'))) {
        twilioError(res, 400, 21604, "A 'To' phone number is required.");
        return;
      }
      sendJson(res, 201, {
        sid: `SM${randomBytes(16).toString('hex')}`,
        account_sid: ACCOUNT_SID,
        to,
        from: form.get('From'),
        messaging_service_sid: form.get('MessagingServiceSid'),
        body: form.get('Body'),
        status: 'queued',
        direction: 'outbound-api',
        api_version: '2010-04-01',
        error_code: null,
        error_message: null,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections(); // the hanging request
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  reply = 'created';
  received.length = 0;
});

function transport(overrides: Partial<Parameters<typeof createTwilioSmsTransport>[0]> = {}) {
  return createTwilioSmsTransport({ baseUrl, accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, timeoutMs: 2_000, ...overrides });
}

async function sendError(t = transport(), to = TO): Promise<SmsError> {
  const error = await t.send({ to, body: BODY, reference: 'delivery-1' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SmsError);
  return error as SmsError;
}

describe('Twilio SMS transport', () => {
  it('posts the form to the Messages resource with Basic auth and returns the message sid', async () => {
    const result = await transport().send({ to: TO, body: BODY, reference: 'delivery-1' });
    expect(result.providerId).toMatch(/^SM[0-9a-f]{32}$/);
    expect(received).toHaveLength(1);
    const request = received[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(request.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`);
    expect(request.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(Object.fromEntries(request.form)).toEqual({ To: TO, Body: BODY, From: FROM });
  });

  it('sends MessagingServiceSid instead of From when configured', async () => {
    const messagingServiceSid = `MG${'a'.repeat(32)}`;
    await transport({ from: undefined, messagingServiceSid }).send({ to: TO, body: BODY });
    expect(Object.fromEntries(received[0]!.form)).toEqual({ To: TO, Body: BODY, MessagingServiceSid: messagingServiceSid });
  });

  it.each([
    { reply: 'invalid_number', code: 'invalid_number', permanent: true, providerCode: 21211 },
    { reply: 'bad_request', code: 'rejected', permanent: true, providerCode: 21610 },
    { reply: 'unauthorized', code: 'auth_failed', permanent: true, providerCode: 20003 },
    { reply: 'rate_limited', code: 'rate_limited', permanent: false, providerCode: 20429 },
    { reply: 'server_error', code: 'provider_unavailable', permanent: false, providerCode: 20500 },
  ] as const)('Twilio $reply becomes SmsError $code', async (c) => {
    reply = c.reply;
    const error = await sendError();
    expect(error.code).toBe(c.code);
    expect(error.permanent).toBe(c.permanent);
    expect(error.providerCode).toBe(c.providerCode);
    expect(error.retryAfterSeconds).toBe(c.reply === 'rate_limited' ? 7 : undefined);
    expect(error.message).not.toContain(BODY);
    expect(error.message).not.toContain('482913');
    expect(error.message).not.toContain(TO);
    expect(error.message).not.toContain(TO.slice(1));
    expect(String(error)).not.toContain(TO);
  });

  it('a wrong auth token is auth_failed', async () => {
    const error = await sendError(transport({ authToken: 'wrong' }));
    expect(error.code).toBe('auth_failed');
    expect(error.permanent).toBe(true);
  });

  it('a provider that does not answer in time is a network error, not permanent', async () => {
    reply = 'hang';
    const started = Date.now();
    const error = await sendError(transport({ timeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('network');
    expect(error.permanent).toBe(false);
    expect(error.message).not.toContain(TO);
    expect(error.message).not.toContain(BODY);
  });

  it('a closed port is a network error', async () => {
    const error = await sendError(transport({ baseUrl: 'http://127.0.0.1:1' }));
    expect(error.code).toBe('network');
    expect(error.permanent).toBe(false);
  });

  it.each(['07700900123', '+0447700900123', '+44 7700 900123', '+12345', `${TO}\n`, ''])(
    'refuses %j as invalid_number without any HTTP request',
    async (to) => {
      const error = await sendError(transport(), to);
      expect(error.code).toBe('invalid_number');
      expect(error.permanent).toBe(true);
      if (to) expect(error.message).not.toContain(to.trim());
      expect(received).toHaveLength(0);
    },
  );
});

describe('dev SMS sink', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-sms-'));
  });
  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps each message as a JSON file and lists them newest first', async () => {
    const sink = createDevSmsSink(dataDir);
    const first = await sink.send({ to: TO, body: 'first', reference: 'delivery-1' });
    const second = await sink.send({ to: '+15005550009', body: 'second' });
    expect(first.providerId).toMatch(/^\d{14}-[0-9a-f]{8}$/);
    const stored = JSON.parse(fs.readFileSync(path.join(smsFolder(dataDir), `${first.providerId}.json`), 'utf8')) as Record<string, unknown>;
    expect(stored).toMatchObject({ to: TO, body: 'first', reference: 'delivery-1' });
    expect(Number.isNaN(Date.parse(String(stored.receivedAt)))).toBe(false);

    const list = listDevSms(dataDir);
    expect(list.map((m) => m.id)).toEqual([second.providerId, first.providerId]);
    expect(list[0]).toMatchObject({ to: '+15005550009', body: 'second' });
    expect(list[1]).toMatchObject({ to: TO, body: 'first', reference: 'delivery-1' });
    expect(list[1]!.receivedAt).toBeInstanceOf(Date);
    expect(listDevSms(dataDir, 1)).toHaveLength(1);
  });

  it('refuses an invalid number without writing anything', async () => {
    const before = fs.readdirSync(smsFolder(dataDir)).length;
    const error = await createDevSmsSink(dataDir).send({ to: 'not a number', body: BODY }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmsError);
    expect((error as SmsError).code).toBe('invalid_number');
    expect(fs.readdirSync(smsFolder(dataDir))).toHaveLength(before);
  });

  it('refuses ids that could leave the folder', () => {
    fs.writeFileSync(path.join(dataDir, 'secret.json'), JSON.stringify({ to: TO, body: 'outside', receivedAt: new Date().toISOString() }));
    for (const id of ['../secret', '..%2Fsecret', '/etc/passwd', '00000000000000-0000000/../../secret', '', '.', '..']) {
      expect(readDevSms(dataDir, id)).toBeUndefined();
    }
    expect(readDevSms(dataDir, '00000000000000-00000000')).toBeUndefined(); // well formed but absent
  });

  it('keeps only the newest 500', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-sms-prune-'));
    try {
      const sink = createDevSmsSink(dir);
      const ids: string[] = [];
      for (let i = 0; i < 505; i++) ids.push((await sink.send({ to: TO, body: `message ${i}` })).providerId);
      expect(fs.readdirSync(smsFolder(dir))).toHaveLength(500);
      const list = listDevSms(dir, 1000);
      expect(list).toHaveLength(500);
      expect(list[0]!.body).toBe('message 504');
      expect(list.at(-1)!.body).toBe('message 5');
      for (const id of ids.slice(0, 5)) expect(readDevSms(dir, id)).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
