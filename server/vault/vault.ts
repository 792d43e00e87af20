// The vault (ARCHITECTURE.md, "Crypto choices"): AES-256-GCM with a fresh data key per message, the data key wrapped
// by a key-encryption key (KEK) named by its id, so KEKs can rotate: new seals use the current KEK, and every KEK in
// the ring still opens what it sealed. Additional data binds a sealed value to its organisation and its purpose, so
// a ciphertext copied into another row or tenant does not open.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { SealedEnvelope } from '../../db/schema/index';

export type Kek = { kid: string; key: Buffer };
export type KekRing = { current: Kek; all: Kek[] };

export function kekFrom(secret: Buffer): Kek {
  if (secret.length < 32) throw new Error('vault: a key-encryption key needs at least 32 bytes');
  const key = createHash('sha256').update('carepost-vault-kek').update(secret).digest();
  return { kid: createHash('sha256').update('carepost-vault-kid').update(secret).digest('base64url').slice(0, 12), key };
}

export function kekRing(current: Buffer, previous: Buffer[] = []): KekRing {
  const kek = kekFrom(current);
  return { current: kek, all: [kek, ...previous.map(kekFrom)] };
}

const b64 = (b: Buffer) => b.toString('base64');

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; ct: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ct: Buffer.concat([body, cipher.getAuthTag()]) };
}

function gcmOpen(key: Buffer, iv: Buffer, ct: Buffer, aad: Buffer): Buffer {
  if (ct.length < 16) throw new VaultError('truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(ct.subarray(ct.length - 16));
  return Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]);
}

export class VaultError extends Error {
  constructor(readonly reason: 'unknown_key' | 'truncated' | 'tampered') {
    super(`vault: cannot open (${reason})`);
    this.name = 'VaultError';
  }
}

/** What a sealed value belongs to: its organisation and what it is (e.g. `message-content`). */
export type SealContext = { orgId: string; purpose: string };

const aadOf = (context: SealContext, kid: string) => Buffer.from(`carepost-vault:v1:${context.orgId}:${context.purpose}:${kid}`, 'utf8');

export function seal(ring: KekRing, context: SealContext, plaintext: Buffer | string): SealedEnvelope {
  const dataKey = randomBytes(32);
  const { kid, key } = ring.current;
  const wrapped = gcmSeal(key, dataKey, aadOf(context, kid));
  const body = gcmSeal(dataKey, typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext, aadOf(context, kid));
  dataKey.fill(0);
  return { v: 1, kid, wk: b64(Buffer.concat([wrapped.iv, wrapped.ct])), iv: b64(body.iv), ct: b64(body.ct) };
}

export function open(ring: KekRing, context: SealContext, envelope: SealedEnvelope): Buffer {
  const kek = ring.all.find((k) => k.kid === envelope.kid);
  if (!kek || envelope.v !== 1) throw new VaultError('unknown_key');
  const aad = aadOf(context, envelope.kid);
  const wk = Buffer.from(envelope.wk, 'base64');
  try {
    const dataKey = gcmOpen(kek.key, wk.subarray(0, 12), wk.subarray(12), aad);
    const plain = gcmOpen(dataKey, Buffer.from(envelope.iv, 'base64'), Buffer.from(envelope.ct, 'base64'), aad);
    dataKey.fill(0);
    return plain;
  } catch (error) {
    if (error instanceof VaultError) throw error;
    throw new VaultError('tampered');
  }
}

/** Message content as sealed in `messages.content`. */
export type MessageContent = { subject: string; text: string; html?: string };

export function sealJson<T>(ring: KekRing, context: SealContext, value: T): SealedEnvelope {
  return seal(ring, context, JSON.stringify(value));
}

export function openJson<T>(ring: KekRing, context: SealContext, envelope: SealedEnvelope): T {
  return JSON.parse(open(ring, context, envelope).toString('utf8')) as T;
}
