import { ConfigurationError } from '../../core/errors.ts';
import { createS3Client } from './client.ts';
import { debugHttpEnabled, stderrLogger } from './debug-log.ts';
import { CustomerKey, SERVER_ALGORITHMS, type Encryption, type ServerAlgorithm } from './encryption.ts';
import type { S3ServiceOptions } from './S3Service.ts';
import type { ObjectParams } from './upload.ts';

const MIB = 1024 * 1024;
/** S3's smallest part; a smaller threshold or part size is refused. */
const MIN_PART = 5 * MIB;
const DEFAULT_THRESHOLD = 100 * MIB;
const DEFAULT_PART_SIZE = 8 * MIB;

/** Settings of `service: S3` (storage.yml, snake_case as in Rails). */
export const S3_SETTINGS = [
  'access_key_id', 'secret_access_key', 'session_token', 'region', 'bucket', 'endpoint', 'force_path_style',
  'upload', 'public', 'multipart_threshold', 'part_size', 'debug_http',
] as const;

/** Settings of `service: SecureS3`: S3's plus the encryption ones. */
export const SECURE_S3_SETTINGS = [
  ...S3_SETTINGS, 'kms_key_id', 'server_side_encryption', 'bucket_key_enabled', 'encryption_context', 'sse_customer_key',
] as const;

// `upload:` extras (Rails' upload options) → PutObject parameters. Encryption is SecureS3's alone.
const UPLOAD_OPTIONS: Record<string, keyof ObjectParams> = {
  acl: 'ACL',
  cache_control: 'CacheControl',
  content_language: 'ContentLanguage',
  storage_class: 'StorageClass',
  tagging: 'Tagging',
};

type Settings = Record<string, unknown>;

/** S3ServiceOptions from validated settings (the registry has checked names and `bucket`). Throws ConfigurationError. */
export function s3Options(name: string, settings: Settings, env: NodeJS.ProcessEnv = process.env): S3ServiceOptions {
  const endpoint = text(name, settings, 'endpoint');
  const region = text(name, settings, 'region') ?? (env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || (endpoint ? 'us-east-1' : undefined));
  if (region === undefined) throw ConfigurationError.missingSetting(name, 'region');
  const forcePathStyle = flag(name, settings, 'force_path_style') ?? false;
  const threshold = integer(name, settings, 'multipart_threshold', MIN_PART) ?? DEFAULT_THRESHOLD;
  const partSize = integer(name, settings, 'part_size', MIN_PART) ?? Math.min(DEFAULT_PART_SIZE, threshold);
  if (partSize > threshold) throw ConfigurationError.invalidSetting(name, 'part_size', 'at most multipart_threshold');
  const debug = debugHttpEnabled(flag(name, settings, 'debug_http'), env);
  const client = createS3Client({ region, endpoint, forcePathStyle, credentials: credentials(name, settings), debugLog: debug ? stderrLogger : undefined });
  const bucket = text(name, settings, 'bucket');
  if (bucket === undefined) throw ConfigurationError.missingSetting(name, 'bucket');
  return {
    name,
    bucket,
    client,
    region,
    endpoint,
    forcePathStyle,
    public: flag(name, settings, 'public') ?? false,
    multipartThreshold: threshold,
    partSize,
    upload: uploadExtras(name, settings),
  };
}

/** The encryption SecureS3 applies. Throws ConfigurationError (naming the setting, never its value). */
export function encryptionFrom(name: string, settings: Settings): Encryption {
  const customerKey = text(name, settings, 'sse_customer_key');
  if (customerKey !== undefined) {
    for (const other of ['server_side_encryption', 'kms_key_id', 'bucket_key_enabled', 'encryption_context']) {
      if (settings[other] !== undefined) throw new ConfigurationError(`Service "${name}" sets both "sse_customer_key" and "${other}"; choose SSE-C or server-side encryption.`);
    }
    if (!/^[A-Za-z0-9+/]{43}=$/.test(customerKey) || Buffer.from(customerKey, 'base64').length !== 32) {
      throw ConfigurationError.invalidSetting(name, 'sse_customer_key', 'the base64 of exactly 32 bytes');
    }
    return { mode: 'customer', key: new CustomerKey(customerKey) };
  }
  const algorithm = (text(name, settings, 'server_side_encryption') ?? 'aws:kms') as ServerAlgorithm;
  if (!SERVER_ALGORITHMS.includes(algorithm)) throw ConfigurationError.invalidSetting(name, 'server_side_encryption', `one of ${SERVER_ALGORITHMS.join(', ')}`);
  const kmsKeyId = text(name, settings, 'kms_key_id');
  const bucketKeyEnabled = flag(name, settings, 'bucket_key_enabled');
  const context = stringMap(name, settings, 'encryption_context');
  if (algorithm === 'AES256') {
    if (kmsKeyId !== undefined || context !== undefined) throw ConfigurationError.invalidSetting(name, 'server_side_encryption', 'aws:kms or aws:kms:dsse when a KMS key or context is set');
    return { mode: 'server', algorithm, ...(bucketKeyEnabled !== undefined && { bucketKeyEnabled }) };
  }
  if (kmsKeyId === undefined) throw ConfigurationError.missingSetting(name, 'kms_key_id');
  return { mode: 'server', algorithm, kmsKeyId, ...(bucketKeyEnabled !== undefined && { bucketKeyEnabled }), ...(context !== undefined && { context }) };
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

function uploadExtras(name: string, settings: Settings): ObjectParams {
  const extras = stringMap(name, settings, 'upload') ?? {};
  const params: Record<string, string> = {};
  for (const [option, value] of Object.entries(extras)) {
    const param = UPLOAD_OPTIONS[option];
    if (param === undefined) {
      const hint = /encrypt|sse|kms/i.test(option) ? ' (encryption is configured with service: SecureS3)' : '';
      throw ConfigurationError.invalidSetting(name, 'upload', `options among ${Object.keys(UPLOAD_OPTIONS).join(', ')}${hint}`);
    }
    params[param] = value;
  }
  return params as ObjectParams;
}

/** A non-empty string, or undefined when unset or empty. */
function text(name: string, settings: Settings, key: string): string | undefined {
  const value = settings[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw ConfigurationError.invalidSetting(name, key, 'a string');
  return value;
}

/** true/false, also as the strings "true"/"false" (env interpolation yields strings). */
function flag(name: string, settings: Settings, key: string): boolean | undefined {
  const value = settings[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw ConfigurationError.invalidSetting(name, key, 'true or false');
}

/** A whole number of bytes ≥ min, as a number or a string of digits. */
function integer(name: string, settings: Settings, key: string, min: number): number | undefined {
  const value = settings[key];
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (!Number.isSafeInteger(number) || (number as number) < min) throw ConfigurationError.invalidSetting(name, key, `a whole number of bytes, at least ${min}`);
  return number as number;
}

function stringMap(name: string, settings: Settings, key: string): Record<string, string> | undefined {
  const value = settings[key];
  if (value === undefined || value === null) return undefined;
  const valid = typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
  if (!valid) throw ConfigurationError.invalidSetting(name, key, 'a mapping of names to strings');
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}
