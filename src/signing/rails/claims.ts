import { ArgumentError, InvalidSignatureError } from '../../core/errors.ts';
import { isInteger, RubyHash, RubyString, RubySymbol, rubyText, type RubyValue } from './values.ts';

/**
 * The payloads of ActiveStorage's signed messages, mapped to and from the Ruby values Rails signs:
 * blob ids (purpose `blob_id`), Disk download keys (`blob_key`, DiskService#generate_url) and Disk
 * upload tokens (`blob_token`, DiskService#url_for_direct_upload). Keys are Symbols and
 * `service_name` is the service's Symbol name, as Rails writes them (JSON turns both into strings).
 */

/** A record id: an Integer primary key (number, bigint or a decimal string such as Blob#id) or a String one (uuid). */
export type RailsRecordId = string | number | bigint;

/** What a Rails Disk URL (`/rails/active_storage/disk/:encoded_key/*filename`) signs. */
export interface RailsDiskKeyClaims {
  /** The blob key, Disk path `root/ab/cd/<key>`. */
  key: string;
  /** The whole Content-Disposition value Rails built, e.g. `inline; filename="a.png"; filename*=UTF-8''a.png`. */
  disposition: string;
  /** The Content-Type to serve; null when the blob has none. */
  contentType: string | null;
  /** The storage.yml service whose root holds the file. */
  serviceName: string;
}

/** What a Rails Disk direct-upload URL (`PUT /rails/active_storage/disk/:encoded_token`) signs. */
export interface RailsDiskUploadClaims {
  key: string;
  /** The Content-Type the PUT must carry; null when the client sent none. */
  contentType: string | null;
  /** The exact byte count the PUT must carry. */
  contentLength: number;
  /** Base64 MD5 the body must match; null when Rails signed none (then Rails checks nothing). */
  checksum: string | null;
  serviceName: string;
}

const DECIMAL_ID = /^-?[1-9][0-9]*$|^0$/;

/** The Ruby id Rails signs: an Integer for integer ids (so the bytes equal Rails'), a String otherwise. */
export function blobIdData(id: RailsRecordId): RubyValue {
  if (typeof id === 'bigint') return id;
  if (typeof id === 'number') {
    if (!Number.isSafeInteger(id)) throw new ArgumentError('A numeric record id must be a safe integer.');
    return id;
  }
  if (typeof id !== 'string' || id === '' || !id.isWellFormed()) throw new ArgumentError('A record id must be an integer or a non-empty string.');
  return DECIMAL_ID.test(id) ? BigInt(id) : id;
}

/** The id a verified `blob_id` message carries, as a string (decimal for Integer ids). */
export function blobIdFrom(data: RubyValue): string {
  if (isInteger(data)) return String(data);
  const text = typeof data === 'string' || data instanceof RubyString ? rubyText(data) : null;
  return text ? text : refuse('a blob id that is neither an Integer nor a non-empty String');
}

export function diskKeyData(claims: RailsDiskKeyClaims): RubyHash {
  return RubyHash.withSymbolKeys({
    key: requireText(claims.key, 'key'),
    disposition: requireText(claims.disposition, 'disposition', true),
    content_type: optionalText(claims.contentType, 'contentType'),
    service_name: new RubySymbol(requireText(claims.serviceName, 'serviceName')),
  });
}

export function diskKeyFrom(data: RubyValue): RailsDiskKeyClaims {
  const hash = claimsHash(data);
  return {
    key: text(hash, 'key'),
    disposition: text(hash, 'disposition', true),
    contentType: nullableText(hash, 'content_type'),
    serviceName: text(hash, 'service_name'),
  };
}

export function diskUploadData(claims: RailsDiskUploadClaims): RubyHash {
  if (!Number.isSafeInteger(claims.contentLength) || claims.contentLength < 0) {
    throw new ArgumentError('contentLength must be a whole number of bytes.');
  }
  return RubyHash.withSymbolKeys({
    key: requireText(claims.key, 'key'),
    content_type: optionalText(claims.contentType, 'contentType'),
    content_length: claims.contentLength,
    checksum: optionalText(claims.checksum, 'checksum'),
    service_name: new RubySymbol(requireText(claims.serviceName, 'serviceName')),
  });
}

export function diskUploadFrom(data: RubyValue): RailsDiskUploadClaims {
  const hash = claimsHash(data);
  const length = hash.field('content_length');
  if (!isInteger(length) || typeof length !== 'number' || length < 0) return refuse('a content_length that is not a byte count');
  return {
    key: text(hash, 'key'),
    contentType: nullableText(hash, 'content_type'),
    contentLength: length,
    checksum: nullableText(hash, 'checksum'),
    serviceName: text(hash, 'service_name'),
  };
}

function claimsHash(data: RubyValue): RubyHash {
  return data instanceof RubyHash ? data : refuse('claims that are not a hash');
}

/** A present, non-empty String or Symbol (Rails 6.1 Mirror services name themselves with Strings). */
function text(hash: RubyHash, name: string, allowEmpty = false): string {
  const value = rubyText(hash.field(name));
  if (value === null || (!allowEmpty && value === '')) return refuse(`a missing or non-text ${name}`);
  return value;
}

function nullableText(hash: RubyHash, name: string): string | null {
  return hash.field(name) === null ? null : text(hash, name, true);
}

function requireText(value: unknown, name: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '') || !value.isWellFormed()) {
    throw new ArgumentError(`${name} must be a${allowEmpty ? '' : ' non-empty'} string.`);
  }
  return value;
}

function optionalText(value: unknown, name: string): string | null {
  return value === null ? null : requireText(value, name, true);
}

function refuse(why: string): never {
  throw new InvalidSignatureError('tampered', { cause: new Error(`Rails claims: ${why}`) });
}
