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
});
