import { createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { ConfigurationError, InvalidSignatureError } from '../../core/errors.ts';
import { assertExpiresIn } from '../MessageVerifier.ts';
import {
  blobIdData,
  blobIdFrom,
  diskKeyData,
  diskKeyFrom,
  diskUploadData,
  diskUploadFrom,
  type RailsDiskKeyClaims,
  type RailsDiskUploadClaims,
  type RailsRecordId,
} from './claims.ts';
import { decodeBase64, deserializeMessage, serializeMessage, type RailsMessageFormat } from './envelope.ts';
import type { RubyValue } from './values.ts';

export interface RailsVerifierOptions {
  /** The Rails app's `secret_key_base` (credentials or SECRET_KEY_BASE); at least 32 characters. */
  secretKeyBase: string;
  /** The message format the app signs with: see RailsMessageFormat. attache signs in this one. */
  messageFormat: RailsMessageFormat;
  /** Further formats accepted when verifying, never used to sign: for an app mid-upgrade (Rails' rotations). */
  alsoAccept?: readonly RailsMessageFormat[];
  /** Clock in ms since the epoch; for tests. */
  now?: () => number;
}

/** The purposes ActiveStorage signs with (`ActiveStorage.verifier`). */
export type RailsPurpose = 'blob_id' | 'blob_key' | 'blob_token';

interface VerifierKey {
  key: Buffer;
  /** The formats that derive this key; they decide which envelopes a message under it may use. */
  formats: Set<RailsMessageFormat>;
}

const FORMATS: readonly RailsMessageFormat[] = ['6.1', '7.0', '7.1'];
// KeyGenerator's digest: SHA1 until `load_defaults 7.0` set key_generator_hash_digest_class to SHA256.
const KEY_DIGEST: Readonly<Record<RailsMessageFormat, 'sha1' | 'sha256'>> = { '6.1': 'sha1', '7.0': 'sha256', '7.1': 'sha256' };
const DIGEST_HEX_LENGTH = 40; // HMAC-SHA1 in hex: MessageVerifier's digest in every format
const SEPARATOR = '--';
const MAX_MESSAGE_LENGTH = 16 * 1024;
const MIN_SECRET_LENGTH = 32;

/**
 * Invariant: every Rails-format signed id and Disk token attache makes or accepts goes through here.
 * It is `ActiveStorage.verifier` of a Rails app: `MessageVerifier.new(KeyGenerator.new(secret_key_base,
 * iterations: 1000).generate_key("ActiveStorage"))`, HMAC-SHA1 hex over the base64 data, compared in
 * constant time.
 */
export class RailsVerifier {
  readonly messageFormat: RailsMessageFormat;
  readonly #keys: VerifierKey[];
  readonly #now: () => number;

  /** Throws ConfigurationError for a missing or short secretKeyBase or an unknown format. */
  constructor(options: RailsVerifierOptions) {
    const { secretKeyBase, messageFormat, alsoAccept = [], now = Date.now } = options;
    if (typeof secretKeyBase !== 'string' || secretKeyBase.length < MIN_SECRET_LENGTH) {
      throw new ConfigurationError(`rails.secretKeyBase must be the Rails app's secret_key_base (at least ${MIN_SECRET_LENGTH} characters).`);
    }
    for (const format of [messageFormat, ...alsoAccept]) {
      if (!FORMATS.includes(format)) throw new ConfigurationError(`rails.messageFormat must be one of ${FORMATS.map((f) => `"${f}"`).join(', ')}.`);
    }
    this.messageFormat = messageFormat;
    this.#now = now;
    const byDigest = new Map<string, VerifierKey>();
    for (const format of [messageFormat, ...alsoAccept]) {
      const digest = KEY_DIGEST[format];
      const known = byDigest.get(digest);
      if (known) known.formats.add(format);
      else byDigest.set(digest, { key: pbkdf2Sync(secretKeyBase, 'ActiveStorage', 1000, 64, digest), formats: new Set([format]) });
    }
    this.#keys = [...byDigest.values()]; // the signing format's key first
  }

  /** A signed id as `blob.signed_id` makes it (purpose blob_id); permanent unless `expiresIn` seconds (1–604800). */
  signBlobId(id: RailsRecordId, options: { expiresIn?: number } = {}): string {
    return this.#sign(blobIdData(id), 'blob_id', options.expiresIn);
  }

  /** The blob id inside a Rails signed id (decimal for Integer ids). Throws InvalidSignatureError: tampered, expired, purpose. */
  verifyBlobId(signedId: unknown): string {
    return blobIdFrom(this.#verify(signedId, 'blob_id'));
  }

  /** The `encoded_key` of a Rails Disk URL, valid for `expiresIn` seconds (1–604800). */
  signDiskKey(claims: RailsDiskKeyClaims, expiresIn: number): string {
    return this.#sign(diskKeyData(claims), 'blob_key', expiresIn);
  }

  /** The claims of a Rails Disk URL's `encoded_key`. Throws InvalidSignatureError: tampered, expired, purpose. */
  verifyDiskKey(encodedKey: unknown): RailsDiskKeyClaims {
    return diskKeyFrom(this.#verify(encodedKey, 'blob_key'));
  }

  /** The `encoded_token` of a Rails Disk direct-upload URL, valid for `expiresIn` seconds (1–604800). */
  signDiskUpload(claims: RailsDiskUploadClaims, expiresIn: number): string {
    return this.#sign(diskUploadData(claims), 'blob_token', expiresIn);
  }

  /** The claims of a Rails Disk upload URL's `encoded_token`. Throws InvalidSignatureError: tampered, expired, purpose. */
  verifyDiskUpload(encodedToken: unknown): RailsDiskUploadClaims {
    return diskUploadFrom(this.#verify(encodedToken, 'blob_token'));
  }

  toJSON(): string {
    return `[RailsVerifier ${this.messageFormat}]`;
  }

  #sign(data: RubyValue, purpose: RailsPurpose, expiresIn: number | undefined): string {
    if (expiresIn !== undefined) assertExpiresIn(expiresIn);
    const expiresAt = expiresIn === undefined ? null : new Date(this.#now() + expiresIn * 1000);
    const encoded = serializeMessage(this.messageFormat, data, purpose, expiresAt).toString('base64');
    return `${encoded}${SEPARATOR}${digest(this.#keys[0]!.key, encoded)}`;
  }

  #verify(message: unknown, purpose: RailsPurpose): RubyValue {
    const { encoded, key } = this.#authenticate(message);
    const opened = deserializeMessage(decodeBase64(encoded, key.formats.has('7.1')), key.formats);
    if (opened.purpose !== purpose) throw new InvalidSignatureError('purpose');
    if (opened.expiresAt && this.#now() >= opened.expiresAt.getTime()) throw new InvalidSignatureError('expired');
    return opened.data;
  }

  /** The base64 data of a message whose digest one of the keys made; the digest sits just before the end, as Rails finds it. */
  #authenticate(message: unknown): { encoded: string; key: VerifierKey } {
    if (typeof message !== 'string' || message.length > MAX_MESSAGE_LENGTH) throw tampered('not a message');
    const cut = message.length - DIGEST_HEX_LENGTH - SEPARATOR.length;
    if (cut < 1 || !message.startsWith(SEPARATOR, cut)) throw tampered('no digest');
    const encoded = message.slice(0, cut);
    const given = Buffer.from(message.slice(cut + SEPARATOR.length), 'utf8');
    for (const key of this.#keys) {
      const expected = Buffer.from(digest(key.key, encoded), 'latin1');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return { encoded, key };
    }
    throw tampered('digest mismatch');
  }
}

function digest(key: Buffer, encoded: string): string {
  return createHmac('sha1', key).update(encoded, 'utf8').digest('hex');
}

function tampered(why: string): InvalidSignatureError {
  return new InvalidSignatureError('tampered', { cause: new Error(`Rails message: ${why}`) });
}
