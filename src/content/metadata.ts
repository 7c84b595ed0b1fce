/** Keys that only attache (or Rails) may set in a blob's metadata. */
const RESERVED = new Set(['identified', 'analyzed', 'composed', 'encryption', '__proto__', 'constructor', 'prototype']);

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * Client-supplied metadata with internal flags and prototype keys removed, and only JSON values kept.
 * The result is a fresh plain object: no prototype pollution whatever the input.
 */
export function sanitizeMetadata(input: unknown): Record<string, Json> {
  const result: Record<string, Json> = {};
  if (!isPlainObject(input)) return result;
  for (const key of Object.keys(input)) {
    if (RESERVED.has(key)) continue;
    const value = clean((input as Record<string, unknown>)[key], 0);
    if (value !== undefined) Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return result;
}

function clean(value: unknown, depth: number): Json | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (depth >= 4) return undefined;
  if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1)).filter((v): v is Json => v !== undefined);
  if (isPlainObject(value)) {
    const out: Record<string, Json> = {};
    for (const key of Object.keys(value)) {
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
      const v = clean((value as Record<string, unknown>)[key], depth + 1);
      if (v !== undefined) Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
