import { parseMediaType } from './content-type.ts';
import { sanitizeFilename } from './filename.ts';

export type Disposition = 'inline' | 'attachment';

/** Types a browser may render inline: raster images and PDF. Everything else is downloaded. */
const INLINE_ALLOWED = new Set([
  'image/png',
  'image/gif',
  'image/jpeg',
  'image/jpg',
  'image/pjpeg',
  'image/webp',
  'image/avif',
  'image/bmp',
  'image/tiff',
  'image/vnd.microsoft.icon',
  'image/x-icon',
  'application/pdf',
]);

/**
 * Invariant: the disposition and type a client sees are decided here, for every service and route.
 * Returns the safe disposition: `inline` only for allowlisted types, whatever was asked.
 */
export function safeDisposition(contentType: string | null | undefined, requested: Disposition | undefined): Disposition {
  const type = parseMediaType(contentType);
  return requested !== 'attachment' && type !== null && INLINE_ALLOWED.has(type) ? 'inline' : 'attachment';
}

/** The content type to serve: the parsed stored type, or application/octet-stream. */
export function servedContentType(contentType: string | null | undefined): string {
  return parseMediaType(contentType) ?? 'application/octet-stream';
}

/**
 * A well-formed Content-Disposition: an ASCII `filename=` fallback and an RFC 5987 `filename*=`.
 * The filename is sanitized first, so no quote, CR, LF or path can reach the header.
 */
export function contentDisposition(disposition: Disposition, filename: string): string {
  const clean = sanitizeFilename(filename);
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export interface ServedFile {
  contentType: string | null | undefined;
  disposition?: Disposition;
  filename: string;
}

/** The headers every route sends with a file's bytes: type, disposition, nosniff and a sandboxing CSP. */
export function servedHeaders(file: ServedFile): Record<string, string> {
  const disposition = safeDisposition(file.contentType, file.disposition);
  return {
    'content-type': servedContentType(file.contentType),
    'content-disposition': contentDisposition(disposition, file.filename),
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
  };
}
