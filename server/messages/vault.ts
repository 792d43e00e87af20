// The vault (ARCHITECTURE.md, "Crypto choices"): AES-256-GCM with a fresh data key per message, the data key wrapped
// by a key-encryption key (KEK) named by its id, so KEKs can rotate: new seals use the current KEK, and every KEK in
// the ring still opens what it sealed. Additional data binds a sealed value to its organisation and its purpose, so
// a ciphertext copied into another row or tenant does not open.
//
// Envelope v2 binds the body to (organisation, purpose) only and the wrapped data key to (organisation, purpose, KEK
// id), so `rewrap()` can move a data key under a new KEK without touching the ciphertext (`npm run vault:rotate`).
// v1 envelopes (the first version, whose body also named the KEK) still open; rotation re-seals them as v2.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { SealedEnvelope } from '../../db/schema/index';

export type Kek = { kid: string; key: Buffer };
export type KekRing = { current: Kek; all: Kek[] };

export function kekFrom(secret: Buffer): Kek {
  if (secret.length < 32) throw new Error('vault: a key-encryption key needs at least 32 bytes');
  const key = createHash('sha256').update('carepost-vault-kek').update(secret).digest();
  return { kid: createHash('sha256').update('carepost-vault-kid').update(secret).digest('base64url').slice(0, 12), key };
}

/** The ring the configuration names: VAULT_KEY seals, it and every VAULT_KEY_PREVIOUS open. */
export function vaultRing(config: { secrets: { VAULT_KEY: Buffer }; previousVaultKeys: Buffer[] }): KekRing {
  return kekRing(config.secrets.VAULT_KEY, config.previousVaultKeys);
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

const v1Aad = (context: SealContext, kid: string) => Buffer.from(`carepost-vault:v1:${context.orgId}:${context.purpose}:${kid}`, 'utf8');
const wrapAad = (context: SealContext, kid: string) => Buffer.from(`carepost-vault:v2:key:${context.orgId}:${context.purpose}:${kid}`, 'utf8');
const bodyAad = (context: SealContext) => Buffer.from(`carepost-vault:v2:body:${context.orgId}:${context.purpose}`, 'utf8');

function wrapKey(kek: Kek, context: SealContext, dataKey: Buffer): string {
  const wrapped = gcmSeal(kek.key, dataKey, wrapAad(context, kek.kid));
  return b64(Buffer.concat([wrapped.iv, wrapped.ct]));
}

function unwrapKey(ring: KekRing, context: SealContext, envelope: SealedEnvelope): Buffer {
  const kek = ring.all.find((k) => k.kid === envelope.kid);
  if (!kek || (envelope.v !== 1 && envelope.v !== 2)) throw new VaultError('unknown_key');
  return guarded(() => {
    const wk = Buffer.from(envelope.wk, 'base64');
    return gcmOpen(kek.key, wk.subarray(0, 12), wk.subarray(12), envelope.v === 1 ? v1Aad(context, envelope.kid) : wrapAad(context, envelope.kid));
  });
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof VaultError) throw error;
    throw new VaultError('tampered');
  }
}

export function seal(ring: KekRing, context: SealContext, plaintext: Buffer | string): SealedEnvelope {
  const dataKey = randomBytes(32);
  const body = gcmSeal(dataKey, typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext, bodyAad(context));
  const wk = wrapKey(ring.current, context, dataKey);
  dataKey.fill(0);
  return { v: 2, kid: ring.current.kid, wk, iv: b64(body.iv), ct: b64(body.ct) };
}

export function open(ring: KekRing, context: SealContext, envelope: SealedEnvelope): Buffer {
  const dataKey = unwrapKey(ring, context, envelope);
  const aad = envelope.v === 1 ? v1Aad(context, envelope.kid) : bodyAad(context);
  try {
    return guarded(() => gcmOpen(dataKey, Buffer.from(envelope.iv, 'base64'), Buffer.from(envelope.ct, 'base64'), aad));
  } finally {
    dataKey.fill(0);
  }
}

/**
 * The same envelope under the ring's current KEK. A v2 envelope keeps its `iv` and `ct` byte for byte: only the
 * wrapped data key changes. A v1 envelope is opened and sealed again as v2. Undefined when it is already current.
 */
export function rewrap(ring: KekRing, context: SealContext, envelope: SealedEnvelope): SealedEnvelope | undefined {
  if (envelope.v === 2 && envelope.kid === ring.current.kid) return undefined;
  if (envelope.v === 1) return seal(ring, context, open(ring, context, envelope));
  const dataKey = unwrapKey(ring, context, envelope);
  try {
    // Prove the data key still opens the body before the old wrapping is thrown away.
    guarded(() => gcmOpen(dataKey, Buffer.from(envelope.iv, 'base64'), Buffer.from(envelope.ct, 'base64'), bodyAad(context)));
    return { v: 2, kid: ring.current.kid, wk: wrapKey(ring.current, context, dataKey), iv: envelope.iv, ct: envelope.ct };
  } finally {
    dataKey.fill(0);
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
