// The SMS transport interface for one-time codes and notices: a small object with send() and close(), like the mail
// transport. Two implementations: Twilio's Messages REST API, and a dev sink that keeps messages in <dataDir>/sms
// for the /dev/sms page (outside production only; the route checks).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type OutgoingSms = {
  /** E.164, e.g. +447700900123. */
  to: string;
  body: string;
  /** Ours (e.g. the delivery id); kept by the dev sink. Twilio's Messages API has no field for it. */
  reference?: string;
};

export interface SmsTransport {
  send(message: OutgoingSms): Promise<{ providerId: string }>;
  close?(): Promise<void>;
}

export type SmsErrorCode = 'invalid_number' | 'rate_limited' | 'auth_failed' | 'rejected' | 'provider_unavailable' | 'network';

const PERMANENT_CODES: ReadonlySet<string> = new Set(['invalid_number', 'auth_failed', 'rejected']);

export class SmsError extends Error {
  /** Stable: callers branch on this, never on the message text. */
  readonly code: SmsErrorCode;
  /** The provider's own error code when it gave one (Twilio: 21211, 20003, ...). */
  readonly providerCode?: number;
  readonly retryAfterSeconds?: number;

  // The message is always one of our fixed sentences: never the body, the number, or the provider's text (Twilio's
  // error message echoes the number), because errors end up in logs.
  constructor(message: string, code: SmsErrorCode, options: { providerCode?: number; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SmsError';
    this.code = code;
    if (options.providerCode !== undefined) this.providerCode = options.providerCode;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get permanent(): boolean {
    return PERMANENT_CODES.has(this.code);
  }
}

const E164 = /^\+[1-9]\d{6,14}$/;

export function isE164(value: string): boolean {
  return E164.test(value);
}

function assertE164(to: string): void {
  if (!isE164(to)) throw new SmsError('the recipient is not an E.164 phone number', 'invalid_number');
}

// ---------------------------------------------------------------------------------------------------------------
// Twilio

export type TwilioSmsOptions = {
  /** https://api.twilio.com in production; a local server in tests. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** A sender number or alphanumeric id; or messagingServiceSid (which wins at Twilio when both are set). */
  from?: string;
  messagingServiceSid?: string;
  timeoutMs?: number;
};

/** Twilio's codes for a To that is not a valid number (21211) or cannot receive SMS (21614). */
const TWILIO_INVALID_NUMBER_CODES = new Set([21211, 21614]);

export function createTwilioSmsTransport(options: TwilioSmsOptions): SmsTransport {
  if (!options.from && !options.messagingServiceSid) throw new Error('Twilio SMS needs `from` or `messagingServiceSid`');
  const url = `${options.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  const timeoutMs = options.timeoutMs ?? 10_000;

  return {
    async send(message) {
      assertE164(message.to);
      const form = new URLSearchParams({ To: message.to, Body: message.body });
      if (options.messagingServiceSid) form.set('MessagingServiceSid', options.messagingServiceSid);
      if (options.from) form.set('From', options.from);

      // One signal for the request and the body read, so a server that stalls mid-response also times out.
      const signal = AbortSignal.timeout(timeoutMs);
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form.toString(),
          redirect: 'error',
          signal,
        });
        text = await response.text();
      } catch (error) {
        const timedOut = (error as { name?: string }).name === 'TimeoutError';
        throw new SmsError(timedOut ? `SMS provider did not answer within ${timeoutMs} ms` : 'SMS provider could not be reached', 'network', { cause: error });
      }

      const json = parseJson(text);
      if (response.ok) {
        const sid = json?.sid;
        if (typeof sid !== 'string' || sid === '') {
          throw new SmsError(`SMS provider answered ${response.status} without a message sid`, 'provider_unavailable');
        }
        return { providerId: sid };
      }
      throw twilioError(response, json);
    },
    async close() {
      // fetch keeps no per-transport connection pool to release.
    },
  };
}

function twilioError(response: Response, json: Record<string, unknown> | undefined): SmsError {
  const status = response.status;
  const providerCode = typeof json?.code === 'number' ? json.code : undefined;
  const suffix = providerCode === undefined ? `HTTP ${status}` : `HTTP ${status}, Twilio ${providerCode}`;
  if (status === 400 && providerCode !== undefined && TWILIO_INVALID_NUMBER_CODES.has(providerCode)) {
    return new SmsError(`SMS provider refused the recipient number (${suffix})`, 'invalid_number', { providerCode });
  }
  if (status === 401 || status === 403) {
    return new SmsError(`SMS provider refused the credentials (${suffix})`, 'auth_failed', { providerCode });
  }
  if (status === 429) {
    return new SmsError(`SMS provider is rate limiting (${suffix})`, 'rate_limited', {
      providerCode,
      retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')),
    });
  }
  if (status >= 500) {
    return new SmsError(`SMS provider is unavailable (${suffix})`, 'provider_unavailable', { providerCode });
  }
  return new SmsError(`SMS provider rejected the message (${suffix})`, 'rejected', { providerCode });
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 10.2.3). */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

// ---------------------------------------------------------------------------------------------------------------
// Dev sink

const KEEP_NEWEST = 500;
/** Same shape as the mail catcher's ids: a 14-digit ms timestamp and 8 hex digits. */
const ID_PATTERN = /^\d{14}-[0-9a-f]{8}$/;

export type DevSms = { id: string; to: string; body: string; reference?: string; receivedAt: Date };
type StoredSms = { to: string; body: string; reference?: string; receivedAt: string };

export function smsFolder(dataDir: string): string {
  return path.join(dataDir, 'sms');
}

export function isDevSmsId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function createDevSmsSink(dataDir: string): SmsTransport {
  const folder = smsFolder(dataDir);
  // Ids sort by time; within one process they are made strictly increasing so a burst in the same millisecond
  // still lists newest first and prunes oldest first.
  let lastMs = 0;

  return {
    async send(message) {
      assertE164(message.to);
      await fs.mkdir(folder, { recursive: true });
      const now = Date.now();
      lastMs = Math.max(now, lastMs + 1);
      const id = `${lastMs.toString().padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
      const stored: StoredSms = { to: message.to, body: message.body, reference: message.reference, receivedAt: new Date(now).toISOString() };
      // Write then rename, so the page never reads a half-written file.
      const temporary = path.join(folder, `${id}.tmp`);
      await fs.writeFile(temporary, JSON.stringify(stored));
      await fs.rename(temporary, path.join(folder, `${id}.json`));
      await prune(folder);
      return { providerId: id };
    },
  };
}

async function prune(folder: string): Promise<void> {
  const ids = (await fs.readdir(folder)).filter((f) => f.endsWith('.json')).sort();
  for (const file of ids.slice(0, Math.max(0, ids.length - KEEP_NEWEST))) await fs.rm(path.join(folder, file), { force: true });
}

export function readDevSms(dataDir: string, id: string): DevSms | undefined {
  if (!isDevSmsId(id)) return undefined;
  const file = path.join(smsFolder(dataDir), `${id}.json`);
  let stored: StoredSms;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as StoredSms;
  } catch {
    return undefined; // gone (pruned) or not ours
  }
  return {
    id,
    to: String(stored.to),
    body: String(stored.body),
    ...(typeof stored.reference === 'string' ? { reference: stored.reference } : {}),
    receivedAt: new Date(stored.receivedAt ?? Number(id.slice(0, 14))),
  };
}

/** Newest first. */
export function listDevSms(dataDir: string, limit = 100): DevSms[] {
  const folder = smsFolder(dataDir);
  if (!existsSync(folder)) return [];
  const ids = readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .filter(isDevSmsId)
    .sort()
    .reverse()
    .slice(0, limit);
  const messages: DevSms[] = [];
  for (const id of ids) {
    const message = readDevSms(dataDir, id);
    if (message) messages.push(message);
  }
  return messages;
}
