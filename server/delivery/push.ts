// The web push transport (issue 9, ADR 015): a small object with send(), like the mail and SMS transports. The
// `web-push` package encrypts the payload (RFC 8291, aes128gcm) and signs the VAPID JWT (RFC 8292); the request itself
// goes out with fetch, so it has a timeout, never follows a redirect, and can reach the tests' local push service over
// plain http. What goes in the payload is decided by the engine: only a PHI-free notice (EM4).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import webpush from 'web-push';
import type { PushConfig } from '../config';
import { TransportError } from './transport';
import { isPrivateAddress } from './webhooks';

/** A subscription as the transport needs it: the endpoint and the browser's keys (RFC 8291), base64url, opened. */
export type PushTarget = { endpoint: string; p256dh: string; auth: string };

export type PushUrgency = 'very-low' | 'low' | 'normal' | 'high';

export type PushSendOptions = {
  /** RFC 8030 TTL: how long the push service may hold it for an offline device. */
  ttlSeconds: number;
  urgency: PushUrgency;
  /** RFC 8030 Topic (at most 32 base64url characters): a later push with the same topic replaces one not yet delivered. */
  topic?: string;
};

export interface PushTransport {
  send(target: PushTarget, payload: string, options: PushSendOptions): Promise<{ status: number }>;
  close?(): Promise<void>;
}

export type PushErrorCode = 'push_gone' | 'push_rate_limited' | 'push_unavailable' | 'push_rejected' | 'push_network' | 'push_private_address' | 'push_not_configured';

/** 429, 5xx and network errors are worth retrying; the rest are not (404/410 mean the subscription is gone). */
const TRANSIENT: ReadonlySet<PushErrorCode> = new Set(['push_rate_limited', 'push_unavailable', 'push_network']);

export class PushError extends TransportError {
  readonly pushCode: PushErrorCode;
  /** The push service's HTTP status, when it answered. */
  readonly status?: number;
  readonly retryAfterSeconds?: number;

  // Fixed sentences only: push services' error bodies may echo the endpoint, which is a capability URL.
  constructor(message: string, code: PushErrorCode, options: { status?: number; retryAfterSeconds?: number } = {}) {
    super(message, code);
    this.name = 'PushError';
    this.pushCode = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  override get permanent(): boolean {
    return !TRANSIENT.has(this.pushCode);
  }

  get gone(): boolean {
    return this.pushCode === 'push_gone';
  }
}

export type WebPushOptions = {
  vapid: PushConfig;
  timeoutMs?: number;
  /** Outside production only: endpoints on loopback or private networks (the tests' and a developer's fake service). */
  allowPrivateNetworks?: boolean;
};

export function createWebPushTransport(options: WebPushOptions): PushTransport {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const vapidDetails = { subject: options.vapid.subject, publicKey: options.vapid.publicKey, privateKey: options.vapid.privateKey };

  return {
    async send(target, payload, sendOptions) {
      // SSRF: the endpoint came from a browser; in production it must resolve to public addresses only.
      if (!options.allowPrivateNetworks && !(await publicHost(target.endpoint))) {
        throw new PushError('the push endpoint resolves to a private address', 'push_private_address');
      }
      // The VAPID JWT's aud is the endpoint's origin and exp 12 h ahead (web-push's default; RFC 8292 allows 24 h).
      let request: ReturnType<typeof webpush.generateRequestDetails>;
      try {
        request = webpush.generateRequestDetails({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, payload, {
          vapidDetails,
          TTL: sendOptions.ttlSeconds,
          urgency: sendOptions.urgency,
          contentEncoding: 'aes128gcm',
          ...(sendOptions.topic ? { topic: sendOptions.topic } : {}),
        });
      } catch {
        // A key web-push cannot use: sending again would not help (the message names nothing of the subscription).
        throw new PushError('the push request could not be prepared', 'push_rejected');
      }
      // fetch computes Content-Length itself.
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([k]) => k.toLowerCase() !== 'content-length').map(([k, v]) => [k, String(v)]));
      let response: Response;
      try {
        response = await fetch(request.endpoint, {
          method: 'POST',
          headers,
          body: request.body ? new Uint8Array(request.body) : undefined,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
      } catch (error) {
        const timedOut = (error as { name?: string }).name === 'TimeoutError';
        throw new PushError(timedOut ? `push service did not answer within ${timeoutMs} ms` : 'push service could not be reached', 'push_network');
      }
      if (response.status >= 200 && response.status < 300) return { status: response.status };
      throw pushError(response);
    },
  };
}

function pushError(response: Response): PushError {
  const status = response.status;
  if (status === 404 || status === 410) return new PushError(`push service says the subscription is gone (HTTP ${status})`, 'push_gone', { status });
  if (status === 429) {
    const retryAfter = response.headers.get('retry-after');
    return new PushError('push service is rate limiting (HTTP 429)', 'push_rate_limited', {
      status,
      ...(retryAfter && /^\d+$/.test(retryAfter.trim()) ? { retryAfterSeconds: Number(retryAfter.trim()) } : {}),
    });
  }
  if (status >= 500) return new PushError(`push service is unavailable (HTTP ${status})`, 'push_unavailable', { status });
  // 400 (malformed), 401/403 (our VAPID JWT refused), 413 (payload too large): sending again would not help.
  return new PushError(`push service rejected the request (HTTP ${status})`, 'push_rejected', { status });
}

async function publicHost(endpoint: string): Promise<boolean> {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  return addresses.length > 0 && addresses.every((a) => !isPrivateAddress(a));
}

// ---------------------------------------------------------------------------------------------------------------
// The notice (EM4)

export type PushNotice = { title: string; body: string; url: string; tag: string };

const NOTICE_TEXT = {
  en: (orgName: string) => ({ title: `Secure message from ${orgName}`, body: `${orgName} has sent you a secure message. Open the portal to read it.` }),
  es: (orgName: string) => ({ title: `Mensaje seguro de ${orgName}`, body: `${orgName} le ha enviado un mensaje seguro. Abra el portal para leerlo.` }),
} as const;

/**
 * EM4: the only words a push notice carries: that a secure message is waiting from the organisation. Never the
 * subject, the body or the patient's name. Spanish for `es` (and regional variants such as `es-MX`), else English.
 */
export function pushNoticeText(orgName: string, locale: string | null | undefined): { title: string; body: string } {
  const language = (locale ?? 'en').toLowerCase().split(/[-_]/)[0];
  return language === 'es' ? NOTICE_TEXT.es(orgName) : NOTICE_TEXT.en(orgName);
}
