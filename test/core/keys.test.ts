import { describe, expect, it } from 'vitest';
import { InvalidKeyError } from '../../src/core/errors.ts';
import { assertValidKey, generateKey } from '../../src/core/keys.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

describe('generateKey', () => {
  it('gives 28 characters of [a-z0-9]', () => {
    for (let i = 0; i < 100; i++) expect(generateKey()).toMatch(/^[a-z0-9]{28}$/);
  });

  it('never repeats over 10,000 keys', () => {
    const keys = new Set(Array.from({ length: 10_000 }, () => generateKey()));
    expect(keys.size).toBe(10_000);
  });

  it('uses every one of the 36 characters, roughly uniformly', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) for (const c of generateKey()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe([...ALPHABET].sort().join(''));
    // 280,000 characters: about 7,778 each, standard deviation about 87, so ±10% is ~9 sigma
    // (no flakes), yet a plain `byte % 36` without rejection puts 'a'..'d' about 12.5% high.
    const expected = 280_000 / 36;
    for (const [c, n] of counts) {
      expect(n, `character ${c}`).toBeGreaterThan(expected * 0.9);
      expect(n, `character ${c}`).toBeLessThan(expected * 1.1);
    }
  });
});

describe('assertValidKey', () => {
  it.each([
    ['a generated key', generateKey()],
    ['a variant key', `variants/${generateKey()}/${'f'.repeat(64)}`],
    ['a nested path', 'a/b/c.txt'],
    ['dots inside a segment', 'a..b/.hidden/x.'],
    ['non-ASCII', 'fichiers/été.png'],
    ['exactly 1,024 characters', 'k'.repeat(1024)],
  ])('accepts %s', (_label, key) => {
    expect(() => assertValidKey(key)).not.toThrow();
  });

  it.each([
    ['a traversal', '../../etc/passwd'],
    ['a traversal after a segment', 'a/../../x'],
    ['an absolute path', '/etc/passwd'],
    ['a lone dot', '.'],
    ['a lone dot-dot', '..'],
    ['a dot segment', 'a/./b'],
    ['an empty segment', 'a//b'],
    ['a trailing slash (key mode)', 'a/'],
    ['an empty key', ''],
    ['a NUL byte', 'a\u0000b'],
    ['a newline', 'a\nb'],
    ['a lone high surrogate', 'a\uD800b'],
    ['a lone low surrogate', 'a\uDC00'],
    ['backslash traversal', '..\\..\\x'],
    ['a backslash', 'a\\b'],
    ['a bidi override', 'a\u202Egnp.exe'],
    ['too long (1,025 characters)', 'k'.repeat(1025)],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { toString: () => 'abc' }],
    ['a String object', new String('abc')],
  ])('rejects %s with InvalidKeyError', (_label, key) => {
    expect(() => assertValidKey(key)).toThrow(InvalidKeyError);
  });

  it.each([
    ['a directory prefix with a trailing slash', 'variants/abc/'],
    ['a partial segment', 'variants/ab'],
    ['a single segment with a trailing slash', 'abc/'],
  ])('prefix mode accepts %s', (_label, prefix) => {
    expect(() => assertValidKey(prefix, 'prefix')).not.toThrow();
  });

  it('accepts a trailing slash only in prefix mode', () => {
    expect(() => assertValidKey('variants/abc/')).toThrow(InvalidKeyError);
  });

  it.each([
    ['a lone slash', '/'],
    ['an empty prefix', ''],
    ['a traversal ending in a slash', '../'],
    ['a dot segment ending in a slash', 'a/./'],
    ['a double trailing slash', 'a//'],
    ['a NUL', 'a\u0000/'],
  ])('prefix mode rejects %s', (_label, prefix) => {
    expect(() => assertValidKey(prefix, 'prefix')).toThrow(InvalidKeyError);
  });
});
