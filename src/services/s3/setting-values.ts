import { ConfigurationError } from '../../core/errors.ts';

/** A service's settings as storage.yml gave them (after interpolation). */
export type Settings = Record<string, unknown>;

// Readers of one setting. Each throws ConfigurationError naming the setting (`key`, or `upload.<key>`), never its value.

/** A non-empty string, or undefined when unset or empty. */
export function text(name: string, settings: Settings, key: string, shown = key): string | undefined {
  const value = settings[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw ConfigurationError.invalidSetting(name, shown, 'a string');
  return value;
}

/** true/false, also as the strings "true"/"false" (env interpolation yields strings). */
export function flag(name: string, settings: Settings, key: string, shown = key): boolean | undefined {
  const value = settings[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw ConfigurationError.invalidSetting(name, shown, 'true or false');
}

/** A whole number ≥ min, as a number or a string of digits. */
export function integer(name: string, settings: Settings, key: string, min: number, unit = 'bytes', shown = key): number | undefined {
  const value = settings[key];
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (!Number.isSafeInteger(number) || (number as number) < min) throw ConfigurationError.invalidSetting(name, shown, `a whole number of ${unit}, at least ${min}`);
  return number as number;
}

/** Seconds > 0 (fractions allowed, as in aws-sdk-ruby), returned in milliseconds. */
export function seconds(name: string, settings: Settings, key: string): number | undefined {
  const value = settings[key];
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) : value;
  // 0 would mean "no timeout" to the SDK: the hang this setting exists to prevent.
  if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0 || number > 3600) {
    throw ConfigurationError.invalidSetting(name, key, 'a number of seconds greater than 0 and at most 3600');
  }
  return Math.ceil(number * 1000);
}

/** A mapping of names to strings. */
export function stringMap(name: string, settings: Settings, key: string): Record<string, string> | undefined {
  const value = settings[key];
  if (value === undefined || value === null) return undefined;
  const valid = typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
  if (!valid) throw ConfigurationError.invalidSetting(name, key, 'a mapping of names to strings');
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

/** A mapping (Rails' `upload:`), its values left for the caller to read. */
export function mapping(name: string, settings: Settings, key: string): Settings | undefined {
  const value = settings[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw ConfigurationError.invalidSetting(name, key, 'a mapping of upload options');
  return value as Settings;
}

/** One of `allowed` (case-insensitive; a Ruby symbol's leading colon is dropped), lower-cased. */
export function choice<T extends string>(name: string, settings: Settings, key: string, allowed: readonly T[]): T | undefined {
  const raw = text(name, settings, key);
  if (raw === undefined) return undefined;
  const value = raw.replace(/^:/, '').toLowerCase();
  if (!(allowed as readonly string[]).includes(value)) throw ConfigurationError.invalidSetting(name, key, `one of ${allowed.join(', ')}`);
  return value as T;
}
