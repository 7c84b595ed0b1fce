import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { ArgumentError, ConfigurationError, InvalidSignatureError } from '../core/errors.ts';

/**
 * What a token may be used for; a token signed for one purpose is refused for every other.
 * `blob_id`: an attachable signed id (`blob.signedId()`); `direct_upload`: the attachable id of a
 * direct upload, bound to its attachment; `blob_url`: the id inside redirect and proxy URLs,
 * which can be shown to viewers and so is never attachable; `variation`: the transformations of a
 * variant or preview, bound to one blob (representation URLs and preprocess jobs).
 */
export type Purpose = 'blob_id' | 'direct_upload' | 'blob_url' | 'disk_download' | 'disk_upload' | 'direct_upload_complete' | 'variation';

/** Longest lifetime of any signed URL or token, in seconds (7 days, as S3's presigned URLs). */
export const MAX_EXPIRES_IN = 604_800;
/** Default lifetime of signed URLs, in seconds. */
export const DEFAULT_EXPIRES_IN = 300;
const MIN_SECRET_LENGTH = 32;

/** A lifetime in whole seconds, 1 to 604800. Throws ArgumentError for anything else (0, negative, NaN, strings). */
export function assertExpiresIn(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_EXPIRES_IN) {
    throw new ArgumentError(`expiresIn must be a whole number of seconds from 1 to ${MAX_EXPIRES_IN}.`);
  }
}

interface Envelope {
  /** The signed payload. */
  d: unknown;
  /** Purpose. */
  p: Purpose;
  /** Expiry, Unix seconds (absent: never expires). */
  e?: number;
}

/**
 * Invariant: every signed thing (blob ids, Disk download and upload tokens) is made and checked here.
 * Tokens are `base64url(json).base64url(HMAC-SHA256)`; verification is constant-time.
 */
export class MessageVerifier {
  readonly #key: Buffer;

  constructor(secret: unknown, private readonly now: () => number = Date.now) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
      throw new ConfigurationError(`Attache.init needs a \`secret\` of at least ${MIN_SECRET_LENGTH} characters (for example from ATTACHE_SECRET) to sign ids and URLs.`);
    }
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'attache', 'message verifier', 32));
  }

  /** A token for `payload`, usable only for `purpose`, expiring after `expiresIn` seconds when given. */
  sign(payload: unknown, purpose: Purpose, expiresIn?: number): string {
    if (expiresIn !== undefined) assertExpiresIn(expiresIn);
    const envelope: Envelope = { d: payload, p: purpose };
    if (expiresIn !== undefined) envelope.e = Math.floor(this.now() / 1000) + expiresIn;
    const data = Buffer.from(JSON.stringify(envelope)).toString('base64url');
    return `${data}.${this.#digest(data)}`;
  }

  /** The payload of a valid token. Throws InvalidSignatureError: 'tampered', 'expired' or 'purpose'. */
  verify<T = unknown>(token: unknown, purpose: Purpose): T {
    return this.verifyAny<T>(token, [purpose]).payload;
  }

  /** The purpose and payload of a valid token signed for any of `purposes`. Throws InvalidSignatureError. */
  verifyAny<T = unknown>(token: unknown, purposes: readonly Purpose[]): { purpose: Purpose; payload: T } {
    const envelope = this.#open(token);
    if (!purposes.includes(envelope.p)) throw new InvalidSignatureError('purpose');
    if (envelope.e !== undefined && Math.floor(this.now() / 1000) >= envelope.e) throw new InvalidSignatureError('expired');
    return { purpose: envelope.p, payload: envelope.d as T };
  }

  #open(token: unknown): Envelope {
    if (typeof token !== 'string' || token.length > 8192) throw new InvalidSignatureError('tampered');
    const [data, digest, extra] = token.split('.');
    if (!data || !digest || extra !== undefined) throw new InvalidSignatureError('tampered');
    const expected = Buffer.from(this.#digest(data));
    const given = Buffer.from(digest);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new InvalidSignatureError('tampered');
    try {
      const envelope = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as Envelope;
      if (envelope === null || typeof envelope !== 'object') throw new Error('not an object');
      return envelope;
    } catch (cause) {
      throw new InvalidSignatureError('tampered', { cause });
    }
  }

  #digest(data: string): string {
    return createHmac('sha256', this.#key).update(data).digest('base64url');
  }

  toJSON(): string {
    return '[MessageVerifier]';
  }
}
