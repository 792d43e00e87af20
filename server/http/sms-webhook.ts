// RV3: the SMS provider's inbound-message webhook. Twilio POSTs application/x-www-form-urlencoded fields (MessageSid,
// From, To, Body, ...) and reads TwiML back. It is mounted ahead of the cross-site check because the provider posts
// from its own servers without an Origin we know; the provider's signature is the authority instead. With the dev
// sink (never in production) there is no provider to sign, so requests are accepted unsigned; with no SMS provider
// the route does not exist.
//
// Note for operators: with Twilio's default opt-out handling on, Twilio itself answers STOP and blocks further
// messages to that number from the sender, our TwiML confirmation included, so the patient still gets one
// confirmation, not two.
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type { Database } from '../../db/client';
import type { Config } from '../config';
import { handleInboundSms } from '../delivery/inbound-sms';
import type { Logger } from '../logger';

export const SMS_WEBHOOK_PATH = '/webhooks/sms/inbound';

export type SmsWebhookOptions = {
  sms: Config['sms'];
  isProduction: boolean;
  /** The public origin the provider was configured with (`PUBLIC_URL`): the signature covers the URL it called. */
  publicUrl: URL;
  db: Database;
  codeSecret: Buffer;
  logger: Logger;
};

/**
 * Twilio's request signature: HMAC-SHA1, keyed with the auth token, over the full URL followed by every POST
 * parameter's name and value, sorted by name (a repeated name contributes each distinct value, sorted), in base64.
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const byName = new Map<string, Set<string>>();
  for (const [name, value] of params) {
    const values = byName.get(name) ?? new Set<string>();
    values.add(value);
    byName.set(name, values);
  }
  let data = url;
  for (const name of [...byName.keys()].sort()) {
    for (const value of [...byName.get(name)!].sort()) data += name + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * Checks X-Twilio-Signature in constant time. Twilio may or may not include a default port (:443, :80) in the URL it
 * signs, so both spellings are accepted, as Twilio's own helper does.
 */
export function verifyTwilioSignature(authToken: string, url: string, params: URLSearchParams, signature: string | undefined): boolean {
  if (!signature) return false;
  const given = Buffer.from(signature, 'utf8');
  let ok = false;
  for (const candidate of urlSpellings(url)) {
    const expected = Buffer.from(twilioSignature(authToken, candidate, params), 'utf8');
    // No early exit, so the time taken does not say which spelling matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

function urlSpellings(url: string): string[] {
  const parsed = new URL(url);
  const withoutPort = `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search}`;
  if (parsed.port) return [withoutPort];
  const defaultPort = parsed.protocol === 'https:' ? '443' : '80';
  return [withoutPort, `${parsed.protocol}//${parsed.hostname}:${defaultPort}${parsed.pathname}${parsed.search}`];
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** "A", "A and B", "A, B and C". */
function listNames(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

export function twimlReply(confirmation: string | undefined): string {
  if (confirmation === undefined) return `${XML_DECLARATION}<Response/>`;
  return `${XML_DECLARATION}<Response><Message>${escapeXml(confirmation)}</Message></Response>`;
}

export function optOutConfirmation(orgNames: string[]): string {
  return `You will get no more text messages from ${listNames(orgNames)}. Messages about your care will come another way.`;
}

export function smsWebhook(options: SmsWebhookOptions) {
  const router = express.Router();
  const { sms } = options;
  if (sms.provider === 'none' || (sms.provider === 'dev-sink' && options.isProduction)) {
    // No provider means no webhook: it answers 404 like any unknown path, and nothing is parsed.
    router.post(SMS_WEBHOOK_PATH, (_req, res) => {
      res.status(404).type('text/plain').send('Not found.');
    });
    return router;
  }

  // Kept raw so the signature is checked over exactly the parameters received. 16 KiB is far above any SMS.
  const rawForm = express.raw({ type: 'application/x-www-form-urlencoded', limit: '16kb' });
  router.post(SMS_WEBHOOK_PATH, rawForm, async (req: Request, res: Response) => {
    const params = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    if (sms.provider === 'twilio') {
      // The URL Twilio called, as configured there: our public origin, this path and any query string.
      const url = `${options.publicUrl.origin}${req.originalUrl}`;
      if (!verifyTwilioSignature(sms.authToken, url, params, req.get('x-twilio-signature'))) {
        options.logger.warn({ reason: req.get('x-twilio-signature') ? 'bad_signature' : 'missing_signature' }, 'inbound sms refused');
        res.status(403).type('text/plain').send('Forbidden.');
        return;
      }
    }

    const providerMessageId = params.get('MessageSid') ?? params.get('SmsSid') ?? '';
    const from = params.get('From') ?? '';
    if (providerMessageId === '' || providerMessageId.length > 64 || from === '') {
      res.status(400).type('text/plain').send('MessageSid and From are required.');
      return;
    }
    try {
      const result = await handleInboundSms(options.db, {
        providerMessageId,
        from,
        to: params.get('To') ?? '',
        body: params.get('Body') ?? '',
        codeSecret: options.codeSecret,
        now: new Date(),
      });
      // Counts only: never the number or the text.
      options.logger.info({ confirm: result.confirm, organisations: result.orgNames.length }, 'inbound sms handled');
      res
        .status(200)
        .type('text/xml')
        .send(twimlReply(result.confirm ? optOutConfirmation(result.orgNames) : undefined));
    } catch (error) {
      // Name and code only: a database error's detail can quote the values (the number) it was given.
      options.logger.error({ errorName: (error as Error).name, errorCode: (error as { code?: string }).code }, 'inbound sms failed');
      res.status(500).type('text/plain').send('Something went wrong.');
    }
  });
  // The body parser's own refusals (too large, bad encoding) keep their 4xx status instead of the app's 500.
  router.use(SMS_WEBHOOK_PATH, (error: unknown, _req: Request, res: Response, next: express.NextFunction) => {
    const status = (error as { status?: number }).status;
    if (typeof status !== 'number' || status < 400 || status >= 500) return next(error);
    options.logger.warn({ reason: (error as { type?: string }).type ?? 'bad_request' }, 'inbound sms refused');
    res.status(status).type('text/plain').send('Bad request.');
  });
  return router;
}
