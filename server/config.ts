// The one place where the environment is read and validated (ARCHITECTURE.md, "Defaults that make it run anywhere").
import { createECDH, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export const SECRET_NAMES = ['SESSION_SECRET', 'LINK_SIGNING_SECRET', 'VAULT_KEY', 'CODE_HMAC_SECRET'] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/**
 * ADR 021: one web process per core but one, at most four. The spare core is for what shares the machine with the web
 * tier (the worker process, often Postgres): on two cores shared with Postgres, two web processes answered the API
 * benchmark worse than one, every time it was measured. Each process keeps its own pool of ten database connections,
 * and the cap keeps a large machine within Postgres's default max_connections (100) next to the workers. Set
 * WEB_PROCESSES to the core count where the web tier has the machine to itself.
 */
export function defaultWebProcesses(): number {
  return Math.max(1, Math.min(os.availableParallelism() - 1, 4));
}

// Variables production cannot run without. Outside production each has a local default.
const REQUIRED_IN_PRODUCTION = ['DATABASE_URL', 'SMTP_URL', 'PUBLIC_URL', ...SECRET_NAMES] as const;

const secretSchema = z
  .string()
  .refine((value) => Buffer.from(value, 'base64').length >= 32, 'must be at least 32 bytes, base64-encoded');

const envSchema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** How many node processes `npm run web` serves HTTP with (node:cluster, ADR 021); unset: defaultWebProcesses(). */
  WEB_PROCESSES: z.coerce.number().int().min(1).max(64).optional(),
  PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  MAIL_FROM: z.string().min(3).default('Carepost <no-reply@carepost.localhost>'),
  CAREPOST_DATA_DIR: z.string().min(1).default('.data'),
  /** Where the worker listens for bounces and complaints forwarded by the MX (server/delivery/bounces.ts). */
  FEEDBACK_SMTP_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** TR1: send the content straight to recipients' mail servers over required TLS when they take it. */
  DIRECT_TLS_DELIVERY: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  TWILIO_ACCOUNT_SID: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must look like AC followed by 32 hex digits').optional(),
  TWILIO_AUTH_TOKEN: z.string().min(16).optional(),
  TWILIO_FROM: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number').optional(),
  TWILIO_MESSAGING_SERVICE_SID: z.string().regex(/^MG[0-9a-fA-F]{32}$/).optional(),
  TWILIO_BASE_URL: z.url().default('https://api.twilio.com'),
  /** EM3: all three or none. The key is an RSA private key in PEM; `\n` escapes stand for newlines. */
  DKIM_DOMAIN: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/, 'must be a domain name')
    .optional(),
  DKIM_SELECTOR: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a DNS label, such as s2026')
    .optional(),
  DKIM_PRIVATE_KEY: z.string().min(1).optional(),
  SESSION_SECRET: secretSchema.optional(),
  LINK_SIGNING_SECRET: secretSchema.optional(),
  /** Comma-separated earlier LINK_SIGNING_SECRETs: links they signed keep working after a rotation until they expire. */
  LINK_SIGNING_SECRET_PREVIOUS: z
    .string()
    .optional()
    .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []))
    .pipe(z.array(secretSchema)),
  VAULT_KEY: secretSchema.optional(),
  /** Comma-separated earlier VAULT_KEYs: what they sealed still opens until `npm run vault:rotate` re-wraps it. */
  VAULT_KEY_PREVIOUS: z
    .string()
    .optional()
    .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []))
    .pipe(z.array(secretSchema)),
  CODE_HMAC_SECRET: secretSchema.optional(),
  /** Web push (RFC 8292 VAPID): all three or none. Production without them runs with push off (ADR 015). */
  VAPID_PUBLIC_KEY: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{87}$/, 'must be an uncompressed P-256 public key, base64url (87 characters)')
    .optional(),
  VAPID_PRIVATE_KEY: z.string().trim().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a P-256 private key, base64url (43 characters)').optional(),
  VAPID_SUBJECT: z
    .string()
    .trim()
    .regex(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/[^\s]+)$/, 'must be a mailto: address or an https: URL where the push services can reach you')
    .optional(),
});

export type Config = {
  mode: 'production' | 'development' | 'test';
  isProduction: boolean;
  port: number;
  host: string;
  /** `npm run web` only (ADR 021): 1 is one plain process; more is a cluster primary and that many workers. */
  webProcesses: number;
  publicUrl: URL;
  /** Unset outside production means: start embedded Postgres. */
  databaseUrl: string | undefined;
  /** Unset outside production means: start the embedded mail catcher. */
  smtpUrl: string | undefined;
  mailFrom: string;
  dataDir: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  trustProxy: boolean;
  /** Twilio when configured; outside production otherwise the dev sink shown at /dev/sms; in production otherwise none. */
  sms:
    | { provider: 'twilio'; baseUrl: string; accountSid: string; authToken: string; from?: string; messagingServiceSid?: string }
    | { provider: 'dev-sink' }
    | { provider: 'none' };
  secrets: Record<SecretName, Buffer>;
  /** EM3: the DKIM key outgoing mail is signed with; undefined when none is configured (mail goes unsigned). */
  dkim: { domainName: string; keySelector: string; privateKey: string } | undefined;
  /** The TLS route: off unless this host may deliver to port 25 with matching reverse DNS. */
  directTlsDelivery: boolean;
  /** Set on one worker: the bounce and complaint listener's port on 127.0.0.1. */
  feedbackSmtpPort: number | undefined;
  /** Earlier link-signing secrets that still verify (CX4 rotation). */
  previousLinkSecrets: Buffer[];
  /** Earlier vault keys that still open what they sealed (TR1 key rotation). */
  previousVaultKeys: Buffer[];
  /** Web push: the VAPID key pair (base64url, as browsers and RFC 8292 use them) and contact; undefined: push is off. */
  push: PushConfig | undefined;
};

export type PushConfig = { publicKey: string; privateKey: string; subject: string };

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the environment once. In production every missing variable is named in one error;
 * elsewhere missing secrets are generated once into `<dataDir>/secrets.json` (mode 0600) and reused.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`, problems);
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';

  if (isProduction) {
    const missing = REQUIRED_IN_PRODUCTION.filter((name) => !e[name]);
    if (missing.length > 0) {
      throw new ConfigError(
        `Refusing to start in production: missing ${missing.join(', ')}. Set them in the environment.`,
        missing.map((name) => `${name}: required in production`),
      );
    }
    if (new URL(e.PUBLIC_URL!).protocol !== 'https:') {
      throw new ConfigError('Refusing to start in production: PUBLIC_URL must be https.', ['PUBLIC_URL: must be https']);
    }
  }

  const twilioSet = [e.TWILIO_ACCOUNT_SID, e.TWILIO_AUTH_TOKEN].filter(Boolean).length;
  if (twilioSet === 1 || (twilioSet === 2 && !e.TWILIO_FROM && !e.TWILIO_MESSAGING_SERVICE_SID)) {
    throw new ConfigError('SMS: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and one of TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID together.', [
      'TWILIO_*: incomplete',
    ]);
  }
  const sms: Config['sms'] =
    twilioSet === 2
      ? {
          provider: 'twilio',
          baseUrl: e.TWILIO_BASE_URL,
          accountSid: e.TWILIO_ACCOUNT_SID!,
          authToken: e.TWILIO_AUTH_TOKEN!,
          from: e.TWILIO_FROM,
          messagingServiceSid: e.TWILIO_MESSAGING_SERVICE_SID,
        }
      : isProduction
        ? { provider: 'none' }
        : { provider: 'dev-sink' };

  const dkim = dkimConfig(e.DKIM_DOMAIN, e.DKIM_SELECTOR, e.DKIM_PRIVATE_KEY);

  const dataDir = path.resolve(e.CAREPOST_DATA_DIR);
  const push = pushConfig(e, isProduction, dataDir);
  const provided = Object.fromEntries(SECRET_NAMES.map((name) => [name, e[name]])) as Record<SecretName, string | undefined>;
  const secrets = isProduction ? decodeSecrets(provided as Record<SecretName, string>) : devSecrets(dataDir, provided);

  return {
    mode: e.NODE_ENV,
    isProduction,
    port: e.PORT,
    host: e.HOST,
    webProcesses: e.WEB_PROCESSES ?? defaultWebProcesses(),
    publicUrl: new URL(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`),
    databaseUrl: e.DATABASE_URL,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    dataDir,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    sms,
    secrets,
    dkim,
    feedbackSmtpPort: e.FEEDBACK_SMTP_PORT,
    directTlsDelivery: e.DIRECT_TLS_DELIVERY,
    previousLinkSecrets: e.LINK_SIGNING_SECRET_PREVIOUS.map((v) => Buffer.from(v, 'base64')),
    previousVaultKeys: e.VAULT_KEY_PREVIOUS.map((v) => Buffer.from(v, 'base64')),
    push,
  };
}

/**
 * Web push (ADR 015). All three VAPID variables or none. In production none means push is off (the web and worker
 * processes say so in one log line); outside production a key pair is generated once into `<dataDir>/vapid.json`.
 * The pair is checked to belong together, since a mismatch would only show as every push service refusing us.
 */
function pushConfig(e: z.infer<typeof envSchema>, isProduction: boolean, dataDir: string): PushConfig | undefined {
  const set = [e.VAPID_PUBLIC_KEY, e.VAPID_PRIVATE_KEY, e.VAPID_SUBJECT].filter((v) => v !== undefined && v !== '').length;
  if (set > 0 && set < 3) {
    throw new ConfigError('Web push: set VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT together, or none of them (push is then off).', ['VAPID_*: incomplete']);
  }
  let pair: { publicKey: string; privateKey: string };
  if (set === 3) pair = { publicKey: e.VAPID_PUBLIC_KEY!, privateKey: e.VAPID_PRIVATE_KEY! };
  else if (isProduction) return undefined;
  else pair = devVapidKeys(dataDir);
  let derived: string;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(pair.privateKey, 'base64url'));
    derived = ecdh.getPublicKey('base64url', 'uncompressed');
  } catch {
    throw new ConfigError('VAPID_PRIVATE_KEY: not a valid P-256 private key.', ['VAPID_PRIVATE_KEY: invalid']);
  }
  if (derived !== pair.publicKey) {
    throw new ConfigError('VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY.', ['VAPID_PUBLIC_KEY: does not match the private key']);
  }
  return { ...pair, subject: e.VAPID_SUBJECT ?? `mailto:${mailAddressOf(e.MAIL_FROM)}` };
}

function mailAddressOf(from: string): string {
  return /<([^>]+)>/.exec(from)?.[1] ?? from.trim();
}

/** A P-256 key pair for VAPID, made once per data folder (like secrets.json; first writer wins). */
function devVapidKeys(dataDir: string): { publicKey: string; privateKey: string } {
  const file = path.join(dataDir, 'vapid.json');
  const read = () => JSON.parse(fs.readFileSync(file, 'utf8')) as { publicKey: string; privateKey: string };
  if (fs.existsSync(file)) return read();
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const publicKey = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]).toString('base64url');
  const keys = { publicKey, privateKey: jwk.d! };
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return read();
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return keys;
}

/** All three or none; the key must be an RSA private key of at least 1024 bits (RFC 8301). Never echoes the key. */
function dkimConfig(domainName: string | undefined, keySelector: string | undefined, key: string | undefined): Config['dkim'] {
  const set = [domainName, keySelector, key].filter((v) => v !== undefined && v !== '').length;
  if (set === 0) return undefined;
  if (set < 3) {
    throw new ConfigError('DKIM: set DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY together, or none of them.', ['DKIM_*: incomplete']);
  }
  const privateKey = key!.replace(/\\n/g, '\n').trim() + '\n';
  let bits: number | undefined;
  try {
    const parsed = createPrivateKey(privateKey);
    bits = parsed.asymmetricKeyType === 'rsa' ? parsed.asymmetricKeyDetails?.modulusLength : undefined;
  } catch {
    throw new ConfigError('DKIM_PRIVATE_KEY: must be a PEM private key (newlines may be written as \\n).', ['DKIM_PRIVATE_KEY: not a PEM private key']);
  }
  if (bits === undefined || bits < 1024) {
    throw new ConfigError('DKIM_PRIVATE_KEY: must be an RSA key of at least 1024 bits (2048 recommended).', ['DKIM_PRIVATE_KEY: not an RSA key of 1024 bits or more']);
  }
  return { domainName: domainName!, keySelector: keySelector!, privateKey };
}

function decodeSecrets(values: Record<SecretName, string>): Record<SecretName, Buffer> {
  return Object.fromEntries(SECRET_NAMES.map((name) => [name, Buffer.from(values[name], 'base64')])) as Record<
    SecretName,
    Buffer
  >;
}

function devSecrets(dataDir: string, provided: Record<SecretName, string | undefined>): Record<SecretName, Buffer> {
  const file = path.join(dataDir, 'secrets.json');
  let stored: Partial<Record<SecretName, string>> = {};
  if (fs.existsSync(file)) {
    stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Record<SecretName, string>>;
  }
  let changed = false;
  for (const name of SECRET_NAMES) {
    if (!stored[name]) {
      stored[name] = randomBytes(32).toString('base64');
      changed = true;
    }
  }
  if (changed) {
    // The folder stays traversable (embedded Postgres runs as another user below it); the file does not.
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    if (fs.existsSync(file)) {
      fs.renameSync(tmp, file); // a secret was added to an existing file
    } else {
      try {
        fs.linkSync(tmp, file); // first writer wins when two processes start at once
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Record<SecretName, string>>;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
  }
  return decodeSecrets(
    Object.fromEntries(SECRET_NAMES.map((name) => [name, provided[name] ?? stored[name]!])) as Record<SecretName, string>,
  );
}

/** For process entry points: a configuration error is printed as one clear message, not a stack trace. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}
