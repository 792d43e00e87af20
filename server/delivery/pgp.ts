// PGP for the send engine (ARCHITECTURE.md, "The send engine", route 1, and "Crypto choices"): patients' public keys,
// each organisation's signing key, and PGP/MIME (RFC 3156) messages that GnuPG decrypts and verifies.
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { createMessage, encrypt, generateKey, readKey, readKeys, readPrivateKey, Subkey, type Key, type PrivateKey } from 'openpgp';
import type { Database, DbOrTx } from '../../db/client';
import { orgSigningKeys, patientPgpKeys } from '../../db/schema/index';
import { appendAudit } from '../audit/chain';
import { open, seal, type KekRing } from '../messages/vault';

// ---------------------------------------------------------------------------------------------------------------
// Patients' public keys

/** A pasted key is text from a form; a real public key with a few user ids and subkeys is a few KiB. */
export const PGP_KEY_MAX_BYTES = 64 * 1024;

/** How far ahead of ours a patient's clock may have been when they made their key (see validatePatientKey). */
export const UPLOAD_CLOCK_SKEW_MS = 10 * 60 * 1000;

export type PgpKeyError = 'unreadable' | 'private_key' | 'no_encryption_key' | 'expired' | 'revoked' | 'too_large';

/** Plain-language messages for the page, one per stable code. */
export const PGP_KEY_ERROR_MESSAGES: Record<PgpKeyError, string> = {
  unreadable:
    'This does not look like one OpenPGP public key. Paste the whole block for one key, from -----BEGIN PGP PUBLIC KEY BLOCK----- to -----END PGP PUBLIC KEY BLOCK-----.',
  private_key:
    'This is a private key, which must stay secret and only with you. It was not saved. Paste your public key instead: in your email or encryption app, look for "export public key".',
  no_encryption_key:
    'This key cannot be used to encrypt messages to you: it has no part for encryption that is valid today (it may be for signing only). Paste a key that can encrypt.',
  expired: 'This key has expired. Extend its expiry date in your encryption app, or make a new key, and paste the public key again.',
  revoked: 'This key has been revoked (withdrawn by its owner), so it must not be used. Paste a current public key.',
  too_large: `This is too long to be one public key (the limit is ${PGP_KEY_MAX_BYTES / 1024} KiB). Paste only your public key.`,
};

export type PatientKeyCheck =
  | { ok: true; fingerprint: string; expiresAt: Date | null; armored: string }
  | { ok: false; error: PgpKeyError; message: string };

const refuse = (error: PgpKeyError): PatientKeyCheck => ({ ok: false, error, message: PGP_KEY_ERROR_MESSAGES[error] });

const finiteDate = (value: Date | number | null): Date | null => (value instanceof Date ? value : null);

/**
 * Checks a pasted armored key as of `now`: exactly one public key, neither revoked nor expired, with an encryption
 * (sub)key that is valid now. A private key is refused before anything else looks at it, and never stored.
 * `expiresAt` is when encryption to it stops working: the primary key's expiry or the last valid encryption subkey's,
 * whichever is earlier.
 */
export async function validatePatientKey(armored: string, now: Date, options: { clockSkewMs?: number } = {}): Promise<PatientKeyCheck> {
  if (Buffer.byteLength(armored, 'utf8') > PGP_KEY_MAX_BYTES) return refuse('too_large');
  if (/-----BEGIN PGP (PRIVATE|SECRET) KEY BLOCK-----/i.test(armored)) return refuse('private_key');
  // openpgp reads only the first armored block; a second one would be silently dropped.
  if ((armored.match(/-----BEGIN PGP /g) ?? []).length > 1) return refuse('unreadable');
  let keys: Key[];
  try {
    keys = await readKeys({ armoredKeys: armored });
  } catch {
    return refuse('unreadable');
  }
  if (keys.length !== 1) return refuse('unreadable');
  const key = keys[0]!;
  // Secret key packets under a public armor header are still a private key.
  if (key.isPrivate()) return refuse('private_key');

  // A key made moments ago on a computer whose clock runs ahead would look "not valid yet"; on upload it is judged
  // as of its creation. The send-time check (pgpKeyFor) allows no skew, so it is used once the clock has passed.
  const newest = Math.max(...key.getKeys().map((k) => k.getCreationTime().getTime()));
  const skewMs = options.clockSkewMs ?? UPLOAD_CLOCK_SKEW_MS;
  const at = newest > now.getTime() && newest - now.getTime() <= skewMs ? new Date(newest) : now;

  try {
    if (await key.isRevoked(undefined, undefined, at)) return refuse('revoked');
  } catch {
    return refuse('unreadable');
  }
  let primaryExpiry: Date | null;
  try {
    primaryExpiry = finiteDate(await key.getExpirationTime());
  } catch {
    // No valid self-signature: nothing on the key can be trusted.
    return refuse('unreadable');
  }
  if (primaryExpiry && primaryExpiry.getTime() <= at.getTime()) return refuse('expired');

  // Every (sub)key that openpgp would encrypt to at `at`, with its own expiry.
  let lastEncryptionExpiry: Date | null | undefined;
  for (const candidate of key.getKeys()) {
    try {
      const usable = await key.getEncryptionKey(candidate.getKeyID(), at);
      const expiry = usable instanceof Subkey ? finiteDate(await usable.getExpirationTime(at)) : primaryExpiry;
      if (lastEncryptionExpiry === undefined) lastEncryptionExpiry = expiry;
      else if (lastEncryptionExpiry !== null) lastEncryptionExpiry = expiry === null || expiry > lastEncryptionExpiry ? expiry : lastEncryptionExpiry;
    } catch {
      // Not an encryption key, or not valid at `at`.
    }
  }
  if (lastEncryptionExpiry === undefined) {
    // An encryption subkey that worked until it expired deserves "expired", not "cannot encrypt".
    for (const subkey of key.subkeys) {
      try {
        const expiry = finiteDate(await subkey.getExpirationTime(at));
        if (expiry && expiry.getTime() <= at.getTime()) {
          await key.getEncryptionKey(subkey.getKeyID(), new Date(expiry.getTime() - 1000));
          return refuse('expired');
        }
      } catch {
        // Not an encryption subkey, or not valid then either.
      }
    }
    return refuse('no_encryption_key');
  }
  const ends = [primaryExpiry, lastEncryptionExpiry].filter((d): d is Date => d !== null);
  const expiresAt = ends.length ? new Date(Math.min(...ends.map((d) => d.getTime()))) : null;
  // Normalised: the public key alone, re-armored by us (no surrounding text, comments or private material).
  return { ok: true, fingerprint: key.getFingerprint().toUpperCase(), expiresAt, armored: key.toPublic().armor() };
}

/** A fingerprint for people: upper case, in groups of four. */
export function formatFingerprint(fingerprint: string): string {
  return fingerprint.toUpperCase().replace(/(.{4})(?=.)/g, '$1 ');
}

export type PatientPgpKeyView = Pick<typeof patientPgpKeys.$inferSelect, 'fingerprint' | 'expiresAt' | 'createdAt'>;

/** The signed-in patient's key, scoped to organisation and patient (EN3). */
export async function getPatientPgpKey(db: DbOrTx, scope: { orgId: string; patientId: string }): Promise<PatientPgpKeyView | undefined> {
  const [row] = await db
    .select({ fingerprint: patientPgpKeys.fingerprint, expiresAt: patientPgpKeys.expiresAt, createdAt: patientPgpKeys.createdAt })
    .from(patientPgpKeys)
    .where(and(eq(patientPgpKeys.orgId, scope.orgId), eq(patientPgpKeys.patientId, scope.patientId)));
  return row;
}

export type SavePgpKeyResult =
  | { status: 'saved'; fingerprint: string; expiresAt: Date | null; replaced: string | null }
  | { status: 'invalid'; error: PgpKeyError; message: string };

/**
 * Adds or replaces the patient's key after validating it. A replacement is audited as the old key removed and the
 * new one added; the audit details hold fingerprints only.
 */
export async function savePatientPgpKey(
  db: Database,
  options: { orgId: string; patientId: string; armored: string; now: Date },
): Promise<SavePgpKeyResult> {
  const checked = await validatePatientKey(options.armored, options.now);
  if (!checked.ok) return { status: 'invalid', error: checked.error, message: checked.message };
  const { orgId, patientId, now } = options;
  return db.transaction(async (tx) => {
    const [previous] = await tx
      .select({ fingerprint: patientPgpKeys.fingerprint })
      .from(patientPgpKeys)
      .where(and(eq(patientPgpKeys.orgId, orgId), eq(patientPgpKeys.patientId, patientId)))
      .for('update');
    const values = { armoredKey: checked.armored, fingerprint: checked.fingerprint, expiresAt: checked.expiresAt, createdAt: now };
    await tx
      .insert(patientPgpKeys)
      .values({ orgId, patientId, ...values })
      .onConflictDoUpdate({ target: [patientPgpKeys.orgId, patientPgpKeys.patientId], set: values });
    const audit = { actorType: 'patient' as const, actorId: patientId, subjectType: 'patient', subjectId: patientId };
    const replaced = previous && previous.fingerprint !== checked.fingerprint ? previous.fingerprint : null;
    if (replaced) await appendAudit(tx, orgId, { ...audit, action: 'pgp_key.removed', details: { fingerprint: replaced } });
    await appendAudit(tx, orgId, { ...audit, action: 'pgp_key.added', details: { fingerprint: checked.fingerprint } });
    return { status: 'saved', fingerprint: checked.fingerprint, expiresAt: checked.expiresAt, replaced } as const;
  });
}

/** Removes the patient's key if it is the one named, so a page left open never removes a newer key (EN3 scope). */
export async function removePatientPgpKey(
  db: Database,
  options: { orgId: string; patientId: string; fingerprint: string },
): Promise<{ status: 'removed' | 'not_found' }> {
  const { orgId, patientId } = options;
  return db.transaction(async (tx) => {
    const [gone] = await tx
      .delete(patientPgpKeys)
      .where(and(eq(patientPgpKeys.orgId, orgId), eq(patientPgpKeys.patientId, patientId), eq(patientPgpKeys.fingerprint, options.fingerprint.toUpperCase())))
      .returning({ fingerprint: patientPgpKeys.fingerprint });
    if (!gone) return { status: 'not_found' } as const;
    await appendAudit(tx, orgId, {
      actorType: 'patient',
      actorId: patientId,
      action: 'pgp_key.removed',
      subjectType: 'patient',
      subjectId: patientId,
      details: { fingerprint: gone.fingerprint },
    });
    return { status: 'removed' } as const;
  });
}

/**
 * For the route choice: the patient's armored public key when it can be encrypted to at `now`, else undefined.
 * The stored expiry is checked first, then the key is validated again (a revocation or a subkey expiry can
 * only be seen by looking at the key itself).
 */
export async function pgpKeyFor(db: DbOrTx, orgId: string, patientId: string, now: Date): Promise<string | undefined> {
  const [row] = await db
    .select({ armoredKey: patientPgpKeys.armoredKey, expiresAt: patientPgpKeys.expiresAt })
    .from(patientPgpKeys)
    .where(and(eq(patientPgpKeys.orgId, orgId), eq(patientPgpKeys.patientId, patientId)));
  if (!row) return undefined;
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return undefined;
  const checked = await validatePatientKey(row.armoredKey, now, { clockSkewMs: 0 });
  return checked.ok ? checked.armored : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The organisation's signing key

export const SIGNING_KEY_PURPOSE = 'org-signing-key';

export type OrgSigningKeyInfo = { orgId: string; fingerprint: string; armoredPublicKey: string; createdAt: Date };

/** A user id GnuPG shows cleanly: no angle brackets, parentheses or control characters from the name. */
function signingUserName(name: string): string {
  const clean = name.replace(/[<>()\p{Cc}]/gu, ' ').replace(/\s+/g, ' ').trim().slice(0, 100);
  return clean || 'Carepost organisation';
}

/**
 * The organisation's signing key, made on first use: an ECC key on Curve25519 in the RFC 4880 encoding GnuPG 2.2
 * reads (EdDSA primary for signing, ECDH subkey), without expiry. The private key is stored only sealed by the
 * vault, bound to the organisation and this purpose. Concurrent first calls each make a key but only one row wins
 * (insert ... on conflict do nothing), and every caller returns that row.
 */
export async function ensureOrgSigningKey(db: DbOrTx, ring: KekRing, org: { id: string; name: string }, now: Date): Promise<OrgSigningKeyInfo> {
  const existing = await readOrgSigningKeyInfo(db, org.id);
  if (existing) return existing;
  const { privateKey } = await generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: signingUserName(org.name), comment: 'secure messages' }],
    date: now,
    format: 'object',
  });
  await db
    .insert(orgSigningKeys)
    .values({
      orgId: org.id,
      armoredPublicKey: privateKey.toPublic().armor(),
      sealedPrivateKey: seal(ring, { orgId: org.id, purpose: SIGNING_KEY_PURPOSE }, privateKey.armor()),
      fingerprint: privateKey.getFingerprint().toUpperCase(),
      createdAt: now,
    })
    .onConflictDoNothing({ target: orgSigningKeys.orgId });
  const stored = await readOrgSigningKeyInfo(db, org.id);
  if (!stored) throw new Error(`ensureOrgSigningKey: no signing key row for organisation ${org.id} after insert`);
  return stored;
}

async function readOrgSigningKeyInfo(db: DbOrTx, orgId: string): Promise<OrgSigningKeyInfo | undefined> {
  const [row] = await db
    .select({
      orgId: orgSigningKeys.orgId,
      fingerprint: orgSigningKeys.fingerprint,
      armoredPublicKey: orgSigningKeys.armoredPublicKey,
      createdAt: orgSigningKeys.createdAt,
    })
    .from(orgSigningKeys)
    .where(eq(orgSigningKeys.orgId, orgId));
  return row;
}

export class OrgSigningKeyMissingError extends Error {
  readonly code = 'org_signing_key_missing';
  constructor(orgId: string) {
    super(`no signing key for organisation ${orgId}: call ensureOrgSigningKey first`);
    this.name = 'OrgSigningKeyMissingError';
  }
}

/** The organisation's decrypted private signing key. Throws OrgSigningKeyMissingError if there is none yet. */
export async function loadOrgSigningKey(db: DbOrTx, ring: KekRing, orgId: string): Promise<PrivateKey> {
  const [row] = await db.select({ sealed: orgSigningKeys.sealedPrivateKey }).from(orgSigningKeys).where(eq(orgSigningKeys.orgId, orgId));
  if (!row) throw new OrgSigningKeyMissingError(orgId);
  const armored = open(ring, { orgId, purpose: SIGNING_KEY_PURPOSE }, row.sealed).toString('utf8');
  return readPrivateKey({ armoredKey: armored });
}

// ---------------------------------------------------------------------------------------------------------------
// PGP/MIME (RFC 3156, section 4 and the combined sign-and-encrypt of section 6.2)

export type PgpMimeOptions = {
  from: string;
  to: string;
  /** The outer, visible subject. It must be generic and PHI-free, e.g. "Secure message from Riverside Clinic". */
  subject: string;
  /** The real subject: only inside the encrypted part, as a protected header. */
  innerSubject: string;
  text: string;
  html?: string;
  /** With or without angle brackets. */
  messageId: string;
  /** Extra outer headers, set verbatim (List-Unsubscribe, List-Unsubscribe-Post...). ASCII only. */
  headers?: Record<string, string>;
  /** The recipient's armored public key (from pgpKeyFor). */
  recipientKey: string;
  signingKey: PrivateKey;
  /**
   * The Date header, and the time the signature and the recipient key's validity are taken at: the same clock as
   * the `now` given to ensureOrgSigningKey and pgpKeyFor (a date before the signing key's creation cannot sign).
   */
  date: Date;
};

const CRLF = '\r\n';
const RESERVED_HEADERS = new Set(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type', 'content-transfer-encoding']);

/** Builds a complete RFC 5322 message (CRLF line endings) whose body is signed by the organisation and encrypted. */
export async function buildPgpMime(options: PgpMimeOptions): Promise<string> {
  for (const [name, value] of Object.entries({ from: options.from, to: options.to, subject: options.subject, messageId: options.messageId })) {
    refuseLineBreaks(name, value);
  }
  refuseLineBreaks('innerSubject', options.innerSubject);
  const messageId = /^<.*>$/.test(options.messageId.trim()) ? options.messageId.trim() : `<${options.messageId.trim()}>`;
  const date = rfc5322Date(options.date);
  const from = addressHeader(options.from);
  const to = addressHeader(options.to);

  const inner = innerEntity({ innerSubject: options.innerSubject, text: options.text, html: options.html, from, to, date, messageId });
  const recipient = await readKey({ armoredKey: options.recipientKey });
  const encrypted = await encrypt({
    // Binary literal data: the MIME entity's exact bytes (CRLF, as RFC 3156 canonicalises), which the signature
    // covers and which come out of GnuPG unchanged; a text literal would be re-ended to the reader's platform.
    message: await createMessage({ binary: Buffer.from(inner, 'utf8') }),
    encryptionKeys: recipient,
    signingKeys: options.signingKey,
    date: options.date,
    format: 'armored',
  });

  const boundary = newBoundary();
  const lines = [
    header('From', from),
    header('To', to),
    header('Subject', unstructured(options.subject)),
    header('Date', date),
    header('Message-ID', messageId),
    ...extraHeaders(options.headers ?? {}),
    header('MIME-Version', '1.0'),
    header('Content-Type', `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`),
    '',
    'This is an OpenPGP/MIME encrypted message (RFC 3156).',
    `--${boundary}`,
    'Content-Type: application/pgp-encrypted',
    'Content-Description: PGP/MIME version identification',
    '',
    'Version: 1',
    '',
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    'Content-Description: OpenPGP encrypted message',
    'Content-Disposition: inline; filename="encrypted.asc"',
    '',
    encrypted.replace(/\r?\n/g, CRLF).replace(/\r\n$/, ''),
    '',
    `--${boundary}--`,
    '',
  ];
  return lines.join(CRLF);
}

/** The MIME entity that is signed and encrypted: the real subject as protected headers, then the content. */
function innerEntity(o: { innerSubject: string; text: string; html?: string; from: string; to: string; date: string; messageId: string }): string {
  const protectedHeaders = [
    header('Subject', unstructured(o.innerSubject)),
    header('From', o.from),
    header('To', o.to),
    header('Date', o.date),
    header('Message-ID', o.messageId),
  ];
  const textPart = (subtype: 'plain' | 'html', body: string) => [
    `Content-Type: text/${subtype}; charset="utf-8"`,
    'Content-Transfer-Encoding: quoted-printable',
    '',
    quotedPrintable(body),
  ];
  if (o.html === undefined) {
    const [contentType, ...rest] = textPart('plain', o.text);
    return [`${contentType}; protected-headers="v1"`, ...protectedHeaders, ...rest, ''].join(CRLF);
  }
  const boundary = newBoundary();
  return [
    `Content-Type: multipart/alternative; boundary="${boundary}"; protected-headers="v1"`,
    ...protectedHeaders,
    '',
    `--${boundary}`,
    ...textPart('plain', o.text),
    `--${boundary}`,
    ...textPart('html', o.html),
    `--${boundary}--`,
    '',
  ].join(CRLF);
}

// "=_" never occurs in quoted-printable or base64 output, so the boundary cannot occur in any part.
const newBoundary = () => `=_carepost_${randomBytes(12).toString('hex')}`;

function refuseLineBreaks(name: string, value: string) {
  if (/[\r\n]/.test(value)) throw new Error(`buildPgpMime: ${name} must not contain a line break`);
}

function extraHeaders(headers: Record<string, string>): string[] {
  return Object.entries(headers).map(([name, value]) => {
    if (!/^[!-9;-~]+$/.test(name)) throw new Error(`buildPgpMime: "${name}" is not a header name`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new Error(`buildPgpMime: header ${name} is set by buildPgpMime itself`);
    refuseLineBreaks(name, value);
    if (!/^[\x20-\x7e\t]*$/.test(value)) throw new Error(`buildPgpMime: header ${name} must be ASCII`);
    return header(name, value);
  });
}

/** "Name: value", folded at spaces to keep lines near 78 characters (RFC 5322 section 2.2.3). */
function header(name: string, value: string): string {
  const [first = '', ...words] = value.replace(/[ \t]+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  // Never folded straight after the name: some parsers mishandle an empty first line.
  let line = `${name}: ${first}`;
  for (const word of words) {
    if (line.length + 1 + word.length > 78) {
      lines.push(line);
      line = word;
    } else {
      line = `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join(`${CRLF} `);
}

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

/** RFC 2047 encoded words for non-ASCII text, in chunks that never split a character (each word under 76). */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(' ');
}

const unstructured = (text: string) => (isAscii(text) ? text : encodedWords(text));

/** An address, or "Display Name <address>"; a non-ASCII display name is encoded, the address must be ASCII. */
function addressHeader(value: string): string {
  const trimmed = value.trim();
  if (isAscii(trimmed)) return trimmed;
  const match = /^"?(.*?)"?\s*<([\x21-\x7e]+)>$/.exec(trimmed);
  if (!match) throw new Error('buildPgpMime: a non-ASCII address needs the form "Name <address>" with an ASCII address');
  return `${encodedWords(match[1]!.trim())} <${match[2]}>`;
}

function rfc5322Date(date: Date): string {
  // toUTCString gives "Mon, 23 Nov 2026 12:00:00 GMT"; RFC 5322 prefers a numeric zone.
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** Quoted-printable (RFC 2045 section 6.7) of UTF-8 text, with CRLF hard line breaks and soft breaks before 76. */
function quotedPrintable(text: string): string {
  return text
    .replace(/\r\n|\r/g, '\n')
    .split('\n')
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      const tokens: string[] = [];
      bytes.forEach((b, i) => {
        const last = i === bytes.length - 1;
        const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
        tokens.push(literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`);
      });
      const out: string[] = [];
      let current = '';
      for (const token of tokens) {
        if (current.length + token.length > 75) {
          out.push(`${current}=`);
          current = '';
        }
        current += token;
      }
      out.push(current);
      return out.join(CRLF);
    })
    .join(CRLF);
}
