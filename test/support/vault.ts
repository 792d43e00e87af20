import { createCipheriv, randomBytes } from 'node:crypto';
import type { SealedEnvelope } from '../../db/schema/index';
import { kekFrom } from '../../server/messages/vault';

/** A v1 envelope as the first vault version made them: body and wrapped key both bound to the KEK id. */
export function sealV1(secret: Buffer, context: { orgId: string; purpose: string }, plaintext: string): SealedEnvelope {
  const kek = kekFrom(secret);
  const aad = Buffer.from(`carepost-vault:v1:${context.orgId}:${context.purpose}:${kek.kid}`, 'utf8');
  const gcm = (key: Buffer, data: Buffer) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
    return { iv, ct: Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]) };
  };
  const dataKey = randomBytes(32);
  const wrapped = gcm(kek.key, dataKey);
  const body = gcm(dataKey, Buffer.from(plaintext, 'utf8'));
  return { v: 1, kid: kek.kid, wk: Buffer.concat([wrapped.iv, wrapped.ct]).toString('base64'), iv: body.iv.toString('base64'), ct: body.ct.toString('base64') };
}
