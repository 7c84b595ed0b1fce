import type { Readable } from 'node:stream';
import type { CoreRequest, CoreResponse } from './core.ts';
import { contentRange, parseRange, unsatisfiedRange } from './range.ts';

/** Bytes under a key never change, so a response may be cached for as long as a browser keeps anything. */
export const IMMUTABLE_CACHE = 'private, max-age=3155695200, immutable';

/** A stored file about to be sent: everything but the bytes is known before anything is read. */
export interface FileToSend {
  /** Size in bytes. */
  size: number;
  /** Quoted entity tag, or null when there is none. */
  etag: string | null;
  /** The headers from `servedHeaders` (type, disposition, nosniff, CSP). */
  served: Record<string, string>;
  /** Opens the whole file (no range) or bytes start..end inclusive. Called only for a GET that sends bytes. */
  open(range?: { start: number; end: number }): Promise<Readable>;
}

/**
 * The one way a stored file's bytes leave attache (Disk URLs and the proxy route):
 * conditional GET (304), a single capped Range (206 / 416), HEAD without reading anything.
 */
export async function sendFile(req: CoreRequest, file: FileToSend, maxRangeBytes: number): Promise<CoreResponse> {
  const common: Record<string, string> = { 'accept-ranges': 'bytes', 'cache-control': IMMUTABLE_CACHE };
  if (file.etag !== null) common['etag'] = file.etag;
  if (file.etag !== null && etagMatches(req.headers.get('if-none-match'), file.etag)) {
    return { status: 304, headers: common, body: null };
  }
  const range = rangeOf(req, file, maxRangeBytes);
  if (range.kind === 'unsatisfiable') {
    const headers = { ...common, 'content-range': unsatisfiedRange(file.size), 'content-length': '0', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
    return { status: 416, headers, body: null };
  }
  const head = req.method === 'HEAD';
  if (range.kind === 'partial') {
    const { start, end } = range;
    const headers = { ...file.served, ...common, 'content-range': contentRange(start, end, file.size), 'content-length': String(end - start + 1) };
    return { status: 206, headers, body: head ? null : await file.open({ start, end }) };
  }
  const headers = { ...file.served, ...common, 'content-length': String(file.size) };
  return { status: 200, headers, body: head ? null : await file.open() };
}

/** The Range to honour; an If-Range that no longer matches means "send it all" (RFC 9110 §13.1.5). */
function rangeOf(req: CoreRequest, file: FileToSend, maxRangeBytes: number): ReturnType<typeof parseRange> {
  const ifRange = req.headers.get('if-range');
  if (ifRange !== null && (file.etag === null || ifRange.trim() !== file.etag)) return { kind: 'none' };
  return parseRange(req.headers.get('range'), file.size, maxRangeBytes);
}

/** Whether If-None-Match names this entity tag (weak comparison, `*` matches). */
export function etagMatches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  const strip = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || strip(tag) === strip(etag));
}
