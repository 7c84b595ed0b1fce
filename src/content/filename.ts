import path from 'node:path';

const MAX_BYTES = 255;
// Rails' ActiveStorage::Filename#sanitized replaces these; we add controls and bidi overrides.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069%$|:;/<>?*"\\]/g;

/**
 * A filename safe to store and to put in a header: no path, no control or bidi characters,
 * at most 255 UTF-8 bytes with the extension kept. Never used to build a key or a path.
 */
export function sanitizeFilename(name: unknown): string {
  const raw = typeof name === 'string' && name.isWellFormed() ? name : typeof name === 'string' ? name.toWellFormed() : '';
  const base = raw.split(/[/\\]/).pop() ?? '';
  let clean = base.replace(UNSAFE, '-').trim().replace(/^\.+/, '');
  if (clean === '' || /^-+$/.test(clean)) clean = 'file';
  return truncateUtf8(clean, MAX_BYTES);
}

// Works in code points (never half a surrogate pair) and in one pass (a huge name costs linear time).
function truncateUtf8(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const chars = Array.from(name);
  const ext = Array.from(path.extname(name)).slice(0, 16);
  let budget = maxBytes - Buffer.byteLength(ext.join(''));
  let stem = '';
  for (const char of chars.slice(0, chars.length - ext.length)) {
    budget -= Buffer.byteLength(char);
    if (budget < 0) break;
    stem += char;
  }
  return stem + ext.join('');
}

/** The file's extension without the dot, lower-case ('' when none). */
export function extensionOf(filename: string): string {
  return path.extname(filename).slice(1).toLowerCase();
}
