// A local HTTP server that acts as a web push service (RFC 8030), since the real ones cannot be reached from here. It
// checks what a real one checks, and what a browser would: the VAPID JWT (RFC 8292: ES256 signature by the key in
// `k`, aud = the endpoint's origin, exp within 24 h, a sub), and it decrypts the aes128gcm payload (RFC 8291, RFC 8188)
// with the subscription's private key and auth secret, as the browser would. Written from the RFCs with node:crypto,
// independently of the web-push package the server uses, so a shared mistake cannot pass.
import { createDecipheriv, createECDH, hkdfSync, randomBytes, type ECDH } from 'node:crypto';
import http from 'node:http';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWTPayload } from 'jose';

/** What a browser keeps for a subscription: the P-256 key pair and the auth secret. */
export type FakeBrowserSubscription = {
  endpoint: string;
  ecdh: ECDH;
  auth: Buffer;
  /** As `PushSubscription.toJSON()` gives it. */
  json: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
};

export type ReceivedPush = {
  id: string;
  headers: http.IncomingHttpHeaders;
  vapid: { ok: true; claims: JWTPayload; publicKey: string } | { ok: false; problem: string };
  /** The decrypted payload, when it decrypted. */
  plaintext?: string;
  decryptError?: string;
  status: number;
};

export type Reply = { status: number; headers?: Record<string, string> };

export async function startFakePushService() {
  const subscriptions = new Map<string, FakeBrowserSubscription>();
  const replies = new Map<string, Reply[]>();
  const received: ReceivedPush[] = [];
  let origin = '';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const id = (req.url ?? '').replace(/^\/push\//, '');
        const sub = subscriptions.get(id);
        const body = Buffer.concat(chunks);
        const vapid = await checkVapid(req.headers.authorization, origin);
        let plaintext: string | undefined;
        let decryptError: string | undefined;
        if (sub) {
          try {
            if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`content-encoding ${req.headers['content-encoding']}`);
            plaintext = decryptAes128gcm(body, sub.ecdh, sub.auth).toString('utf8');
          } catch (error) {
            decryptError = (error as Error).message;
          }
        }
        // A real push service refuses a request without valid VAPID (RFC 8292 section 4.2: 401/403).
        const queued = replies.get(id)?.shift();
        const status = !sub ? 404 : !vapid.ok ? 401 : (queued?.status ?? 201);
        received.push({ id, headers: req.headers, vapid, plaintext, decryptError, status });
        res.writeHead(status, { ...(status === 201 ? { location: `${origin}/message/${randomBytes(6).toString('hex')}` } : {}), ...(queued?.headers ?? {}) });
        res.end();
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  return {
    origin,
    received,
    /** A new subscription, as pushManager.subscribe() would make it: a fresh P-256 key pair and 16-byte auth secret. */
    subscribe(): FakeBrowserSubscription {
      const id = randomBytes(12).toString('base64url');
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const endpoint = `${origin}/push/${id}`;
      const sub = { endpoint, ecdh, auth, json: { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey('base64url', 'uncompressed'), auth: auth.toString('base64url') } } } as const;
      subscriptions.set(id, sub);
      return sub;
    },
    /** The next answers for this subscription (then 201 again). */
    replyWith(sub: FakeBrowserSubscription, ...next: Reply[]) {
      const id = sub.endpoint.split('/').pop()!;
      replies.set(id, [...(replies.get(id) ?? []), ...next]);
    },
    receivedFor: (sub: FakeBrowserSubscription) => received.filter((r) => r.id === sub.endpoint.split('/').pop()),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type FakePushService = Awaited<ReturnType<typeof startFakePushService>>;

/** RFC 8292: `Authorization: vapid t=<JWT>, k=<uncompressed P-256 public key, base64url>`. */
async function checkVapid(header: string | undefined, audience: string): Promise<ReceivedPush['vapid']> {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!match) return { ok: false, problem: 'no vapid authorization' };
  const [, token, k] = match as unknown as [string, string, string];
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 4) return { ok: false, problem: 'k is not an uncompressed P-256 point' };
  if (decodeProtectedHeader(token).alg !== 'ES256') return { ok: false, problem: 'alg is not ES256' };
  const key = await importJWK({ kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, 'ES256');
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['ES256'], audience });
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.exp !== 'number' || payload.exp <= now || payload.exp > now + 24 * 3600) return { ok: false, problem: 'exp not within 24 h' };
    if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub)) return { ok: false, problem: 'sub is not mailto: or https:' };
    return { ok: true, claims: payload, publicKey: k };
  } catch (error) {
    return { ok: false, problem: (error as Error).message };
  }
}

/** RFC 8291 section 3.4 and RFC 8188 section 2: one record, as a browser decrypts it. */
export function decryptAes128gcm(body: Buffer, ecdh: ECDH, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  if (idlen !== 65) throw new Error('keyid is not the 65-byte application server key');
  if (ciphertext.length > rs) throw new Error('more than one record');
  const uaPublic = ecdh.getPublicKey();
  const ecdhSecret = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0', 'latin1'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0', 'latin1'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0', 'latin1'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero or more 0x00 padding octets.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no last-record delimiter');
  return padded.subarray(0, end);
}
