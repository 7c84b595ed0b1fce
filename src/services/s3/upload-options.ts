import { ConfigurationError } from '../../core/errors.ts';
import { flag, integer, mapping, text, type Settings } from './setting-values.ts';
import type { ObjectParams } from './upload.ts';

/** What Rails' `upload:` block holds, sorted by who applies it. */
export interface UploadSettings {
  /** Put parameters applied on every write (Rails passes them to put, upload_stream and the presigned PUT). */
  params: ObjectParams;
  /** Rails' `upload: { multipart_threshold: N }`. */
  multipartThreshold?: number;
  /** The encryption options, under SecureS3's setting names, for encryptionFrom (sseParams applies them). */
  sse: Settings;
}

type Kind = 'string' | 'date';

// Rails' upload options (aws-sdk-ruby put_object names) → PutObject parameters.
const PARAMS: Record<string, [keyof ObjectParams, Kind]> = {
  acl: ['ACL', 'string'],
  cache_control: ['CacheControl', 'string'],
  content_encoding: ['ContentEncoding', 'string'],
  content_language: ['ContentLanguage', 'string'],
  expires: ['Expires', 'date'],
  storage_class: ['StorageClass', 'string'],
  tagging: ['Tagging', 'string'],
  website_redirect_location: ['WebsiteRedirectLocation', 'string'],
  grant_full_control: ['GrantFullControl', 'string'],
  grant_read: ['GrantRead', 'string'],
  grant_read_acp: ['GrantReadACP', 'string'],
  grant_write_acp: ['GrantWriteACP', 'string'],
  object_lock_mode: ['ObjectLockMode', 'string'],
  object_lock_retain_until_date: ['ObjectLockRetainUntilDate', 'date'],
  object_lock_legal_hold_status: ['ObjectLockLegalHoldStatus', 'string'],
  request_payer: ['RequestPayer', 'string'],
  expected_bucket_owner: ['ExpectedBucketOwner', 'string'],
};

// Rails' encryption upload options → SecureS3's settings, so one builder (sseParams) applies them everywhere.
const SSE: Record<string, string> = {
  server_side_encryption: 'server_side_encryption',
  ssekms_key_id: 'kms_key_id',
  bucket_key_enabled: 'bucket_key_enabled',
  ssekms_encryption_context: 'encryption_context',
};

// Options Rails accepts that attache refuses, and why.
const REFUSED: Record<string, string> = {
  sse_customer_algorithm: 'SSE-C is configured with service: SecureS3 and its sse_customer_key (the key must also go on every read)',
  sse_customer_key: 'SSE-C is configured with service: SecureS3 and its sse_customer_key (the key must also go on every read)',
  sse_customer_key_md5: 'SSE-C is configured with service: SecureS3 and its sse_customer_key (the key must also go on every read)',
  content_type: 'attache stores each object\'s type itself (serving.ts decides it)',
  content_disposition: 'attache stores each object\'s disposition itself (serving.ts decides it)',
  content_md5: 'attache has S3 check every body itself (the signed SHA-256 of each request, or a Content-MD5 where the payload is unsigned)',
  metadata: 'attache sends each blob\'s custom metadata itself',
  checksum_algorithm: 'attache has S3 check every body with the signed SHA-256 of each request (or a Content-MD5 where the payload is unsigned)',
};

export const UPLOAD_OPTIONS: readonly string[] = [...Object.keys(PARAMS), ...Object.keys(SSE), 'multipart_threshold'];

/** Reads `upload:`. Throws ConfigurationError naming `upload.<option>`, never a value. */
export function uploadSettings(name: string, settings: Settings): UploadSettings {
  const upload = mapping(name, settings, 'upload') ?? {};
  const params: Record<string, unknown> = {};
  const sse: Settings = {};
  for (const [option, value] of Object.entries(upload)) {
    const shown = `upload.${option}`;
    if (value === undefined || value === null || value === '') continue; // Rails' nil: not sent
    const param = PARAMS[option];
    if (param !== undefined) {
      params[param[0]] = param[1] === 'date' ? date(name, upload, option) : text(name, upload, option, shown);
    } else if (SSE[option] !== undefined) {
      sse[SSE[option]] = option === 'ssekms_encryption_context' ? encryptionContext(name, upload) : option === 'bucket_key_enabled' ? flag(name, upload, option, shown) : text(name, upload, option, shown);
    } else if (option !== 'multipart_threshold') {
      const why = REFUSED[option];
      if (why !== undefined) throw new ConfigurationError(`Service "${name}" sets "${shown}", which attache does not take: ${why}.`, { setting: shown });
      throw ConfigurationError.invalidSetting(name, 'upload', `options among ${UPLOAD_OPTIONS.join(', ')} (not "${option}")`);
    }
  }
  const multipartThreshold = integer(name, upload, 'multipart_threshold', 5 * 1024 * 1024, 'bytes', 'upload.multipart_threshold');
  return { params: params as ObjectParams, sse, ...(multipartThreshold !== undefined && { multipartThreshold }) };
}

function date(name: string, upload: Settings, option: string): Date {
  const value = upload[option];
  const parsed = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(parsed.getTime())) throw ConfigurationError.invalidSetting(name, `upload.${option}`, 'a date and time (ISO 8601)');
  return parsed;
}

/** aws-sdk-ruby takes the KMS context as base64 of a JSON object, as the header carries it; SecureS3 takes a mapping. */
function encryptionContext(name: string, upload: Settings): Record<string, string> {
  const value = upload['ssekms_encryption_context'];
  let decoded: unknown;
  try {
    decoded = typeof value === 'string' ? JSON.parse(Buffer.from(value, 'base64').toString('utf8')) : value;
  } catch {
    decoded = undefined;
  }
  const valid = typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded) && Object.values(decoded).every((v) => typeof v === 'string');
  if (!valid) throw ConfigurationError.invalidSetting(name, 'upload.ssekms_encryption_context', 'the base64 of a JSON object of strings, or a mapping of names to strings');
  return Object.fromEntries(Object.entries(decoded as Record<string, string>));
}
