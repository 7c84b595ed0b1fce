import { S3Client } from '@aws-sdk/client-s3';
import { md5Base64 } from '../../core/checksum.ts';
import { IntegrityError } from '../../core/errors.ts';
import { logExchange, type DebugLogger, type LoggedRequest } from './debug-log.ts';

/** How long a request may stay silent, and how often it is retried. */
export interface S3Timeouts {
  /** Milliseconds to establish the TCP (and TLS) connection. */
  connectTimeout: number;
  /** Milliseconds without a byte in either direction, before the answer or in the middle of a body: the request (or the body stream) fails. */
  readTimeout: number;
  /** Retries after a failed attempt (aws-sdk-ruby's retry_limit); attempts = retryLimit + 1. */
  retryLimit: number;
}

/**
 * Timeouts and retries when storage.yml sets none. A request that never answers, or a body that
 * stops flowing, fails after `readTimeout` of silence, at most `retryLimit + 1` times.
 */
export const DEFAULT_TIMEOUTS: Readonly<S3Timeouts> = { connectTimeout: 10_000, readTimeout: 60_000, retryLimit: 3 };

export interface S3ClientOptions {
  region: string;
  /** For S3-compatible servers (RGW, MinIO); AWS when absent. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Static credentials; the SDK's default chain (env, profile, instance role) when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Where the HTTP debug log goes; no log when absent. */
  debugLog?: DebugLogger;
  /** Every request's bounds; DEFAULT_TIMEOUTS when absent. */
  timeouts?: S3Timeouts;
}

/**
 * An S3Client for attache: flexible checksums only when an operation requires one (the SDK's
 * aws-chunked trailers break stream bodies on S3-compatible servers), one payload check on every
 * PutObject and UploadPart (addPayloadCheck), bounded requests, and the optional debug log.
 *
 * Bounds: the SDK's socket timeout is an idle timeout that stays armed until the response body has
 * ended, so a server that accepts and never answers, or one that stops in the middle of a GetObject
 * body, fails with TimeoutError (the body stream errors) instead of hanging. `requestTimeout` is not
 * used: it runs only until the headers arrive and would cut a large, healthy upload.
 */
export function createS3Client(options: S3ClientOptions): S3Client {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: timeouts.retryLimit + 1,
    requestHandler: { connectionTimeout: timeouts.connectTimeout, socketTimeout: timeouts.readTimeout },
  });
  addPayloadCheck(client);
  if (options.debugLog) addDebugLog(client, options.debugLog);
  return client;
}

const PAYLOAD_COMMANDS = new Set(['PutObjectCommand', 'UploadPartCommand']);
const SIGNED_PAYLOAD = /^[0-9a-f]{64}$/;

/**
 * Invariant: every PutObject and UploadPart body is checked by S3, once. When the SDK signs the
 * body's SHA-256 (`x-amz-content-sha256`, what it does for a Buffer body over http and https), S3
 * refuses altered bytes with XAmzContentSHA256Mismatch and nothing is added. When the payload is
 * unsigned (UNSIGNED-PAYLOAD), a Buffer body gets its Content-MD5, so S3 refuses them with
 * BadDigest; any other unsigned body is refused before it is sent. Runs after signing, once per attempt.
 */
function addPayloadCheck(client: S3Client): void {
  type Args = { input: unknown; request?: unknown };
  const check = (next: (args: Args) => Promise<unknown>, context: { commandName?: string }) => async (args: Args): Promise<unknown> => {
    const input = args.input as { Body?: unknown };
    const request = args.request as { headers?: Record<string, string> } | undefined;
    const headers = request?.headers;
    if (!PAYLOAD_COMMANDS.has(context.commandName ?? '') || input.Body === undefined || headers === undefined) return next(args);
    const names = Object.keys(headers).map((name) => name.toLowerCase());
    if (SIGNED_PAYLOAD.test(headers['x-amz-content-sha256'] ?? '') || names.includes('content-md5')) return next(args);
    if (!(input.Body instanceof Uint8Array)) {
      throw new IntegrityError(`${context.commandName} would send an unsigned body without a checksum; attache refuses to send it.`);
    }
    headers['content-md5'] = md5Base64(input.Body);
    return next(args);
  };
  const middleware = check as unknown as Parameters<S3Client['middlewareStack']['addRelativeTo']>[0];
  client.middlewareStack.addRelativeTo(middleware, { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'attachePayloadCheck', override: true });
}

/** Logs each signed request and its raw answer; at the end of the deserialize step, so once per attempt. */
function addDebugLog(client: S3Client, log: DebugLogger): void {
  client.middlewareStack.add(
    (next, context) => async (args) =>
      logExchange(log, context.commandName ?? 'request', args.request as LoggedRequest, () => next(args)),
    { step: 'deserialize', priority: 'low', name: 'attacheDebugHttp', override: true },
  );
}
