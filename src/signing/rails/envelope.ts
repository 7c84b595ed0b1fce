import { InvalidSignatureError } from '../../core/errors.ts';
import { decodeRailsJson, encodeRailsJson } from './json.ts';
import { dump, load } from './marshal.ts';
import { RubyHash, rubyText, type RubyValue } from './values.ts';

/**
 * The message formats of Rails' ActiveSupport::MessageVerifier as an app's `load_defaults` sets them:
 * - '6.1': key PBKDF2-HMAC-SHA1; `Marshal.dump(value)`, base64, in the JSON envelope
 *   `{"_rails":{"message":…,"exp":…|null,"pur":…}}` (Rails 5.2 to 6.1 defaults);
 * - '7.0': the same envelope, key PBKDF2-HMAC-SHA256 (`key_generator_hash_digest_class`);
 * - '7.1': key PBKDF2-HMAC-SHA256; JSON serializer with the metadata inside it:
 *   `{"_rails":{"data":…,"exp":…,"pur":…}}`, `exp` only when set (Rails 7.1 to 8.x defaults).
 */
export type RailsMessageFormat = '6.1' | '7.0' | '7.1';

/** What a signed message says once its digest has checked out. */
export interface OpenedMessage {
  data: RubyValue;
  purpose: string | null;
  expiresAt: Date | null;
}

// ActiveSupport::Messages::Metadata#dual_serialized_metadata_envelope_json?: how 7.1+ spots the 6.1 envelope.
const LEGACY_PREFIX = Buffer.from('{"_rails":{"message":');
const MARSHAL_SIGNATURE = Buffer.from([4, 8]);
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes Rails base64-encodes and signs for `data` with this purpose and expiry. */
export function serializeMessage(format: RailsMessageFormat, data: RubyValue, purpose: string, expiresAt: Date | null): Buffer {
  const exp = expiresAt && railsTime(expiresAt);
  if (format === '7.1') {
    const metadata: [string, RubyValue][] = [['data', data]];
    if (exp) metadata.push(['exp', exp]);
    metadata.push(['pur', purpose]);
    return Buffer.from(encodeRailsJson(new RubyHash([['_rails', new RubyHash(metadata)]])), 'utf8');
  }
  const message = dump(data).toString('base64');
  const envelope = new RubyHash([['_rails', new RubyHash([['message', message], ['exp', exp], ['pur', purpose]])]]);
  return Buffer.from(encodeRailsJson(envelope), 'utf8');
}

/**
 * Opens signed bytes as an app on one of `formats` would (all sharing one key): 7.1 also reads the
 * 6.1 envelope, with Marshal or JSON inside, and a Marshal-serialized 7.1 envelope; 6.1 and 7.0
 * read only their own. Throws InvalidSignatureError: 'purpose' for a 7.1 message without metadata,
 * 'tampered' for anything malformed or in an envelope the formats do not read.
 */
export function deserializeMessage(bytes: Buffer, formats: ReadonlySet<RailsMessageFormat>): OpenedMessage {
  const modern = formats.has('7.1');
  if (startsWith(bytes, LEGACY_PREFIX)) {
    const metadata = envelopeOf(decodeRailsJson(utf8(bytes)));
    const message = rubyText(metadata?.field('message'));
    if (!metadata || message === null || !STRICT_BASE64.test(message)) return refuse('a 6.1 envelope without a base64 message');
    const inner = Buffer.from(message, 'base64');
    const data = modern && !startsWith(inner, MARSHAL_SIGNATURE) ? decodeRailsJson(utf8(inner)) : load(inner);
    return opened(metadata, data);
  }
  if (!modern) return refuse('not the envelope Rails 6.1 and 7.0 read');
  const metadata = envelopeOf(startsWith(bytes, MARSHAL_SIGNATURE) ? load(bytes) : decodeRailsJson(utf8(bytes)));
  if (!metadata) throw new InvalidSignatureError('purpose', { cause: new Error('no Rails metadata envelope') });
  const data = metadata.field('data');
  return data === undefined ? refuse('a 7.1 envelope without data') : opened(metadata, data);
}

/** Strict base64 (Rails' default), or also URL-safe with or without padding (7.1+ accepts both on verify). */
export function decodeBase64(text: string, allowUrlSafe: boolean): Buffer {
  let normalized = text;
  if (allowUrlSafe && !STRICT_BASE64.test(text)) {
    normalized = text.replace(/-/g, '+').replace(/_/g, '/');
    if (!normalized.endsWith('=')) normalized = normalized.padEnd(Math.ceil(normalized.length / 4) * 4, '=');
  }
  if (!STRICT_BASE64.test(normalized)) refuse('data that is not base64');
  return Buffer.from(normalized, 'base64');
}

/** `time.utc.iso8601(3)`, which Rails writes as `exp`. */
export function railsTime(time: Date): string {
  return time.toISOString();
}

function opened(metadata: RubyHash, data: RubyValue): OpenedMessage {
  const purpose = metadata.field('pur') ?? null;
  const exp = metadata.field('exp') ?? null;
  if (purpose !== null && rubyText(purpose) === null) refuse('a purpose that is not text');
  const expText = exp === null ? null : rubyText(exp);
  if (exp !== null && (expText === null || !ISO_8601.test(expText))) refuse('an expiry that is not ISO 8601');
  const expiresAt = expText === null ? null : new Date(expText);
  if (expiresAt && Number.isNaN(expiresAt.getTime())) refuse('an expiry that is not a time');
  return { data, purpose: purpose === null ? null : rubyText(purpose), expiresAt };
}

function envelopeOf(value: RubyValue): RubyHash | null {
  if (!(value instanceof RubyHash)) return null;
  const metadata = value.field('_rails');
  if (metadata === undefined) return null;
  return metadata instanceof RubyHash ? metadata : refuse('a _rails entry that is not a hash');
}

function utf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch (cause) {
    throw new InvalidSignatureError('tampered', { cause });
  }
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.subarray(0, prefix.length).equals(prefix);
}

function refuse(why: string): never {
  throw new InvalidSignatureError('tampered', { cause: new Error(`Rails envelope: ${why}`) });
}
