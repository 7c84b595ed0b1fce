import { describe, expect, it } from 'vitest';
import { sanitizeMetadata } from '../../src/content/metadata.ts';

/** How deeply nested a JSON value is (a scalar is 0). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

function nested(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = { next: value };
  return value;
}

describe('sanitizeMetadata (checklist 20)', () => {
  it('keeps normal JSON keys and values', () => {
    const input = { width: 640, height: 480.5, title: 'x', ok: true, none: null, tags: ['a', 1, false], exif: { iso: 100, lens: { mm: 35 } } };
    expect(sanitizeMetadata(input)).toEqual(input);
  });

  it.each([
    ['analyzed'],
    ['identified'],
    ['composed'],
    ['encryption'],
    ['__proto__'],
    ['constructor'],
    ['prototype'],
  ])('strips the reserved top-level key %s', (key) => {
    const input = JSON.parse(`{"${key}": {"polluted": 1}, "kept": 1}`) as unknown;
    const result = sanitizeMetadata(input);
    expect(Object.keys(result)).toEqual(['kept']);
    expect(Object.hasOwn(result, key)).toBe(false);
  });

  it.each([
    ['analyzed', true],
    ['identified', true],
    ['composed', true],
    ['encryption', { algorithm: 'aws:kms', keyId: 'x' }],
  ])('strips %s whatever its value', (key, value) => {
    expect(sanitizeMetadata({ [key]: value, a: 1 })).toEqual({ a: 1 });
  });

  it('does not pollute Object.prototype through a JSON __proto__ key', () => {
    const input = JSON.parse('{"__proto__": {"polluted": 1}, "a": {"__proto__": {"polluted": 2}}, "b": [{"__proto__": {"polluted": 3}}]}') as unknown;
    const result = sanitizeMetadata(input);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(result).not.toHaveProperty('polluted');
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(result).toEqual({ a: {}, b: [{}] });
    expect(Object.getPrototypeOf(result.a)).toBe(Object.prototype);
    expect((result.a as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('drops nested __proto__, constructor and prototype keys', () => {
    const input = JSON.parse('{"a": {"constructor": {"prototype": {"polluted": 1}}, "prototype": 1, "__proto__": 2, "x": 1}}') as unknown;
    const result = sanitizeMetadata(input);
    expect(result).toEqual({ a: { x: 1 } });
    expect(Object.keys(result.a as object)).toEqual(['x']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps a key named like an internal flag when it is nested', () => {
    // Only top-level flags are read by attache; nested ones are plain client data.
    expect(sanitizeMetadata({ exif: { analyzed: 'yes' } })).toEqual({ exif: { analyzed: 'yes' } });
  });

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['undefined', undefined],
    ['a bigint', 10n],
    ['a Date', new Date(0)],
    ['a Map', new Map([['a', 1]])],
    ['a RegExp', /x/],
    ['a Buffer', Buffer.from('x')],
    ['a class instance', new (class Point { x = 1; })()],
    ['an object with a custom prototype', Object.create({ inherited: 1 }) as object],
    ['a boxed string', new String('x')],
  ])('drops %s at the top level, nested and in arrays', (_label, value) => {
    const result = sanitizeMetadata({ bad: value, nested: { bad: value, ok: 1 }, list: [value, 2], ok: 'yes' });
    expect(result).toEqual({ nested: { ok: 1 }, list: [2], ok: 'yes' });
    expect(Object.hasOwn(result, 'bad')).toBe(false);
  });

  it('accepts a null-prototype object and returns one with Object.prototype', () => {
    const input = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: Object.assign(Object.create(null) as object, { c: 2 }) });
    const result = sanitizeMetadata(input);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(result.b)).toBe(Object.prototype);
    expect(JSON.stringify(result)).toBe('{"a":1,"b":{"c":2}}');
  });

  it('gives an empty plain object for input that is not a plain object', () => {
    for (const input of [null, undefined, 'x', 1, [{ a: 1 }], new Date(), new (class M { a = 1; })()]) {
      const result = sanitizeMetadata(input);
      expect(result).toEqual({});
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    }
  });

  it('limits nesting depth', () => {
    const shallow = nested(4);
    expect(sanitizeMetadata({ v: shallow })).toEqual({ v: shallow });
    const result = sanitizeMetadata({ v: nested(1000) });
    expect(depthOf(result)).toBeLessThanOrEqual(6);
    expect(JSON.stringify(result)).not.toContain('leaf');
  });

  it('limits array nesting depth', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 1000; i++) deep = [deep];
    expect(depthOf(sanitizeMetadata({ v: deep }))).toBeLessThanOrEqual(6);
  });

  it('returns an object that JSON.stringify and spread treat normally', () => {
    const result = sanitizeMetadata({ a: 1, b: 'two' });
    expect(JSON.stringify(result)).toBe('{"a":1,"b":"two"}');
    expect({ ...result, identified: true }).toEqual({ a: 1, b: 'two', identified: true });
    expect(result.hasOwnProperty('a')).toBe(true);
    expect(Object.keys(result)).toEqual(['a', 'b']);
  });

  it('does not call getters on a non-plain value', () => {
    let called = false;
    class Sneaky {
      get value(): number {
        called = true;
        return 1;
      }
    }
    sanitizeMetadata({ s: new Sneaky() });
    expect(called).toBe(false);
  });

  it('copies values so later changes to the input do not leak through', () => {
    const input = { exif: { iso: 100 }, tags: ['a'] };
    const result = sanitizeMetadata(input);
    input.exif.iso = 200;
    input.tags.push('b');
    expect(result).toEqual({ exif: { iso: 100 }, tags: ['a'] });
  });
});
