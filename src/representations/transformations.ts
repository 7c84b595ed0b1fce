import { ArgumentError } from '../core/errors.ts';
import { OUTPUT_FORMATS, type OutputFormat } from './formats.ts';
import { RubySymbol, type RubyHash, type RubyValue } from './marshal.ts';

/** `[width, height]` in pixels. */
export type Size = readonly [width: number, height: number];
/** Which part of the image resizeToFill keeps: the centre (default), or libvips' attention/entropy crops. */
export type FillCrop = 'centre' | 'attention' | 'entropy';

/**
 * The transformations a variant may ask for: Rails' names in camelCase, applied in the order given
 * (as image_processing applies them). Nothing outside this list reaches the image processor.
 */
export interface Transformations {
  /** Shrink to fit inside width × height, keeping the aspect ratio; never enlarges. */
  resizeToLimit?: Size;
  /** Fit inside width × height, keeping the aspect ratio; enlarges smaller images. */
  resizeToFit?: Size;
  /** Cover exactly width × height, cutting the overflow off. */
  resizeToFill?: Size | readonly [width: number, height: number, options: { crop?: FillCrop }];
  /** Fit inside width × height, then pad to exactly that size with `background` (RGB or RGBA, default transparent). */
  resizeAndPad?: Size | readonly [width: number, height: number, options: { background?: readonly number[] }];
  /** Cut out `[left, top, width, height]` in pixels. */
  crop?: readonly [left: number, top: number, width: number, height: number];
  /** Rotate clockwise by a multiple of 90 degrees. */
  rotate?: number;
  /** The output format; by default a web image keeps its format and everything else becomes PNG (Rails' rule). */
  format?: OutputFormat;
  /** Encoder quality, 1 to 100 (JPEG, WebP, AVIF, TIFF; PNG and GIF ignore it). */
  quality?: number;
  /** Accepted for Rails parity: attache always strips EXIF and XMP (GPS positions); `false` keeps the ICC profile. */
  strip?: boolean;
  /** image_processing's vips spelling of the encoder options: `saver: { quality, strip }`. */
  saver?: { quality?: number; strip?: boolean };
}

/** A named variant of an attachment: its transformations, and whether it is made after attach. */
export interface NamedVariant extends Transformations {
  /** Make this variant through the job queue right after an attach (default: on first use). */
  preprocessed?: boolean;
}

/** Largest width or height a variant may ask for (larger is an ArgumentError). */
export const MAX_DIMENSION = 10_000;

type Check = (value: unknown, where: string) => unknown;

const ALLOWED: Record<keyof Transformations, Check> = {
  resizeToLimit: (v, w) => size(v, w),
  resizeToFit: (v, w) => size(v, w),
  resizeToFill: (v, w) => sizeWithOptions(v, w, { crop: (c, cw) => oneOf(c, cw, ['centre', 'attention', 'entropy']) }),
  resizeAndPad: (v, w) => sizeWithOptions(v, w, { background: background }),
  crop: (v, w) => region(v, w),
  rotate: (v, w) => {
    if (!Number.isInteger(v) || (v as number) % 90 !== 0 || Math.abs(v as number) > 360) throw invalid(w, 'a multiple of 90 from -360 to 360');
    return v;
  },
  format: (v, w) => oneOf(v, w, OUTPUT_FORMATS),
  quality: (v, w) => integer(v, w, 1, 100),
  strip: (v, w) => boolean(v, w),
  saver: (v, w) => options(v, w, { quality: (q, qw) => integer(q, qw, 1, 100), strip: boolean }),
};

/** The allowed transformation names, for error messages and docs. */
export const TRANSFORMATION_NAMES: readonly string[] = Object.keys(ALLOWED);

/**
 * Checks a transformations object against the allowlist and the argument types and ranges, and
 * returns a frozen copy in the same order. Throws ArgumentError naming `where` and the problem:
 * user options never reach the image processor unchecked (Rails' CVE-2025-24293).
 */
export function validateTransformations(input: unknown, where: string): Transformations {
  if (!isPlainObject(input)) throw new ArgumentError(`${where}: transformations must be a plain object such as { resizeToLimit: [100, 100] }.`);
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(ALLOWED, key)) {
      throw new ArgumentError(`${where}: "${key}" is not an allowed transformation. Allowed: ${TRANSFORMATION_NAMES.join(', ')}.`);
    }
    result[key] = ALLOWED[key as keyof Transformations]((input as Record<string, unknown>)[key], `${where}: ${key}`);
  }
  return deepFreeze(result) as Transformations;
}

/** Checks a named variant (its transformations plus `preprocessed`). Throws ArgumentError. */
export function validateNamedVariant(input: unknown, where: string): { transformations: Transformations; preprocessed: boolean } {
  if (!isPlainObject(input)) throw new ArgumentError(`${where}: a named variant must be an object such as { resizeToLimit: [100, 100] }.`);
  const { preprocessed = false, ...rest } = input as Record<string, unknown>;
  if (typeof preprocessed !== 'boolean') throw invalid(`${where}: preprocessed`, 'true or false');
  return { transformations: validateTransformations(rest, where), preprocessed };
}

/**
 * The Rails form of validated transformations: snake_case Symbol keys, in the same order, with
 * `format` as a Symbol (`format: :webp`, as Rails apps write it) and crop gravities as Symbols.
 */
export function rubyTransformations(transformations: Transformations): RubyHash {
  const result: Record<string, RubyValue> = {};
  for (const [key, value] of Object.entries(transformations) as Array<[string, unknown]>) {
    result[snakeCase(key)] = rubyValue(key, value);
  }
  return result;
}

function rubyValue(key: string, value: unknown): RubyValue {
  if (key === 'format' && typeof value === 'string') return new RubySymbol(value);
  if (Array.isArray(value)) return value.map((item) => rubyValue(key, item));
  if (isPlainObject(value)) {
    const hash: Record<string, RubyValue> = {};
    for (const [k, v] of Object.entries(value)) hash[snakeCase(k)] = k === 'crop' && typeof v === 'string' ? new RubySymbol(v) : rubyValue(k, v);
    return hash;
  }
  return value as RubyValue;
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function size(value: unknown, where: string): Size {
  if (!Array.isArray(value) || value.length !== 2) throw invalid(where, '[width, height]');
  return [dimension(value[0], where), dimension(value[1], where)];
}

function sizeWithOptions(value: unknown, where: string, allowed: Record<string, Check>): unknown[] {
  if (!Array.isArray(value) || (value.length !== 2 && value.length !== 3)) throw invalid(where, '[width, height] or [width, height, options]');
  const [width, height] = size(value.slice(0, 2), where);
  return value.length === 3 ? [width, height, options(value[2], where, allowed)] : [width, height];
}

function region(value: unknown, where: string): readonly [number, number, number, number] {
  if (!Array.isArray(value) || value.length !== 4) throw invalid(where, '[left, top, width, height]');
  return [integer(value[0], where, 0, 100_000), integer(value[1], where, 0, 100_000), dimension(value[2], where), dimension(value[3], where)];
}

function options(value: unknown, where: string, allowed: Record<string, Check>): Record<string, unknown> {
  if (!isPlainObject(value)) throw invalid(where, `an options object with ${Object.keys(allowed).join(', ')}`);
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(allowed, key)) throw new ArgumentError(`${where}: "${key}" is not an allowed option. Allowed: ${Object.keys(allowed).join(', ')}.`);
    result[key] = allowed[key]!((value as Record<string, unknown>)[key], `${where}.${key}`);
  }
  return result;
}

function background(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || (value.length !== 3 && value.length !== 4)) throw invalid(where, '[red, green, blue] or [red, green, blue, alpha], each 0 to 255');
  return value.map((channel) => integer(channel, where, 0, 255));
}

function dimension(value: unknown, where: string): number {
  return integer(value, where, 1, MAX_DIMENSION);
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw invalid(where, `whole numbers from ${min} to ${max}`);
  return value;
}

function boolean(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') throw invalid(where, 'true or false');
  return value;
}

function oneOf<T extends string>(value: unknown, where: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw invalid(where, `one of ${allowed.join(', ')}`);
  return value as T;
}

function invalid(where: string, expected: string): ArgumentError {
  return new ArgumentError(`${where} must be ${expected}.`);
}

function isPlainObject(value: unknown): value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
