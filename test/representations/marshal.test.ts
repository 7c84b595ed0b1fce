import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { marshalDump, RubyFloat, RubyString, RubySymbol, type RubyValue } from '../../src/representations/marshal.ts';
import { ruby, rubyMissing } from '../support/ruby.ts';

const sym = (name: string) => new RubySymbol(name);

/** [what, the value in JS, the same value in Ruby]. */
const CASES: ReadonlyArray<readonly [string, RubyValue, string]> = [
  ['nil, true, false', [null, true, false], '[nil, true, false]'],
  ['small and boundary integers', [0, 1, 122, 123, -1, -123, -124, 255, 256, -256, -257, 65535, 65536, -65536], '[0, 1, 122, 123, -1, -123, -124, 255, 256, -256, -257, 65535, 65536, -65536]'],
  ['31-bit edges (Fixnum vs Bignum form)', [2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31, 2 ** 53 - 1, -(2 ** 53 - 1)], '[2**30-1, 2**30, -(2**30), -(2**30)-1, 2**31, 2**53-1, -(2**53-1)]'],
  ['a Bignum takes an object number (the next flonum link shows it)', [2 ** 40, 0.5, 0.5], '[2**40, 0.5, 0.5]'],
  ['floats in every text form', [0.5, 1.5, 0.1, 0.0001, 1e-5, 123456.789, new RubyFloat(1e15), 1e16, 1.5e300, 2.5e-310, -0.25, new RubyFloat(100), new RubyFloat(1), new RubyFloat(-0)], '[0.5, 1.5, 0.1, 0.0001, 1e-5, 123456.789, 1e15, 1e16, 1.5e300, 2.5e-310, -0.25, 100.0, 1.0, -0.0]'],
  ['repeated flonums link, heap floats do not', [0.5, 1e100, 0.5, 1e100, new RubyFloat(0), new RubyFloat(0)], '[0.5, 1e100, 0.5, 1e100 + 0.0, 0.0, 0.0]'],
  ['special floats', [Infinity, -Infinity, NaN], '[Float::INFINITY, -Float::INFINITY, Float::NAN]'],
  ['strings of each encoding; the E symbol is shared', ['png', 'é', '', new RubyString('jpg', 'ASCII-8BIT'), new RubyString('gif', 'US-ASCII'), 'x'.repeat(300)], '["png", "é", "", "jpg".b, "gif".force_encoding("US-ASCII"), "x" * 300]'],
  ['symbols and symbol links', [sym('png'), sym('png'), sym('E'), 'a', sym('E')], '[:png, :png, :E, "a", :E]'],
  ['a Rails variation', { format: 'png', resize_to_limit: [100, 100] }, '{ format: "png", resize_to_limit: [100, 100] }'],
  ['nested symbol-keyed hashes', { format: sym('webp'), resize_and_pad: [400, 300, { background: [255, 255, 255] }], saver: { quality: 80, strip: true } }, '{ format: :webp, resize_and_pad: [400, 300, { background: [255, 255, 255] }], saver: { quality: 80, strip: true } }'],
  ['an empty hash and array', [{}, []], '[{}, []]'],
];

/** Ruby's dump of each expression, as hex, one per line (one Ruby process for the whole table). */
function rubyDumps(expressions: readonly string[]): string[] {
  const script = 'ARGV.each { |e| puts Marshal.dump(eval(e)).unpack1("H*") }';
  return ruby(script, expressions).trim().split('\n');
}

describe.skipIf(rubyMissing())('marshalDump equals Ruby\'s Marshal.dump', () => {
  it('for every case in the table', () => {
    const expected = rubyDumps(CASES.map(([, , expression]) => expression));
    CASES.forEach(([what, value], i) => expect(marshalDump(value).toString('hex'), what).toBe(expected[i]));
  });

  it('for 300 random doubles (shortest round-trip digits and flonum ranges)', () => {
    const doubles: number[] = [];
    while (doubles.length < 300) {
      const d = randomBytes(8).readDoubleBE(0);
      if (Number.isFinite(d)) doubles.push(d);
    }
    const asRuby = doubles.map((d) => {
      const bits = Buffer.alloc(8);
      bits.writeDoubleBE(d);
      return `[["${bits.toString('hex')}"].pack("H*").unpack1("G")].then { |(x)| [x, x + 0.0] }`;
    });
    const expected = rubyDumps(asRuby);
    doubles.forEach((d, i) => expect(marshalDump([new RubyFloat(d), new RubyFloat(d)]).toString('hex'), String(d)).toBe(expected[i]));
  });
});

describe('marshalDump refuses what Rails transformations never hold', () => {
  it.each([
    ['a function', () => 1],
    ['a Date', new Date()],
    ['a Map', new Map()],
    ['a non-ASCII symbol', new RubySymbol('é')],
  ])('%s is an ArgumentError', (_label, value) => {
    expect(() => marshalDump(value as RubyValue)).toThrow(/marshal/);
  });
});
