import type { Blob } from './Blob.ts';
import { safeDisposition, servedContentType, type Disposition } from '../content/serving.ts';
import { sanitizeFilename } from '../content/filename.ts';
import { assertExpiresIn, DEFAULT_EXPIRES_IN } from '../signing/MessageVerifier.ts';
import type { AttacheRuntime } from './runtime.ts';
import { signBlobUrlId } from './signed-ids.ts';

export interface BlobUrlOptions {
  /** Lifetime in seconds: 1 to 604800, default 300. */
  expiresIn?: number;
  /** `inline` (default) is honoured only for raster images and PDF; everything else downloads. */
  disposition?: Disposition;
  /** The filename the client sees (default: the blob's). */
  filename?: string;
}

/** A URL that serves the blob for `expiresIn` seconds, from its service. Throws ArgumentError for a bad expiresIn. */
export async function blobUrl(rt: AttacheRuntime, blob: Blob, options: BlobUrlOptions = {}): Promise<string> {
  const expiresIn = options.expiresIn ?? DEFAULT_EXPIRES_IN;
  assertExpiresIn(expiresIn);
  return rt.service(blob.serviceName).url(blob.key, {
    expiresIn,
    disposition: safeDisposition(blob.contentType, options.disposition ?? 'inline'),
    filename: sanitizeFilename(options.filename ?? blob.filename),
    contentType: servedContentType(blob.contentType),
  });
}

/** The app's proxy URL for the blob (streams through the app; works for every service). Its id serves but cannot be attached. */
export function blobProxyUrl(rt: AttacheRuntime, blob: Blob, options: { expiresIn?: number; filename?: string } = {}): string {
  return rt.routes.proxy(signBlobUrlId(rt, blob, options.expiresIn), options.filename ?? blob.filename);
}

/** The app's redirect URL for the blob (302 to a fresh service URL). Its id serves but cannot be attached. */
export function blobRedirectUrl(rt: AttacheRuntime, blob: Blob, options: { expiresIn?: number; filename?: string } = {}): string {
  return rt.routes.redirect(signBlobUrlId(rt, blob, options.expiresIn), options.filename ?? blob.filename);
}
