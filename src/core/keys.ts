import { randomBytes } from 'node:crypto';
import { InvalidKeyError } from './errors.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const KEY_LENGTH = 28;

/** A fresh blob key: 28 characters of [a-z0-9] from crypto randomness, as Rails' SecureRandom.base36(28). */
export function generateKey(): string {
  let key = '';
  while (key.length < KEY_LENGTH) {
    for (const byte of randomBytes(KEY_LENGTH * 2)) {
      // 252 = 7 * 36: rejection sampling keeps every character equally likely.
      if (byte < 252 && key.length < KEY_LENGTH) key += ALPHABET[byte % 36];
    }
  }
  return key;
}

const MAX_KEY_LENGTH = 1024;
// Control characters, backslash and the bidi overrides never belong in a key.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\\\u202a-\u202e\u2066-\u2069]/;

/**
 * Invariant: every key (or prefix) a service touches passes here first.
 * Keys are relative, '/'-separated, with no empty, '.' or '..' segments.
 * A prefix may end in '/' or in a partial segment. Throws InvalidKeyError.
 */
export function assertValidKey(key: unknown, kind: 'key' | 'prefix' = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError(`The ${kind} is empty.`);
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(`The ${kind} is longer than ${MAX_KEY_LENGTH} characters.`);
  if (!key.isWellFormed()) throw new InvalidKeyError(`The ${kind} is not valid UTF-8.`);
  if (FORBIDDEN.test(key)) throw new InvalidKeyError(`The ${kind} contains a forbidden character.`);
  if (key.startsWith('/')) throw new InvalidKeyError(`The ${kind} must be relative.`);
  const segments = key.split('/');
  if (kind === 'prefix' && segments.at(-1) === '') segments.pop();
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new InvalidKeyError(`The ${kind} has an empty, "." or ".." segment.`);
    }
  }
}
