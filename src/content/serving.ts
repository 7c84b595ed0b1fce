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
 * Types a browser would run as a document or script: never served or stored under their own name.
 * Rails' `content_types_to_serve_as_binary`, every JavaScript MIME type of the WHATWG MIME Sniffing
 * standard, XSLT, and (below) every `+xml` type (SVG, XHTML, MathML, RSS, Atom, …).
 */
const SERVE_AS_BINARY = new Set([
  'text/html',
  'text/xml',
  'application/xml',
  'image/svg+xml',
  'application/xhtml+xml',
  'application/mathml+xml',
  'text/cache-manifest',
  'application/postscript',
  'application/x-shockwave-flash',
  'application/javascript',
  'application/ecmascript',
  'application/x-javascript',
  'application/x-ecmascript',
  'text/javascript',
  'text/ecmascript',
  'text/javascript1.0',
  'text/javascript1.1',
  'text/javascript1.2',
  'text/javascript1.3',
  'text/javascript1.4',
  'text/javascript1.5',
  'text/jscript',
  'text/livescript',
  'text/x-ecmascript',
  'text/x-javascript',
  'text/xsl',
  'application/xslt+xml',
]);

const BINARY = 'application/octet-stream';

/** Whether a type is one a browser could execute, so it is only ever handled as application/octet-stream. */
export function servedAsBinary(contentType: string | null | undefined): boolean {
  const type = parseMediaType(contentType);
  return type !== null && (SERVE_AS_BINARY.has(type) || type.endsWith('+xml'));
}

/**
 * Invariant: the disposition and type a client sees are decided here, for every service and route.
 * Returns the safe disposition: `inline` only for allowlisted types, whatever was asked.
 */
export function safeDisposition(contentType: string | null | undefined, requested: Disposition | undefined): Disposition {
  const type = parseMediaType(contentType);
  return requested !== 'attachment' && type !== null && INLINE_ALLOWED.has(type) ? 'inline' : 'attachment';
}

/** The content type to serve: the parsed stored type, or application/octet-stream for an unparsable or risky one. */
export function servedContentType(contentType: string | null | undefined): string {
  return servedAsBinary(contentType) ? BINARY : (parseMediaType(contentType) ?? BINARY);
}

export interface StoredFile {
  /** The file's true type (the blob row keeps it); the object may be stored under another. */
  contentType?: string | null;
  filename?: string;
  disposition?: Disposition;
}

/** The Content-Type and Content-Disposition stored with an object. */
export interface StoredHeaders {
  contentType: string;
  /** Absent only for an inline-allowed type without a filename (the browser's default is inline). */
  contentDisposition?: string;
}

/**
 * Invariant: the Content-Type and Content-Disposition stored with an object are decided here, on
 * every write path of every service (Rails' `Blob#service_metadata`). A storage server, CDN or
 * public bucket that serves the object as stored then follows the same rules as attache's routes:
 * a risky type is stored as application/octet-stream, and only allowlisted types may be inline.
 */
export function storedHeaders(file: StoredFile): StoredHeaders {
  const contentType = servedContentType(file.contentType);
  const disposition = safeDisposition(file.contentType, file.disposition);
  if (file.filename !== undefined) return { contentType, contentDisposition: contentDisposition(disposition, file.filename) };
  return disposition === 'attachment' ? { contentType, contentDisposition: 'attachment' } : { contentType };
}

/** The headers of a direct-upload PUT to storage that keeps them as sent (Disk, Memory): the stored type and disposition (storedHeaders) and Content-MD5. */
export function storedUploadHeaders(file: StoredFile & { checksum: string }): Record<string, string> {
  const stored = storedHeaders(file);
  return {
    'Content-Type': stored.contentType,
    'Content-MD5': file.checksum,
    ...(stored.contentDisposition !== undefined && { 'Content-Disposition': stored.contentDisposition }),
  };
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
