import path from 'node:path';
import { parseMediaType } from '../content/content-type.ts';

/** The output formats a variant may be written in (Rails' `format:`; `jpg`/`jpe`/`tif` are aliases). */
export const OUTPUT_FORMATS = ['png', 'jpeg', 'jpg', 'jpe', 'webp', 'avif', 'gif', 'tiff', 'tif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What sharp writes for each accepted format name, and the content type stored with it. */
const ENCODERS: Record<string, { sharp: 'png' | 'jpeg' | 'webp' | 'avif' | 'gif' | 'tiff'; contentType: string }> = {
  png: { sharp: 'png', contentType: 'image/png' },
  jpeg: { sharp: 'jpeg', contentType: 'image/jpeg' },
  jpg: { sharp: 'jpeg', contentType: 'image/jpeg' },
  jpe: { sharp: 'jpeg', contentType: 'image/jpeg' },
  jif: { sharp: 'jpeg', contentType: 'image/jpeg' },
  jfif: { sharp: 'jpeg', contentType: 'image/jpeg' },
  jfi: { sharp: 'jpeg', contentType: 'image/jpeg' },
  webp: { sharp: 'webp', contentType: 'image/webp' },
  avif: { sharp: 'avif', contentType: 'image/avif' },
  gif: { sharp: 'gif', contentType: 'image/gif' },
  tiff: { sharp: 'tiff', contentType: 'image/tiff' },
  tif: { sharp: 'tiff', contentType: 'image/tiff' },
};

/** The encoder for a format name (any case), or undefined when attache cannot write it. */
export function encoderFor(format: string): (typeof ENCODERS)[string] | undefined {
  return Object.hasOwn(ENCODERS, format.toLowerCase()) ? ENCODERS[format.toLowerCase()] : undefined;
}

/**
 * Content types attache makes variants of: what sharp's prebuilt libvips decodes with the loaders
 * attache leaves unblocked (Rails' variable_content_types minus BMP, PSD and ICO, plus AVIF).
 */
export const VARIABLE_CONTENT_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/gif', 'image/jpg', 'image/jpeg', 'image/pjpeg', 'image/tiff', 'image/webp', 'image/avif']);

/** Whether attache can make variants of a blob of this content type. */
export function isVariable(contentType: string | null): boolean {
  const type = parseMediaType(contentType);
  return type !== null && VARIABLE_CONTENT_TYPES.has(type);
}

/** The Rails release whose extension tables decide a variant's default format (MiniMime in 6.1, Marcel from 7.0). */
export type RailsTables = '6.1' | '7.1';

/** How the default format enters the Rails transformations hash: a String (from a file extension) or the Symbol `:png`. */
export interface FormatChoice {
  value: string;
  ruby: 'string' | 'binary-string' | 'symbol';
}

/** Rails' defaults: web_image_content_types of a Rails 6.1 app. */
export const RAILS_WEB_IMAGE_CONTENT_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/jpg', 'image/gif'];

const EXTENSION_TYPES: Record<RailsTables, Record<string, string>> = {
  '6.1': { png: 'image/png', gif: 'image/gif', jpe: 'image/jpeg', jpeg: 'image/jpeg', jpg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', tif: 'image/tiff', tiff: 'image/tiff' },
  '7.1': { png: 'image/png', gif: 'image/gif', jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg', jif: 'image/jpeg', jfif: 'image/jpeg', jfi: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', tif: 'image/tiff', tiff: 'image/tiff' },
};
const TYPE_EXTENSIONS: Record<RailsTables, Record<string, string>> = {
  '6.1': { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp', 'image/avif': 'avif', 'image/tiff': 'tiff' },
  '7.1': { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp', 'image/avif': 'avif', 'image/tiff': 'tiff' },
};

/**
 * Rails' `Blob#default_variant_format`: a web image keeps its format, named as its filename's
 * extension (case kept) when that extension means its content type, else as the type's first
 * extension; everything else becomes `:png`. The exact value matters: it is part of the
 * variation digest a Rails app looks variants up by.
 */
export function defaultVariantFormat(blob: { filename: string; contentType: string | null }, tables: RailsTables, webImageTypes: readonly string[]): FormatChoice {
  const type = parseMediaType(blob.contentType);
  if (type === null || !webImageTypes.includes(type)) return { value: 'png', ruby: 'symbol' };
  const extension = path.extname(blob.filename).slice(1);
  if (extension !== '' && lookup(EXTENSION_TYPES[tables], extension.toLowerCase()) === type) return { value: extension, ruby: 'string' };
  const named = lookup(TYPE_EXTENSIONS[tables], type);
  // Marcel's tables are binary Strings; MiniMime's are UTF-8.
  if (named !== undefined) return { value: named, ruby: tables === '7.1' ? 'binary-string' : 'string' };
  return { value: 'png', ruby: 'symbol' };
}

function lookup(table: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
