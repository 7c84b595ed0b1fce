/** Largest number of bytes one range request is answered with, by default (16 MiB). */
export const DEFAULT_MAX_RANGE_BYTES = 16 * 1024 * 1024;

/** What a Range header asks of a representation of `size` bytes. */
export type RangeRequest =
  /** No usable Range (absent, or another unit): send the whole file. */
  | { kind: 'none' }
  /** Send bytes `start` to `end` inclusive with 206. */
  | { kind: 'partial'; start: number; end: number }
  /** Answer 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=(\d*)-(\d*)$/i;

/**
 * Invariant: every Range header attache answers is interpreted here.
 * Only a single byte range is served, and never more than `maxBytes` of it: a multi-range, a
 * malformed, an inverted, a past-EOF or an explicit over-cap range is unsatisfiable (416). An
 * open-ended `bytes=a-` is answered with at most `maxBytes` from `a` (the Content-Range says where
 * it ends, as media players expect), so no range request ever reads more than the cap.
 */
export function parseRange(header: string | null | undefined, size: number, maxBytes: number = DEFAULT_MAX_RANGE_BYTES): RangeRequest {
  if (header === null || header === undefined) return { kind: 'none' };
  const value = header.trim();
  // RFC 9110 §14.2: a range unit the server does not understand is ignored.
  if (!/^bytes\s*=/i.test(value)) return { kind: 'none' };
  const match = SINGLE.exec(value.replace(/\s+/g, ''));
  if (!match) return { kind: 'unsatisfiable' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'unsatisfiable' };
  if (first === '') return suffix(Number(last), size, maxBytes);
  const start = Number(first);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (last === '') return { kind: 'partial', start, end: Math.min(size - 1, start + maxBytes - 1) };
  // A last-pos past the end (however many digits) means "to the end"; Math.min clamps it.
  const requestedEnd = Number(last);
  if (requestedEnd < start) return { kind: 'unsatisfiable' };
  const end = Math.min(size - 1, requestedEnd);
  return end - start + 1 > maxBytes ? { kind: 'unsatisfiable' } : { kind: 'partial', start, end };
}

/** `bytes=-n`: the last n bytes (all of a shorter file); `-0` is unsatisfiable. */
function suffix(length: number, size: number, maxBytes: number): RangeRequest {
  if (!Number.isSafeInteger(length) || length === 0 || size === 0) return { kind: 'unsatisfiable' };
  const count = Math.min(length, size);
  return count > maxBytes ? { kind: 'unsatisfiable' } : { kind: 'partial', start: size - count, end: size - 1 };
}

/** The Content-Range of a 206 answer. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** The Content-Range of a 416 answer. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
