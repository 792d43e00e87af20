import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SECRET_NAMES } from '../../server/config';

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

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'carepost-config-'));
}

describe('config', () => {
  it('production refuses to start without secrets, and names every missing variable', () => {
    const env = { NODE_ENV: 'production', PUBLIC_URL: 'https://portal.example.com' };
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['DATABASE_URL', 'SMTP_URL', ...SECRET_NAMES]) expect(message).toContain(name);
    expect(message).not.toContain('PUBLIC_URL');
  });

  it('production refuses one missing secret, naming it alone', () => {
    const { VAULT_KEY: _omitted, ...env } = productionEnv;
    expect(() => loadConfig(env)).toThrow(/missing VAULT_KEY\./);
  });

  it('production refuses a secret that is too short, without echoing it', () => {
    const weak = Buffer.from('short').toString('base64');
    let message = '';
    try {
      loadConfig({ ...productionEnv, SESSION_SECRET: weak });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('SESSION_SECRET');
    expect(message).not.toContain(weak);
  });

  it('production refuses a plain-http PUBLIC_URL', () => {
    expect(() => loadConfig({ ...productionEnv, PUBLIC_URL: 'http://portal.example.com' })).toThrow(/https/);
  });

  it('production starts with everything set and never writes secrets to disk', () => {
    const dir = tempDir();
    const config = loadConfig({ ...productionEnv, CAREPOST_DATA_DIR: dir });
    expect(config.isProduction).toBe(true);
    expect(config.secrets.VAULT_KEY.length).toBe(32);
    expect(fs.existsSync(path.join(dir, 'secrets.json'))).toBe(false);
  });

  it('outside production, missing secrets are generated once into the data folder with mode 0600', () => {
    const dir = tempDir();
    const first = loadConfig({ CAREPOST_DATA_DIR: dir });
    const file = path.join(dir, 'secrets.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = loadConfig({ CAREPOST_DATA_DIR: dir });
    for (const name of SECRET_NAMES) {
      expect(first.secrets[name].length).toBeGreaterThanOrEqual(32);
      expect(second.secrets[name].equals(first.secrets[name])).toBe(true);
    }
    expect(first.secrets.SESSION_SECRET.equals(first.secrets.VAULT_KEY)).toBe(false);
  });

  it('a secret set in the environment wins over the generated one', () => {
    const dir = tempDir();
    const config = loadConfig({ CAREPOST_DATA_DIR: dir, LINK_SIGNING_SECRET: secret });
    expect(config.secrets.LINK_SIGNING_SECRET.equals(Buffer.from(secret, 'base64'))).toBe(true);
  });

  it('rejects malformed values with the variable name', () => {
    expect(() => loadConfig({ CAREPOST_DATA_DIR: tempDir(), PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ CAREPOST_DATA_DIR: tempDir(), DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
  });

  describe('EM3: DKIM_*', () => {
    const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const dkimEnv = { DKIM_DOMAIN: 'Mail.Clinic.Example', DKIM_SELECTOR: 's2030', DKIM_PRIVATE_KEY: rsaPem };

    it('EM3: unset means no signing', () => {
      expect(loadConfig({ CAREPOST_DATA_DIR: tempDir() }).dkim).toBeUndefined();
    });

    it('EM3: all three set give config.dkim, with the key as written or with \\n escapes', () => {
      const config = loadConfig({ CAREPOST_DATA_DIR: tempDir(), ...dkimEnv });
      expect(config.dkim).toEqual({ domainName: 'mail.clinic.example', keySelector: 's2030', privateKey: rsaPem });
      const escaped = loadConfig({ CAREPOST_DATA_DIR: tempDir(), ...dkimEnv, DKIM_PRIVATE_KEY: rsaPem.trim().replace(/\n/g, '\\n') });
      expect(escaped.dkim!.privateKey).toBe(rsaPem);
      expect(loadConfig({ ...productionEnv, CAREPOST_DATA_DIR: tempDir(), ...dkimEnv }).dkim?.keySelector).toBe('s2030');
    });

    it('EM3: one or two of the three is refused, naming all three', () => {
      for (const partial of [{ DKIM_DOMAIN: 'clinic.example' }, { DKIM_DOMAIN: 'clinic.example', DKIM_SELECTOR: 's1' }, { DKIM_PRIVATE_KEY: rsaPem }]) {
        let error: unknown;
        try {
          loadConfig({ CAREPOST_DATA_DIR: tempDir(), ...partial });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        for (const name of ['DKIM_DOMAIN', 'DKIM_SELECTOR', 'DKIM_PRIVATE_KEY']) expect((error as Error).message).toContain(name);
      }
    });

    it('EM3: a key that is not an RSA private key is refused without echoing it; a bad domain or selector is named', () => {
      const ecPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const smallPem = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      for (const key of ['not a key at all', ecPem, smallPem]) {
        let message = '';
        try {
          loadConfig({ CAREPOST_DATA_DIR: tempDir(), ...dkimEnv, DKIM_PRIVATE_KEY: key });
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          message = (e as Error).message;
        }
        expect(message).toContain('DKIM_PRIVATE_KEY');
        expect(message).not.toContain(key.split('\n')[1] ?? key);
      }
      expect(() => loadConfig({ CAREPOST_DATA_DIR: tempDir(), ...dkimEnv, DKIM_DOMAIN: 'not a domain' })).toThrow(/DKIM_DOMAIN/);
      expect(() => loadConfig({ CAREPOST_DATA_DIR: tempDir(), ...dkimEnv, DKIM_SELECTOR: 's1; x=y' })).toThrow(/DKIM_SELECTOR/);
    });
  });
});

describe('engine settings', () => {
  it('TR1: the direct TLS route is off unless asked for; feedback port and previous link secrets are checked', () => {
    expect(loadConfig(productionEnv).directTlsDelivery).toBe(false);
    expect(loadConfig({ ...productionEnv, DIRECT_TLS_DELIVERY: 'true' }).directTlsDelivery).toBe(true);
    expect(() => loadConfig({ ...productionEnv, DIRECT_TLS_DELIVERY: 'yes' })).toThrow(ConfigError);
    expect(loadConfig({ ...productionEnv, FEEDBACK_SMTP_PORT: '2525' }).feedbackSmtpPort).toBe(2525);
    expect(() => loadConfig({ ...productionEnv, FEEDBACK_SMTP_PORT: '70000' })).toThrow(ConfigError);
    const previous = Buffer.alloc(32, 1).toString('base64');
    expect(loadConfig({ ...productionEnv, LINK_SIGNING_SECRET_PREVIOUS: `${previous}, ${previous}` }).previousLinkSecrets).toHaveLength(2);
    expect(() => loadConfig({ ...productionEnv, LINK_SIGNING_SECRET_PREVIOUS: 'short' })).toThrow(ConfigError);
  });
});
