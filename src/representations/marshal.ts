import { ArgumentError } from '../core/errors.ts';

/** A Ruby Symbol (`:png`). Plain JS strings are Ruby Strings. */
export class RubySymbol {
  constructor(readonly name: string) {}
}

/** A Ruby String of an explicit encoding; a plain JS string is a UTF-8 String. */
export class RubyString {
  constructor(readonly value: string, readonly encoding: 'UTF-8' | 'US-ASCII' | 'ASCII-8BIT' = 'UTF-8') {}
}

/** A Ruby Float even when the value is integral (`100.0`); other non-integral numbers are Floats already. */
export class RubyFloat {
  constructor(readonly value: number) {}
}

/**
 * The values `marshalDump` writes: nil, booleans, Integers (safe integers), Floats (other
 * numbers, or RubyFloat), Strings, Symbols, Arrays and Hashes with Symbol keys (plain objects,
 * in key order, as Ruby keeps insertion order).
 */
export type RubyValue = null | boolean | number | string | RubySymbol | RubyString | RubyFloat | readonly RubyValue[] | RubyHash;
export interface RubyHash {
  readonly [key: string]: RubyValue;
}

/**
 * Ruby's `Marshal.dump(value)`, byte for byte (format 4.8, as Ruby 1.9 to 3.x write it) for the
 * values above: what `ActiveStorage::Variation#digest` hashes. Objects are numbered as Ruby
 * numbers them, so repeated Symbols and Float immediates ("flonums") become links as in Ruby.
 * Throws ArgumentError for anything else.
 */
export function marshalDump(value: RubyValue): Buffer {
  const writer = new MarshalWriter();
  writer.bytes([4, 8]);
  writer.value(value);
  return Buffer.from(writer.out);
}

class MarshalWriter {
  readonly out: number[] = [];
  private readonly symbols = new Map<string, number>();
  private objects = 0;
  private readonly flonums = new Map<bigint, number>();

  bytes(bytes: Iterable<number>): void {
    for (const byte of bytes) this.out.push(byte & 0xff);
  }

  value(value: RubyValue): void {
    if (value === null) this.bytes([0x30]); // '0'
    else if (value === true) this.bytes([0x54]); // 'T'
    else if (value === false) this.bytes([0x46]); // 'F'
    else if (typeof value === 'number') Number.isSafeInteger(value) ? this.integer(value) : this.float(value);
    else if (value instanceof RubyFloat) this.float(value.value);
    else if (typeof value === 'string') this.string(value, 'UTF-8');
    else if (value instanceof RubyString) this.string(value.value, value.encoding);
    else if (value instanceof RubySymbol) this.symbol(value.name);
    else if (Array.isArray(value)) this.array(value);
    else if (isPlainObject(value)) this.hash(value);
    else throw new ArgumentError('Only nil, booleans, numbers, strings, symbols, arrays and symbol-keyed hashes can be marshalled.');
  }

  /** Ruby's w_long: small values in one byte, others as 1 to 4 little-endian bytes after a signed count. */
  long(n: number): void {
    if (n === 0) return this.bytes([0]);
    if (n > 0 && n < 123) return this.bytes([n + 5]);
    if (n < 0 && n > -124) return this.bytes([n - 5]);
    const bytes: number[] = [];
    let x = n;
    for (let i = 1; i <= 4; i++) {
      bytes.push(x & 0xff);
      x = Math.floor(x / 256);
      if (x === 0 || x === -1) return this.bytes([x === 0 ? i : -i, ...bytes]);
    }
    throw new ArgumentError('A length or integer is too large to marshal.');
  }

  private integer(n: number): void {
    // A 64-bit Ruby writes Fixnums outside 31 bits as Bignums, which take an object number.
    if (n >= -(2 ** 30) && n < 2 ** 30) {
      this.bytes([0x69]); // 'i'
      return this.long(n);
    }
    this.objects++;
    let magnitude = BigInt(Math.abs(n));
    const digits: number[] = [];
    while (magnitude > 0n) {
      digits.push(Number(magnitude & 0xffn));
      magnitude >>= 8n;
    }
    if (digits.length % 2 === 1) digits.push(0);
    this.bytes([0x6c, n < 0 ? 0x2d : 0x2b]); // 'l', '-' or '+'
    this.long(digits.length / 2);
    this.bytes(digits);
  }

  private float(d: number): void {
    const flonum = flonumBits(d);
    if (flonum !== null) {
      const seen = this.flonums.get(flonum);
      if (seen !== undefined) return this.link(seen);
      this.flonums.set(flonum, this.objects);
    }
    this.objects++;
    this.bytes([0x66]); // 'f'
    this.rawString(Buffer.from(floatText(d), 'ascii'));
  }

  private string(text: string, encoding: RubyString['encoding']): void {
    this.objects++;
    const bytes = Buffer.from(text, encoding === 'UTF-8' ? 'utf8' : 'latin1');
    if (encoding === 'ASCII-8BIT') {
      this.bytes([0x22]); // '"'
      return this.rawString(bytes);
    }
    this.bytes([0x49, 0x22]); // 'I' '"': a String with instance variables (its encoding)
    this.rawString(bytes);
    this.long(1);
    this.symbol('E');
    this.bytes([encoding === 'UTF-8' ? 0x54 : 0x46]);
  }

  private symbol(name: string): void {
    const seen = this.symbols.get(name);
    if (seen !== undefined) {
      this.bytes([0x3b]); // ';'
      return this.long(seen);
    }
    if (!/^[\x20-\x7e]*$/.test(name)) throw new ArgumentError('Only ASCII symbols can be marshalled.');
    this.symbols.set(name, this.symbols.size);
    this.bytes([0x3a]); // ':'
    this.rawString(Buffer.from(name, 'ascii'));
  }

  private array(values: readonly RubyValue[]): void {
    this.objects++;
    this.bytes([0x5b]); // '['
    this.long(values.length);
    for (const item of values) this.value(item);
  }

  private hash(hash: RubyHash): void {
    this.objects++;
    const keys = Object.keys(hash);
    this.bytes([0x7b]); // '{'
    this.long(keys.length);
    for (const key of keys) {
      this.symbol(key);
      this.value(hash[key]!);
    }
  }

  private link(index: number): void {
    this.bytes([0x40]); // '@'
    this.long(index);
  }

  private rawString(bytes: Buffer): void {
    this.long(bytes.length);
    this.bytes(bytes);
  }
}

/**
 * The bits of a double Ruby keeps as an immediate "flonum" (equal values are then the same
 * object, so a repeat is written as a link), or null for a heap Float. Ruby's rb_float_new_inline.
 */
function flonumBits(d: number): bigint | null {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, d);
  const bits = view.getBigUint64(0);
  if (bits === 0n) return bits;
  const top = Number((bits >> 60n) & 0x7n);
  return (top === 3 || top === 4) && bits !== 0x3000000000000000n ? bits : null;
}

/** Ruby's w_float text: the shortest round-trip digits, in exponent form outside 1e-4 .. 1e(digits). */
function floatText(d: number): string {
  if (Number.isNaN(d)) return 'nan';
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  const [mantissa = '', exponent = '0'] = Math.abs(d).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const decpt = Number(exponent) + 1;
  const sign = d < 0 ? '-' : '';
  if (decpt < -3 || decpt > digits.length) {
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${decpt - 1}`;
  }
  if (decpt > 0) return `${sign}${digits.slice(0, decpt)}${digits.length > decpt ? `.${digits.slice(decpt)}` : ''}`;
  return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
}

function isPlainObject(value: unknown): value is RubyHash {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
