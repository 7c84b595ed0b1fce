import {
  AttacheError,
  ArgumentError,
  EncryptionError,
  FileNotFoundError,
  IntegrityError,
  StorageAccessError,
} from '../../core/errors.ts';

/** What was being done when S3 failed, for the message. Never holds secrets. */
export interface S3ErrorContext {
  service: string;
  /** A verb phrase: "upload", "download", "list objects", … */
  action: string;
  key?: string;
}

const DIGEST_CODES = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']);
const ACCESS_CODES = new Set([
  'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired',
  'AllAccessDisabled', 'AccountProblem', 'CredentialsProviderError',
]);
// Codes of a request that has no object to act on.
const NOT_AN_OBJECT = new Set(['NoSuchBucket', 'NoSuchUpload']);

/**
 * Invariant: every AWS SDK error leaves an S3 service through here, as an AttacheError whose `cause`
 * is an S3Failure: the SDK error scrubbed of its request, response, headers and credentials. Messages
 * name the S3 error code, never a header value or a server message. NoSuchKey / 404 →
 * FileNotFoundError; BadDigest → IntegrityError; KMS and SSE-C failures → EncryptionError;
 * AccessDenied, credential failures, timeouts and network errors → StorageAccessError; 416 → ArgumentError.
 */
export function translateS3Error(error: unknown, context: S3ErrorContext): AttacheError {
  if (error instanceof AttacheError) return error;
  const { code, status, message } = describe(error);
  const cause = new S3Failure(error);
  const { key } = context;
  const where = `S3 service "${context.service}" could not ${context.action}${key === undefined ? '' : ` "${key}"`}`;
  if (key !== undefined && (code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && !NOT_AN_OBJECT.has(code)))) {
    return FileNotFoundError.forKey(key, cause);
  }
  if (DIGEST_CODES.has(code)) return new IntegrityError(`${where}: S3 rejected the bytes as corrupted (${code}).`, { cause });
  if (code === 'InvalidRange' || status === 416) return new ArgumentError(`${where}: the range is not satisfiable.`, { cause });
  if (isEncryptionFailure(code, message)) {
    return new EncryptionError(`${where}: the server refused the encryption key or algorithm (${code || status}).`, { cause });
  }
  if (ACCESS_CODES.has(code) || status === 403) return new StorageAccessError(`${where}: access denied (${code || status}).`, { cause });
  if (code === 'NoSuchBucket') return new StorageAccessError(`${where}: the bucket does not exist.`, { cause });
  if (code === 'TimeoutError' || code === 'ETIMEDOUT') return new StorageAccessError(`${where}: the server did not answer in time (${code}).`, { cause });
  return new StorageAccessError(`${where} (${code || status || 'network error'}).`, { cause });
}

/**
 * What attache keeps of an AWS SDK (or network) error as `cause`: its name, code, HTTP status, request
 * ids, attempt count and message. Not kept: `$response` (its body stream leads back to the request
 * and its Authorization and SSE-C key headers), extra XML fields such as SignatureDoesNotMatch's
 * AWSAccessKeyId, StringToSign and CanonicalRequest, and credential-like tokens of the message.
 */
export class S3Failure extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly extendedRequestId: string | undefined;
  readonly attempts: number | undefined;

  constructor(error: unknown) {
    const { code, status, message } = describe(error);
    super(scrub(message));
    const metadata = (error as { $metadata?: { requestId?: unknown; extendedRequestId?: unknown; attempts?: unknown } } | null)?.$metadata;
    this.name = typeof (error as Error | null)?.name === 'string' && (error as Error).name !== '' ? (error as Error).name : 'S3Failure';
    this.code = code;
    this.status = status;
    this.requestId = typeof metadata?.requestId === 'string' ? metadata.requestId : undefined;
    this.extendedRequestId = typeof metadata?.extendedRequestId === 'string' ? metadata.extendedRequestId : undefined;
    this.attempts = typeof metadata?.attempts === 'number' ? metadata.attempts : undefined;
    // The SDK's frames help a bug report; its first line repeats the unscrubbed message, so it is replaced.
    const frames = typeof (error as Error | null)?.stack === 'string' ? (error as Error).stack!.split('\n').filter((line) => line.startsWith('    at ')) : [];
    this.stack = [`${this.name}: ${this.message}`, ...frames].join('\n');
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, status: this.status, requestId: this.requestId, extendedRequestId: this.extendedRequestId, attempts: this.attempts, message: this.message };
  }
}

/** A server message without anything that could be a credential, key or signature (long tokens mixing letters and digits), at most 300 characters. */
function scrub(message: string): string {
  const short = message.length > 300 ? `${message.slice(0, 297)}...` : message;
  return short.replace(/[A-Za-z0-9+/=_-]{16,}/g, (token) => (/[0-9]/.test(token) && /[A-Za-z]/.test(token) ? '[redacted]' : token));
}

/** KMS errors (AWS `KMS.*`, RGW's "Failed to retrieve the actual key, kms-keyid") and SSE-C refusals. */
function isEncryptionFailure(code: string, message: string): boolean {
  if (code.startsWith('KMS.') || /kms/i.test(message)) return true;
  if (code === 'InvalidArgument' || code === 'InvalidRequest' || code === 'InvalidEncryptionAlgorithmError') {
    return /encrypt|customer|sse|hash of the key/i.test(message);
  }
  return false;
}

interface Described {
  code: string;
  status: number | undefined;
  message: string;
}

function describe(error: unknown): Described {
  if (typeof error !== 'object' || error === null) return { code: '', status: undefined, message: '' };
  const e = error as { name?: unknown; Code?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : '';
  // S3 answers carry `Code` (or only a name when the body was empty); network errors carry a Node `code`.
  const rawCode = typeof e.Code === 'string' ? e.Code : status !== undefined ? name : typeof e.code === 'string' ? e.code : name;
  const code = rawCode === 'Unknown' || rawCode === 'UnknownError' ? '' : rawCode;
  return { code, status, message: typeof e.message === 'string' ? e.message : '' };
}

/**
 * Whether a failed request may still have taken effect: no answer came (a timeout, a dropped or
 * refused connection) or the server failed (5xx). A 4xx answer is definite: nothing was written.
 */
export function isAmbiguousFailure(error: unknown): boolean {
  if (error instanceof AttacheError) return false;
  const { status } = describe(error);
  return status === undefined || status >= 500;
}

/** Whether the error is S3 saying the multipart upload is already gone (an abort's idempotent case). */
export function isNoSuchUpload(error: unknown): boolean {
  return describe(error).code === 'NoSuchUpload';
}

const UNSUPPORTED_CODES = new Set(['NotImplemented', 'MethodNotAllowed', 'InvalidRequest', 'XNotImplemented']);

/**
 * Whether S3 refused a request as something it does not do (501, 405, NotImplemented,
 * MethodNotAllowed, InvalidRequest): a capability the server lacks, not a fault of the object.
 * Reencrypt falls back from in-place rewrites on this.
 */
export function isUnsupported(error: unknown): boolean {
  if (error instanceof AttacheError) return false;
  const { code, status } = describe(error);
  return status === 501 || status === 405 || UNSUPPORTED_CODES.has(code);
}
