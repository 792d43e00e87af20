// Web push configuration (ADR 015): VAPID keys generated once into the data folder outside production; in production
// all three variables or none (push off), and a key pair that does not belong together is refused at start.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config';
import { pushNoticeText } from '../../server/delivery/push';

const secret = Buffer.alloc(32, 7).toString('base64');
const productionEnv = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://u:p@db.internal:5432/carepost',
  SMTP_URL: 'smtps://relay.internal:465',
  PUBLIC_URL: 'https://portal.example.com',
  SESSION_SECRET: secret,
  LINK_SIGNING_SECRET: secret,
  VAULT_KEY: secret,
  CODE_HMAC_SECRET: secret,
};
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-push-config-'));

/** As `web-push generate-vapid-keys` prints them: the uncompressed public point and the 32-byte private scalar, base64url. */
function keyPair() {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { VAPID_PUBLIC_KEY: point.toString('base64url'), VAPID_PRIVATE_KEY: jwk.d! };
}

describe('VAPID configuration', () => {
  it('outside production: a key pair is generated once into <dataDir>/vapid.json (mode 0600) and reused', () => {
    const dir = tempDir();
    const first = loadConfig({ CAREPOST_DATA_DIR: dir }).push!;
    expect(first.publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(first.subject).toBe('mailto:no-reply@carepost.localhost');
    expect(fs.statSync(path.join(dir, 'vapid.json')).mode & 0o777).toBe(0o600);
    expect(loadConfig({ CAREPOST_DATA_DIR: dir }).push).toEqual(first);
  });

  it('production without VAPID variables runs with push off; with all three, push is on', () => {
    expect(loadConfig(productionEnv).push).toBeUndefined();
    const keys = keyPair();
    const config = loadConfig({ ...productionEnv, ...keys, VAPID_SUBJECT: 'mailto:ops@example.com' });
    expect(config.push).toEqual({ publicKey: keys.VAPID_PUBLIC_KEY, privateKey: keys.VAPID_PRIVATE_KEY, subject: 'mailto:ops@example.com' });
  });

  it('refuses some but not all of the three, a mismatched pair, and a subject push services cannot use', () => {
    const keys = keyPair();
    expect(() => loadConfig({ ...productionEnv, VAPID_PUBLIC_KEY: keys.VAPID_PUBLIC_KEY })).toThrow(ConfigError);
    expect(() => loadConfig({ ...productionEnv, ...keys })).toThrow(/VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT together/);
    const other = keyPair();
    expect(() => loadConfig({ ...productionEnv, ...keys, VAPID_PUBLIC_KEY: other.VAPID_PUBLIC_KEY, VAPID_SUBJECT: 'https://example.com' })).toThrow(/does not belong/);
    expect(() => loadConfig({ ...productionEnv, ...keys, VAPID_SUBJECT: 'http://example.com' })).toThrow(/VAPID_SUBJECT/);
  });
});

describe('EM4: pushNoticeText', () => {
  it('says only that a secure message is waiting from the organisation, in English or Spanish', () => {
    expect(pushNoticeText('Sunrise Clinic', 'en')).toEqual({ title: 'Secure message from Sunrise Clinic', body: 'Sunrise Clinic has sent you a secure message. Open the portal to read it.' });
    expect(pushNoticeText('Sunrise Clinic', 'es-MX').title).toBe('Mensaje seguro de Sunrise Clinic');
    expect(pushNoticeText('Sunrise Clinic', null)).toEqual(pushNoticeText('Sunrise Clinic', 'en'));
    expect(pushNoticeText('Sunrise Clinic', 'fr')).toEqual(pushNoticeText('Sunrise Clinic', 'en'));
  });
});
