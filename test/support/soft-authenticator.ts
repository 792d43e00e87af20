// A software WebAuthn authenticator for server tests: one ES256 (P-256) credential, 'none' attestation, and knobs
// to make every response the server must refuse. The browser flows use Chromium's virtual authenticator instead.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

// ---------------------------------------------------------------------------------------------------------------
// Just enough CBOR (RFC 8949) for an attestation object and a COSE key: integers, byte and text strings, maps.

type CborValue = number | string | Uint8Array | Map<CborValue, CborValue>;

function cborHead(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(length, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(length, 1);
  return b;
}

export function cbor(value: CborValue): Buffer {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Math.abs(value) > 0xffffffff) throw new Error(`cbor: unsupported number ${value}`);
    return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([cborHead(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([cborHead(2, value.length), value]);
  const parts: Buffer[] = [cborHead(5, value.size)];
  for (const [k, v] of value) parts.push(cbor(k), cbor(v));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------------

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

/** Everything a test may bend in one response. Unset knobs take the authenticator's defaults. */
export type Knobs = {
  origin?: string;
  rpId?: string;
  type?: string;
  challenge?: string;
  up?: boolean;
  uv?: boolean;
  be?: boolean;
  bs?: boolean;
  /** The counter to report; by default a counting authenticator adds one per assertion. */
  signCount?: number;
  /** base64url; `null` leaves the user handle out. By default the handle the credential was made for. */
  userHandle?: string | null;
};

export type SoftAuthenticatorOptions = {
  origin?: string;
  rpId?: string;
  /** A synced passkey: backup eligible and backed up. */
  backedUp?: boolean;
  /** false: an authenticator that always reports 0, as many platform passkeys do. */
  counting?: boolean;
};

export class SoftAuthenticator {
  readonly credentialId: Buffer = randomBytes(16);
  readonly origin: string;
  readonly rpId: string;
  readonly backedUp: boolean;
  readonly counting: boolean;
  signCount = 0;
  /** Set at registration from the options' user.id: what a discoverable credential gives back. */
  userHandle: string | undefined;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.rpId = options.rpId ?? 'portal.example.test';
    this.origin = options.origin ?? `https://${this.rpId}`;
    this.backedUp = options.backedUp ?? false;
    this.counting = options.counting ?? true;
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  get id(): string {
    return this.credentialId.toString('base64url');
  }

  /** The credential public key as COSE_Key: EC2, ES256, P-256, x and y. */
  cosePublicKey(): Buffer {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return cbor(
      new Map<CborValue, CborValue>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  private flags(knobs: Knobs, extra = 0): number {
    let flags = extra;
    if (knobs.up ?? true) flags |= FLAG_UP;
    if (knobs.uv ?? true) flags |= FLAG_UV;
    if (knobs.be ?? this.backedUp) flags |= FLAG_BE;
    if (knobs.bs ?? this.backedUp) flags |= FLAG_BS;
    return flags;
  }

  private authDataHead(knobs: Knobs, flags: number, signCount: number): Buffer {
    const rpIdHash = createHash('sha256').update(knobs.rpId ?? this.rpId).digest();
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(signCount >>> 0);
    return Buffer.concat([rpIdHash, Buffer.from([flags]), counter]);
  }

  private clientData(type: string, challenge: string, knobs: Knobs): Buffer {
    return Buffer.from(
      JSON.stringify({ type: knobs.type ?? type, challenge: knobs.challenge ?? challenge, origin: knobs.origin ?? this.origin, crossOrigin: false }),
    );
  }

  /** navigator.credentials.create() with 'none' attestation, serialised as the browser's toJSON() does. */
  register(options: PublicKeyCredentialCreationOptionsJSON, knobs: Knobs = {}): RegistrationResponseJSON {
    this.userHandle = options.user.id;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const signCount = knobs.signCount ?? this.signCount;
    const authData = Buffer.concat([
      this.authDataHead({ ...knobs, rpId: knobs.rpId ?? options.rp.id }, this.flags(knobs, FLAG_AT), signCount),
      Buffer.alloc(16), // aaguid: none
      idLength,
      this.credentialId,
      this.cosePublicKey(),
    ]);
    const attestationObject = cbor(
      new Map<CborValue, CborValue>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, knobs);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        attestationObject: attestationObject.toString('base64url'),
        transports: ['internal', 'hybrid'],
      },
    };
  }

  /** navigator.credentials.get(): authData = rpIdHash || flags || signCount, signed with clientDataJSON's hash. */
  authenticate(options: Pick<PublicKeyCredentialRequestOptionsJSON, 'challenge'>, knobs: Knobs = {}): AuthenticationResponseJSON {
    let signCount: number;
    if (knobs.signCount !== undefined) signCount = knobs.signCount;
    else signCount = this.counting ? this.signCount + 1 : 0;
    this.signCount = Math.max(this.signCount, signCount);
    const authData = this.authDataHead(knobs, this.flags(knobs), signCount);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, knobs);
    const clientDataHash = createHash('sha256').update(clientDataJSON).digest();
    const signature = sign('sha256', Buffer.concat([authData, clientDataHash]), this.privateKey); // DER for EC keys
    const userHandle = knobs.userHandle === undefined ? this.userHandle : knobs.userHandle ?? undefined;
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        ...(userHandle !== undefined ? { userHandle } : {}),
      },
    };
  }
}
