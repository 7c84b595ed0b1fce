import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Blob } from '../records/Blob.ts';
import { ArgumentError, ConfigurationError, FileNotFoundError, InvalidKeyError, InvalidSignatureError } from '../core/errors.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import type { Routes } from './routes.ts';
import type { StorageService } from '../services/Service.ts';
import type { AttachmentDefinition } from '../attached/definitions.ts';
import { DEFAULT_MAX_RANGE_BYTES } from './range.ts';

/** What the HTTP layer needs: the runtime, with the routes that parse request paths. */
export interface HttpRuntime extends AttacheRuntime {
  readonly routes: Routes;
}

/** Options of `attache.handler()` and `attache.fetch()`. */
export interface HandlerOptions {
  /**
   * Guards the redirect and proxy routes: return false to answer 403. Receives the framework's
   * request (IncomingMessage for `handler()`, Request for `fetch()`) and the blob. Not consulted
   * for Disk URLs: their signature is the authorization, checked when the URL was made.
   */
  authorize?: (request: IncomingMessage | Request, blob: Blob) => boolean | Promise<boolean>;
  /**
   * Guards `POST {mount}/direct_uploads`: return false to answer 403. Receives the framework's
   * request and the attachment's definition (entity, name, service, limits).
   */
  authorizeDirectUpload?: (request: IncomingMessage | Request, definition: AttachmentDefinition) => boolean | Promise<boolean>;
  /** Largest number of bytes served for one Range request (default 16 MiB); see parseRange. */
  maxRangeBytes?: number;
  /** Receives internal errors answered with 500 (default: console.error). Never sees signed URLs. */
  onError?: (error: unknown) => void;
}

/** The framework-neutral request every adapter builds. */
export interface CoreRequest {
  /** Upper-case method. */
  method: string;
  /** The path, still percent-encoded (segments are split before anything is decoded). */
  pathname: string;
  query: URLSearchParams;
  headers: { get(name: string): string | null };
  /** The request body, for PUT. */
  body: Readable | null;
  /** The framework's own request object (what `authorize` receives). */
  raw: IncomingMessage | Request;
}

/** What attache answers; adapters turn it into a ServerResponse or a Response. */
export interface CoreResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** null for HEAD, 204, 304 and the like. */
  body: Readable | Buffer | null;
}

/** The resolved options every route handler gets. */
export interface RouteContext {
  rt: HttpRuntime;
  authorize: NonNullable<HandlerOptions['authorize']> | undefined;
  authorizeDirectUpload: HandlerOptions['authorizeDirectUpload'];
  maxRangeBytes: number;
}

/** A small plain-text answer with no detail in it: errors never echo a token, a path or a message. */
export function textResponse(status: number, text: string, extra: Record<string, string> = {}): CoreResponse {
  const body = Buffer.from(`${text}\n`);
  return {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(body.length),
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      ...extra,
    },
    body,
  };
}

export const notFound = (): CoreResponse => textResponse(404, 'Not Found');
export const forbidden = (): CoreResponse => textResponse(403, 'Forbidden');
export const unprocessable = (): CoreResponse => textResponse(422, 'Unprocessable Content');
export const internalError = (): CoreResponse => textResponse(500, 'Internal Server Error');

/** 405 when `method` is not in `allowed`, else null. */
export function methodNotAllowed(method: string, allowed: readonly string[]): CoreResponse | null {
  return allowed.includes(method) ? null : textResponse(405, 'Method Not Allowed', { allow: allowed.join(', ') });
}

/** Errors that mean "no such file for this URL": a bad, expired or misused token, a missing blob or object. */
export function isNotFound(error: unknown): boolean {
  return (
    error instanceof InvalidSignatureError ||
    error instanceof FileNotFoundError ||
    error instanceof InvalidKeyError
  );
}

/** The onError to use: the option, else console.error. Never throws (a throwing onError is ignored). */
export function errorReporter(options: HandlerOptions): (error: unknown) => void {
  const onError = options.onError ?? ((error: unknown) => console.error('attache: request failed', error));
  return (error) => {
    try {
      onError(error);
    } catch {
      // Reporting must not turn a 500 into an unhandled rejection.
    }
  };
}

/** Resolves and validates the handler options. Throws ArgumentError for a bad maxRangeBytes. */
export function routeContext(rt: HttpRuntime, options: HandlerOptions): RouteContext {
  const maxRangeBytes = options.maxRangeBytes ?? DEFAULT_MAX_RANGE_BYTES;
  if (!Number.isSafeInteger(maxRangeBytes) || maxRangeBytes < 1) {
    throw new ArgumentError('maxRangeBytes must be a positive whole number of bytes.');
  }
  return { rt, authorize: options.authorize, authorizeDirectUpload: options.authorizeDirectUpload, maxRangeBytes };
}

/** The named service when it is configured, else null (a token naming a removed service is just not found). */
export function configuredService(rt: AttacheRuntime, name: unknown): StorageService | null {
  if (typeof name !== 'string') return null;
  try {
    return rt.service(name);
  } catch (error) {
    if (error instanceof ConfigurationError) return null;
    throw error;
  }
}
