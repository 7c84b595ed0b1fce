import { fileTypeFromBuffer } from 'file-type';
import mime from 'mime-types';

/** How many leading bytes content-type sniffing looks at. */
export const SNIFF_BYTES = 4100;

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Strictly parses a media type and returns its lower-case essence (`type/subtype`), or null.
 * Parameters after `;` are dropped; anything that is not a single RFC 9110 media type is null:
 * `image/png, text/html`, `image/png\r\nX-Evil: 1`, `image`, ``.
 */
export function parseMediaType(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  if (/[\u0000-\u0008\u000a-\u001f\u007f,]/.test(value)) return null;
  const essence = (value.split(';', 1)[0] ?? '').trim().toLowerCase();
  const [type, subtype, ...rest] = essence.split('/');
  if (rest.length > 0 || !type || !subtype || !TOKEN.test(type) || !TOKEN.test(subtype)) return null;
  return `${type}/${subtype}`;
}

const MARKUP: ReadonlyArray<[RegExp, string]> = [
  [/^<svg[\s>]/, 'image/svg+xml'],
  [/^<\?xml[^>]*>\s*(<!--[\s\S]*?-->\s*)*(<!doctype svg[^>]*>\s*)?<svg[\s>]/, 'image/svg+xml'],
  [/^<!doctype svg/, 'image/svg+xml'],
  [/^<(!doctype html|html|head|body|script|iframe|title|style|h1|div|table|a|p|br|b|font)[\s>]/, 'text/html'],
  [/^<!--/, 'text/html'],
  [/^<\?xml/, 'application/xml'],
];

/** Text markup a browser could execute. file-type only knows binary formats, so this covers the rest. */
function sniffMarkup(head: Uint8Array): string | null {
  const text = Buffer.from(head.subarray(0, 1024)).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  for (const [pattern, type] of MARKUP) if (pattern.test(text)) return type;
  return null;
}

/** Types whose bytes have a signature: a declared one is only believed when the bytes confirm it. */
function needsSignature(type: string): boolean {
  return /^(image|audio|video|font)\//.test(type) || type === 'application/pdf' || type === 'application/zip';
}

export interface ContentTypeInput {
  /** The first bytes of the file (up to SNIFF_BYTES). */
  head: Uint8Array;
  declared?: string | null;
  filename?: string | null;
  /** `identify: false`: take a well-formed declared type as is, except that markup is still caught. */
  trustDeclared?: boolean;
}

/**
 * Invariant: the stored content type is decided here and nowhere else.
 * The bytes win: a binary signature, then executable markup (HTML, SVG, XML), then the
 * declared type (never an image/media type the bytes do not confirm), then the extension.
 */
export async function identifyContentType({ head, declared, filename, trustDeclared }: ContentTypeInput): Promise<string> {
  const markup = sniffMarkup(head);
  if (markup) return markup;
  const parsed = parseMediaType(declared);
  if (trustDeclared && parsed) return parsed;
  const sniffed = head.length > 0 ? await fileTypeFromBuffer(head) : undefined;
  if (sniffed) return sniffed.mime;
  const byName = filename ? mime.lookup(filename) : false;
  const candidates = [parsed, byName === false ? null : byName];
  for (const type of candidates) if (type && !needsSignature(type)) return type;
  return 'application/octet-stream';
}
