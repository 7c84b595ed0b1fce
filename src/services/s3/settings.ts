import { ConfigurationError } from '../../core/errors.ts';
import { createS3Client, DEFAULT_TIMEOUTS, type S3Timeouts } from './client.ts';
import { debugHttpEnabled, stderrLogger } from './debug-log.ts';
import { CustomerKey, SERVER_ALGORITHMS, type Encryption, type ServerAlgorithm } from './encryption.ts';
import type { S3ServiceOptions } from './S3Service.ts';
import { choice, flag, integer, seconds, stringMap, text, type Settings } from './setting-values.ts';
import { uploadSettings } from './upload-options.ts';

export { S3_SETTINGS, SECURE_S3_SETTINGS } from './setting-names.ts';

const MIB = 1024 * 1024;
/** S3's smallest part; a smaller threshold or part size is refused. */
const MIN_PART = 5 * MIB;
const DEFAULT_THRESHOLD = 100 * MIB;
const DEFAULT_PART_SIZE = 8 * MIB;

/** S3ServiceOptions from validated settings (the registry has checked names and `bucket`). Throws ConfigurationError. */
export function s3Options(name: string, settings: Settings, env: NodeJS.ProcessEnv = process.env): S3ServiceOptions {
  const endpoint = text(name, settings, 'endpoint');
  const region = text(name, settings, 'region') ?? (env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || (endpoint ? 'us-east-1' : undefined));
  if (region === undefined) throw ConfigurationError.missingSetting(name, 'region');
  const forcePathStyle = flag(name, settings, 'force_path_style') ?? false;
  const upload = uploadSettings(name, settings);
  const threshold = multipartThreshold(name, settings, upload.multipartThreshold);
  const partSize = integer(name, settings, 'part_size', MIN_PART) ?? Math.min(DEFAULT_PART_SIZE, threshold);
  if (partSize > threshold) throw ConfigurationError.invalidSetting(name, 'part_size', 'at most multipart_threshold');
  checkRailsOnly(name, settings);
  const debug = debugHttpEnabled(flag(name, settings, 'debug_http'), env);
  const timeouts = timeoutsFrom(name, settings);
  const client = createS3Client({ region, endpoint, forcePathStyle, credentials: credentials(name, settings), timeouts, debugLog: debug ? stderrLogger : undefined });
  const bucket = text(name, settings, 'bucket');
  if (bucket === undefined) throw ConfigurationError.missingSetting(name, 'bucket');
  const isPublic = flag(name, settings, 'public') ?? false;
  return {
    name,
    bucket,
    client,
    region,
    endpoint,
    forcePathStyle,
    public: isPublic,
    multipartThreshold: threshold,
    partSize,
    // Rails: `@upload_options[:acl] = "public-read" if public?`, on every write.
    upload: { ...upload.params, ...(isPublic && { ACL: 'public-read' }) },
  };
}

/** `http_open_timeout` and `http_read_timeout` in seconds, `retry_limit` retries (aws-sdk-ruby's meaning), else DEFAULT_TIMEOUTS. */
function timeoutsFrom(name: string, settings: Settings): S3Timeouts {
  return {
    connectTimeout: seconds(name, settings, 'http_open_timeout') ?? DEFAULT_TIMEOUTS.connectTimeout,
    readTimeout: seconds(name, settings, 'http_read_timeout') ?? DEFAULT_TIMEOUTS.readTimeout,
    retryLimit: integer(name, settings, 'retry_limit', 0, 'retries') ?? DEFAULT_TIMEOUTS.retryLimit,
  };
}

/** attache's `multipart_threshold` or Rails' `upload: { multipart_threshold }`; both is fine only when they agree. */
function multipartThreshold(name: string, settings: Settings, fromUpload: number | undefined): number {
  const own = integer(name, settings, 'multipart_threshold', MIN_PART);
  if (own !== undefined && fromUpload !== undefined && own !== fromUpload) {
    throw ConfigurationError.invalidSetting(name, 'multipart_threshold', 'the same value as upload.multipart_threshold (set only one)');
  }
  return own ?? fromUpload ?? DEFAULT_THRESHOLD;
}

/** Rails settings attache accepts only in the form it already behaves as: it always sends MD5 checksums, only when required. */
function checkRailsOnly(name: string, settings: Settings): void {
  choice(name, settings, 'default_digest_type', ['md5']); // newer Rails' :sha256 checksums are not supported yet
  choice(name, settings, 'request_checksum_calculation', ['when_required']);
  choice(name, settings, 'response_checksum_validation', ['when_required']);
}

/**
 * The encryption a service applies: SecureS3's settings merged with Rails' `upload:` encryption options
 * (`server_side_encryption`, `ssekms_key_id`, …), which must agree where both are set. Throws
 * ConfigurationError (naming the setting, never its value). For `service: S3` (uploadEncryption)
 * only `upload:` can ask for encryption, and `aws:kms` may then use the account's default key, as in Rails.
 */
export function encryptionFrom(name: string, settings: Settings, unset?: ReadonlyMap<string, string>): Encryption {
  return encryption(name, settings, { secure: true, unset })!;
}

/** The encryption `service: S3` asks for in `upload:`, or undefined for plain S3. Throws ConfigurationError. */
export function uploadEncryption(name: string, settings: Settings, unset?: ReadonlyMap<string, string>): Encryption | undefined {
  return encryption(name, settings, { secure: false, unset });
}

function encryption(name: string, settings: Settings, options: { secure: boolean; unset: ReadonlyMap<string, string> | undefined }): Encryption | undefined {
  const { secure } = options;
  refuseUnsetEncryption(name, options.unset);
  const merged = mergeUploadEncryption(name, settings);
  const customerKey = text(name, merged, 'sse_customer_key');
  if (customerKey !== undefined) return customerEncryption(name, merged, customerKey);
  const asked = text(name, merged, 'server_side_encryption');
  if (!secure && asked === undefined) return undefined;
  const algorithm = (asked ?? 'aws:kms') as ServerAlgorithm;
  if (!SERVER_ALGORITHMS.includes(algorithm)) throw ConfigurationError.invalidSetting(name, 'server_side_encryption', `one of ${SERVER_ALGORITHMS.join(', ')}`);
  const kmsKeyId = text(name, merged, 'kms_key_id');
  const bucketKeyEnabled = flag(name, merged, 'bucket_key_enabled');
  const context = stringMap(name, merged, 'encryption_context');
  if (algorithm === 'AES256') {
    if (kmsKeyId !== undefined || context !== undefined) throw ConfigurationError.invalidSetting(name, 'server_side_encryption', 'aws:kms or aws:kms:dsse when a KMS key or context is set');
    return { mode: 'server', algorithm, ...(bucketKeyEnabled !== undefined && { bucketKeyEnabled }) };
  }
  if (kmsKeyId === undefined && secure) throw ConfigurationError.missingSetting(name, 'kms_key_id');
  return {
    mode: 'server', algorithm, ...(kmsKeyId !== undefined && { kmsKeyId }), ...(bucketKeyEnabled !== undefined && { bucketKeyEnabled }), ...(context !== undefined && { context }),
  };
}

// Encryption settings, under both spellings: written in the file, they must never silently become a default.
const ENCRYPTION_SETTINGS = [
  'kms_key_id', 'server_side_encryption', 'bucket_key_enabled', 'encryption_context', 'sse_customer_key',
  'upload.server_side_encryption', 'upload.ssekms_key_id', 'upload.bucket_key_enabled', 'upload.ssekms_encryption_context',
];

/** An encryption setting that was only an unset `ENV['X']` is an error naming X, not "no encryption" or the account's default key. */
function refuseUnsetEncryption(name: string, unset: ReadonlyMap<string, string> | undefined): void {
  for (const setting of ENCRYPTION_SETTINGS) {
    const variable = unset?.get(setting);
    if (variable !== undefined) throw ConfigurationError.unsetVariable(name, variable, setting);
  }
}

/** SecureS3's encryption settings with `upload:`'s encryption options folded in; a disagreement is a ConfigurationError. */
function mergeUploadEncryption(name: string, settings: Settings): Settings {
  const merged: Settings = { ...settings };
  for (const [setting, value] of Object.entries(uploadSettings(name, settings).sse)) {
    if (value === undefined) continue;
    const own = merged[setting];
    if (own !== undefined && own !== null && own !== '' && JSON.stringify(own) !== JSON.stringify(value)) {
      throw new ConfigurationError(`Service "${name}" sets "${setting}" and its upload: counterpart to different values; set only one.`, { setting });
    }
    merged[setting] = value;
  }
  return merged;
}

function customerEncryption(name: string, settings: Settings, customerKey: string): Encryption {
  for (const other of ['server_side_encryption', 'kms_key_id', 'bucket_key_enabled', 'encryption_context']) {
    if (settings[other] !== undefined) throw new ConfigurationError(`Service "${name}" sets both "sse_customer_key" and "${other}"; choose SSE-C or server-side encryption.`);
  }
  if (!/^[A-Za-z0-9+/]{43}=$/.test(customerKey) || Buffer.from(customerKey, 'base64').length !== 32) {
    throw ConfigurationError.invalidSetting(name, 'sse_customer_key', 'the base64 of exactly 32 bytes');
  }
  return { mode: 'customer', key: new CustomerKey(customerKey) };
}

function credentials(name: string, settings: Settings): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const accessKeyId = text(name, settings, 'access_key_id');
  const secretAccessKey = text(name, settings, 'secret_access_key');
  const sessionToken = text(name, settings, 'session_token');
  if (accessKeyId === undefined && secretAccessKey === undefined) {
    if (sessionToken !== undefined) throw ConfigurationError.invalidSetting(name, 'session_token', 'access_key_id and secret_access_key with it');
    return undefined; // the SDK's default credential chain
  }
  if (accessKeyId === undefined) throw ConfigurationError.missingSetting(name, 'access_key_id');
  if (secretAccessKey === undefined) throw ConfigurationError.missingSetting(name, 'secret_access_key');
  return { accessKeyId, secretAccessKey, ...(sessionToken !== undefined && { sessionToken }) };
}
