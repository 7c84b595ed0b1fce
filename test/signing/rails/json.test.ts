import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../../src/core/errors.ts';
import { decodeRailsJson, encodeRailsJson } from '../../../src/signing/rails/json.ts';
import { RubyHash, RubyString, RubySymbol, type RubyValue } from '../../../src/signing/rails/values.ts';
import { fuzz, refusal } from './fuzz.ts';
import { rubyEach, rubyStatus } from './ruby.ts';

const sym = (name: string) => new RubySymbol(name);

/** Ruby literal → the value; ActiveSupport::JSON.encode of each must equal encodeRailsJson's. */
const CASES: ReadonlyArray<readonly [string, RubyValue]> = [
  ['nil', null], ['true', true], ['42', 42], ['-7', -7], ['2**70', 2n ** 70n], ['""', ''],
  ['"a<b>&c"', 'a<b>&c'], ['"\\u2028\\u2029"', '\u2028\u2029'], ['"\\"\\\\/"', '"\\/'],
  ['"\\u0000\\b\\f\\n\\r\\t\\u001f\\u007f"', '\u0000\b\f\n\r\t\u001f\u007f'], ['"é😀€"', 'é😀€'],
  [':local', sym('local')], ['"abc".force_encoding("US-ASCII")', RubyString.usAscii('abc')],
  ['[1, "two", nil, [:three]]', [1, 'two', null, [sym('three')]]],
  ['{_rails: {data: 42, exp: "2099-01-01T00:00:00.000Z", pur: "blob_id"}}',
    RubyHash.withSymbolKeys({ _rails: RubyHash.withSymbolKeys({ data: 42, exp: '2099-01-01T00:00:00.000Z', pur: 'blob_id' }) })],
  ['{key: "k", disposition: "inline; filename=\\"a&b.png\\"", content_type: nil, service_name: :local}',
    RubyHash.withSymbolKeys({ key: 'k', disposition: 'inline; filename="a&b.png"', content_type: null, service_name: sym('local') })],
  ['{"s" => 1, 2 => 3, nil => 4, true => 5}', new RubyHash([['s', 1], [2, 3], [null, 4], [true, 5]])],
];

const ruby = rubyStatus();
if (!ruby.activeStorage) console.warn(`[attache] skipping the JSON comparison with ActiveSupport: ${ruby.reason}`);

describe.skipIf(!ruby.activeStorage)('encodeRailsJson equals ActiveSupport::JSON.encode', () => {
  const fromRuby = ruby.activeStorage ? rubyEach(CASES.map(([literal]) => `ActiveSupport::JSON.encode(${literal})`), 'require "active_support"; require "active_support/json"') : [];
  it.each(CASES.map(([literal, value], i) => [literal, value, i] as const))('%s', (_literal, value, i) => {
    expect(encodeRailsJson(value)).toBe(fromRuby[i]!.toString('utf8'));
  });
});

describe('decodeRailsJson', () => {
  it('reads what encodeRailsJson writes, Symbols and Symbol keys as Strings', () => {
    const value = RubyHash.withSymbolKeys({ a: [1, 2n ** 64n, 'x<y', sym('s')], b: null });
    expect(decodeRailsJson(encodeRailsJson(value))).toEqual(new RubyHash([['a', [1, 2n ** 64n, 'x<y', 's']], ['b', null]]));
  });

  it('keeps integers past 2^53 exact', () => {
    expect(decodeRailsJson('[9007199254740993, -9223372036854775808]')).toEqual([2n ** 53n + 1n, -(2n ** 63n)]);
  });

  it('reads escapes, surrogate pairs and whitespace', () => {
    expect(decodeRailsJson(' { "a" : [ "\\u00e9\\ud83d\\ude00\\n\\/" ] } ')).toEqual(new RubyHash([['a', ['é😀\n/']]]));
  });

  it.each([
    ['a float', '1.5'], ['an exponent', '1e3'], ['a leading zero', '01'], ['a bare minus', '-'],
    ['an unterminated string', '"abc'], ['a raw newline in a string', '"a\nb"'], ['a lone surrogate', '"\\ud800"'],
    ['a bad escape', '"\\x41"'], ['a short \\u escape', '"\\u12"'], ['trailing text', '1 2'], ['a trailing comma', '[1,]'],
    ['a missing colon', '{"a" 1}'], ['a non-string key', '{1:2}'], ['an unclosed object', '{"a":1'], ['nothing', ''],
    ['NaN', 'NaN'], ['a comment', '/* x */ 1'], ['34 levels of nesting', '['.repeat(34) + ']'.repeat(34)],
    ['100,000 levels of nesting', '['.repeat(100_000)], ['more than 64 KiB', `"${'x'.repeat(70_000)}"`],
  ])('refuses %s as tampered', (_name, text) => {
    expect(refusal(() => decodeRailsJson(text)).reason).toBe('tampered');
  });

  it('only ever throws InvalidSignatureError for random and mutated text', () => {
    const seeds = CASES.map(([, value]) => Buffer.from(encodeRailsJson(value)));
    const outcome = fuzz({ seeds, iterations: 30_000, prefix: Buffer.from('{"_rails":'), run: (input) => decodeRailsJson(input.toString('latin1')) });
    expect(outcome.unexpected).toEqual([]);
    expect(outcome.accepted).toBeGreaterThan(0);
  });
});

describe('encodeRailsJson', () => {
  it.each([
    ['a fraction', 0.5], ['a lone surrogate', '\ud800'], ['binary bytes', RubyString.binary(Uint8Array.of(0xff))],
    ['two keys with one JSON name', new RubyHash([[sym('a'), 1], ['a', 2]])], ['an array key', new RubyHash([[[1], 2]])],
  ])('refuses %s with ArgumentError', (_name, value) => {
    expect(() => encodeRailsJson(value as RubyValue)).toThrow(ArgumentError);
  });
});
