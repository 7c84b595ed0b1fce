import { describe, expect, it } from 'vitest';
import { ArgumentError, InvalidSignatureError } from '../../../src/core/errors.ts';
import { dump, load } from '../../../src/signing/rails/marshal.ts';
import { integerValue, RubyHash, RubyString, RubySymbol, type RubyValue } from '../../../src/signing/rails/values.ts';
import { fuzz, refusal } from './fuzz.ts';
import { rubyEach, rubyStatus } from './ruby.ts';

const sym = (name: string) => new RubySymbol(name);
const hash = (...entries: [RubyValue, RubyValue][]) => new RubyHash(entries);

/** Ruby literal → the same value in attache's terms. Ruby evaluates these without frozen literals, so no two are one object. */
const CASES: ReadonlyArray<readonly [string, RubyValue]> = [
  ['nil', null], ['true', true], ['false', false],
  ...[0, 1, -1, 4, -4, 5, -5, 122, 123, -123, -124, 255, 256, -256, -257, 65_535, 65_536, -65_536, -65_537, 2 ** 24, 2 ** 30 - 1, -(2 ** 30)].map((n) => [String(n), n] as const),
  ...[2n ** 30n, -(2n ** 30n) - 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, 2n ** 64n, -(2n ** 64n), 2n ** 100n + 7n].map((n) => [`(${n})`, integerValue(n)] as const),
  ['""', ''], ['"abc"', 'abc'], ['"é"', 'é'], ['"😀 €"', '😀 €'], ['"x" * 300', 'x'.repeat(300)], ['"x" * 70_000', 'x'.repeat(70_000)],
  ['"abc".force_encoding("US-ASCII")', RubyString.usAscii('abc')], ['"\\xff\\x00".b', RubyString.binary(Uint8Array.of(0xff, 0))],
  [':a', sym('a')], [':"é"', sym('é')], ['[:a, :a, :b, :a]', [sym('a'), sym('a'), sym('b'), sym('a')]],
  ['[:"é", "x", :"é"]', [sym('é'), 'x', sym('é')]], ['["a", "b", "c"]', ['a', 'b', 'c']],
  ['{key: "k", disposition: "inline", content_type: nil, service_name: :local}',
    RubyHash.withSymbolKeys({ key: 'k', disposition: 'inline', content_type: null, service_name: sym('local') })],
  ['{key: "k", content_type: "image/png", content_length: 179, checksum: "ezD0Jnu5bKlWr/CP1nzSWw==", service_name: :local}',
    RubyHash.withSymbolKeys({ key: 'k', content_type: 'image/png', content_length: 179, checksum: 'ezD0Jnu5bKlWr/CP1nzSWw==', service_name: sym('local') })],
  // ActiveStorage::Variation#digest is Marshal.dump of transformations like these.
  ['{resize_to_limit: [100, 100], format: :png}', RubyHash.withSymbolKeys({ resize_to_limit: [100, 100], format: sym('png') })],
  ['{format: "jpg", resize_to_fill: [800, 600, {gravity: "center", crop: true}], saver: {quality: 80}}',
    RubyHash.withSymbolKeys({ format: 'jpg', resize_to_fill: [800, 600, RubyHash.withSymbolKeys({ gravity: 'center', crop: true })], saver: RubyHash.withSymbolKeys({ quality: 80 }) })],
  ['{"str" => 1, 2 => :x, nil => [], [1] => {}}', hash(['str', 1], [2, sym('x')], [null, []], [[1], hash()])],
  ['[[1, [2, [3, [4, {a: [5]}]]]]]', [[1, [2, [3, [4, RubyHash.withSymbolKeys({ a: [5] })]]]]]],
  ['Array.new(200) { |i| i * 1000 }', Array.from({ length: 200 }, (_, i) => i * 1000)],
];

const loadable = (value: RubyValue) => dump(value).length <= 64 * 1024;

const ruby = rubyStatus();
if (!ruby.ruby) console.warn(`[attache] skipping the Marshal comparison with Ruby: ${ruby.reason}`);

describe.skipIf(!ruby.ruby)('dump is byte-identical to Ruby', () => {
  const fromRuby = ruby.ruby ? rubyEach(CASES.map(([literal]) => `Marshal.dump(${literal})`)) : [];

  it.each(CASES.map(([literal, value], i) => [literal, value, i] as const))('Marshal.dump(%s)', (_literal, value, i) => {
    expect(dump(value).toString('hex')).toBe(fromRuby[i]!.toString('hex'));
  });

  it.each(CASES.map(([literal, value], i) => [literal, value, i] as const).filter(([, value]) => loadable(value)))('load reads Ruby’s Marshal.dump(%s) back', (_literal, value, i) => {
    expect(load(fromRuby[i]!)).toEqual(value);
  });

  it('refuses input past its 64 KiB cap', () => {
    const big = fromRuby[CASES.findIndex(([literal]) => literal === '"x" * 70_000')]!;
    expect(refusal(() => load(big)).reason).toBe('tampered');
  });
});

describe('load', () => {
  it.each(CASES.filter(([, value]) => loadable(value)))('round-trips %s', (_literal, value) => {
    expect(load(dump(value))).toEqual(value);
  });

  it('reads links to strings and bignums that Ruby writes for one object used twice', () => {
    // Marshal.dump([s, s]) with s = "ab", and with b = 2**70
    expect(load(Buffer.from('04085b074922076162063a0645544006', 'hex'))).toEqual(['ab', 'ab']);
    expect(load(Buffer.from('04085b076c2b0a000000000000000040004006', 'hex'))).toEqual([2n ** 70n, 2n ** 70n]);
  });

  // Each from Ruby 3.1's Marshal.dump of the named value, unless said otherwise.
  it.each([
    ['an Object', '04086f3a0b4f626a65637400'],
    ['a Float', '04086608312e35'],
    ['a Regexp', '0408492f07726500063a064546'],
    ['a Struct', '0408533a0653063a06616906'],
    ['a Class', '0408630b537472696e67'],
    ['a Module', '04086d0b4b65726e656c'],
    ['a Time (_dump)', '040849753a0954696d650d208011c000000000063a097a6f6e65492208555443063a064546'],
    ['a Gem::Version (marshal_dump)', '0408553a1147656d3a3a56657273696f6e5b06492208312e30063a064554'],
    ['a Hash with a default', '04087d00690a'],
    ['a String subclass', '040849433a0a4d79537472220678063a064554'],
    ['an extended String', '040849653a08457874220678063a064554'],
    ['a Shift_JIS String', '040849220678063a0d656e636f64696e67220e53686966745f4a4953'],
    ['a String with another ivar', '040849220678073a0645543a0740616906'],
    ['an Array containing itself', '04085b064000'],
    ['a Hash containing itself', '04087b063a06684000'],
    ['one Array twice', '04085b075b0669064006'],
    ['a Rational', '0408553a0d526174696f6e616c5b0769066907'],
    ['a Range', '04086f3a0a52616e6765083a096578636c463a0a626567696e69063a08656e646907'],
    ['an Object inside a Hash (made here)', '04087b063a06616f3a0b4f626a65637400'],
    ['Marshal 4.7 (made here)', '04076906'],
    ['nothing after the version (made here)', '0408'],
    ['trailing bytes (made here)', '0408690669'],
    ['a symbol link past the table (made here)', '04083b06'],
    ['a link past the table (made here)', '0408400a'],
    ['a string longer than the input (made here)', '040822ff'],
    ['an array of 2^30 elements (made here)', '04085b04ffffff3f'],
    ['a hash of 2^31-1 entries (made here)', '04087b04ffffff7f'],
    ['a negative length (made here)', '04085bfa'],
    ['a huge bignum (made here)', '04086c2b04ffffff3f'],
    ['invalid UTF-8 in a UTF-8 String (made here)', '0408492206ff063a064554'],
    ['a non-ASCII US-ASCII String (made here)', '0408492206ff063a064546'],
    ['a non-ASCII Symbol without encoding (made here)', '04083a06ff'],
    ['an ivar that is not E (made here)', '040849220678063a0646540a'],
  ])('refuses %s as tampered', (_name, hex) => {
    expect(refusal(() => load(Buffer.from(hex, 'hex'))).reason).toBe('tampered');
  });

  it('refuses nesting deeper than 32 levels without recursing further', () => {
    const nested = (levels: number) => Buffer.from(`\x04\x08${'[\x06'.repeat(levels)}0`, 'latin1');
    expect(load(nested(32))).toBeDefined();
    expect(refusal(() => load(nested(33))).reason).toBe('tampered');
    expect(refusal(() => load(nested(20_000))).reason).toBe('tampered');
  });

  it('only ever throws InvalidSignatureError for random and mutated input', () => {
    const seeds = CASES.map(([, value]) => dump(value)).filter((b) => b.length < 4096);
    const outcome = fuzz({ seeds, iterations: 30_000, prefix: Buffer.from([4, 8]), run: load });
    expect(outcome.unexpected).toEqual([]);
    expect(outcome.refused).toBeGreaterThan(0);
    expect(outcome.accepted).toBeGreaterThan(0);
  });
});

describe('dump', () => {
  it('writes an Integer the same whether it comes as a number or a bigint', () => {
    for (const n of [0, 5, -124, 2 ** 30 - 1, 2 ** 30, -(2 ** 30) - 1, 2 ** 40]) expect(dump(BigInt(n))).toEqual(dump(n));
  });

  it.each([
    ['a fraction', 1.5], ['NaN', Number.NaN], ['an unsafe integer', 2 ** 60], ['a lone surrogate', '\ud800'],
    ['a function', (() => 1) as unknown as RubyValue], ['a plain object', { a: 1 } as unknown as RubyValue],
  ])('refuses %s with ArgumentError', (_name, value) => {
    expect(() => dump(value)).toThrow(ArgumentError);
  });

  it('refuses a cyclic array instead of recursing', () => {
    const cyclic: RubyValue[] = [];
    cyclic.push(cyclic);
    expect(() => dump(cyclic)).toThrow(ArgumentError);
  });

  it('refuses US-ASCII text that is not ASCII', () => {
    expect(() => RubyString.usAscii('é')).toThrow(ArgumentError);
  });
});
