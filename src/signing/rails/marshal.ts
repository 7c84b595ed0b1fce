import { ArgumentError } from '../../core/errors.ts';
import { RubyHash, RubyString, RubySymbol, type RubyValue } from './values.ts';

export { load } from './marshal-reader.ts';

/**
 * Ruby's Marshal format 4.8, for data only: nil, true, false, Integer, String (UTF-8, US-ASCII,
 * binary), Symbol, Array and Hash. `dump` is byte-identical to Ruby's `Marshal.dump` for these
 * values (fresh objects: it never writes `@` links for shared ones). `load` refuses everything
 * else (objects, user classes, `_load`/`marshal_load`, extended modules, floats, regexps, default
 * hashes, links to arrays or hashes) with InvalidSignatureError('tampered'); it never builds an
 * object, never recurses past MAX_DEPTH and never allocates from a length field.
 */

const MAX_DEPTH = 32;
// Ruby writes an Integer as 'i' when it fits 31 bits (marshal.c: RSHIFT(obj, 31) of the tagged VALUE).
const FIXNUM_MIN = -(2n ** 30n);
const FIXNUM_MAX = 2n ** 30n - 1n;

/** `Marshal.dump(value)`. Throws ArgumentError for a non-integer number, an ill-formed string or nesting past MAX_DEPTH. */
export function dump(value: RubyValue): Buffer {
  const writer = new Writer();
  writer.value(value, 0);
  return Buffer.from(writer.out);
}

class Writer {
  readonly out: number[] = [4, 8]; // Marshal 4.8
  readonly #symbols = new Map<string, number>();

  value(value: RubyValue, depth: number): void {
    if (depth > MAX_DEPTH) throw new ArgumentError(`Marshal.dump nests at most ${MAX_DEPTH} levels.`);
    if (value === null) this.#char('0');
    else if (value === true) this.#char('T');
    else if (value === false) this.#char('F');
    else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new ArgumentError('Marshal.dump takes integers only.');
      this.#integer(BigInt(value));
    } else if (typeof value === 'bigint') this.#integer(value);
    else if (typeof value === 'string') this.#utf8String(value);
    else if (value instanceof RubySymbol) this.#symbol(value.name);
    else if (value instanceof RubyString) this.#otherString(value);
    else if (value instanceof RubyHash) {
      this.#char('{');
      this.#long(value.entries.length);
      for (const [key, item] of value.entries) {
        this.value(key, depth + 1);
        this.value(item, depth + 1);
      }
    } else if (Array.isArray(value)) {
      this.#char('[');
      this.#long(value.length);
      for (const item of value) this.value(item, depth + 1);
    } else {
      throw new ArgumentError('Marshal.dump takes nil, booleans, integers, strings, symbols, arrays and hashes only.');
    }
  }

  #integer(value: bigint): void {
    if (value >= FIXNUM_MIN && value <= FIXNUM_MAX) {
      this.#char('i');
      this.#long(Number(value));
      return;
    }
    this.#char('l');
    this.#char(value < 0n ? '-' : '+');
    const bytes: number[] = [];
    for (let rest = value < 0n ? -value : value; rest > 0n; rest >>= 8n) bytes.push(Number(rest & 0xffn));
    if (bytes.length % 2 === 1) bytes.push(0); // Ruby counts 16-bit words
    this.#long(bytes.length / 2);
    this.out.push(...bytes);
  }

  #utf8String(value: string): void {
    if (!value.isWellFormed()) throw new ArgumentError('Marshal.dump takes well-formed strings only.');
    this.#char('I');
    this.#char('"');
    this.#bytes(Buffer.from(value, 'utf8'));
    this.#encodingIvar(true);
  }

  #otherString(value: RubyString): void {
    if (value.encoding === 'ASCII-8BIT') {
      this.#char('"');
      this.#bytes(value.bytes);
      return;
    }
    this.#char('I');
    this.#char('"');
    this.#bytes(value.bytes);
    this.#encodingIvar(false);
  }

  /** One instance variable, `E`: true for UTF-8, false for US-ASCII (marshal.c's encoding_name). */
  #encodingIvar(utf8: boolean): void {
    this.#long(1);
    this.#symbol('E');
    this.#char(utf8 ? 'T' : 'F');
  }

  #symbol(name: string): void {
    const index = this.#symbols.get(name);
    if (index !== undefined) {
      this.#char(';');
      this.#long(index);
      return;
    }
    if (!name.isWellFormed()) throw new ArgumentError('Marshal.dump takes well-formed symbol names only.');
    const ascii = /^[\x00-\x7f]*$/.test(name);
    if (!ascii) this.#char('I');
    this.#char(':');
    this.#bytes(Buffer.from(name, 'utf8'));
    this.#symbols.set(name, this.#symbols.size); // registered before its own `E`, as Ruby does
    if (!ascii) this.#encodingIvar(true);
  }

  #bytes(bytes: Uint8Array): void {
    this.#long(bytes.length);
    for (const b of bytes) this.out.push(b);
  }

  /** marshal.c's w_long: small values in one byte, others as 1–4 little-endian bytes after a signed count. */
  #long(n: number): void {
    if (n === 0) this.out.push(0);
    else if (n > 0 && n < 123) this.out.push(n + 5);
    else if (n < 0 && n > -124) this.out.push((n - 5) & 0xff);
    else {
      const bytes: number[] = [];
      for (let x = n, i = 1; i <= 4; i++) {
        bytes.push(x & 0xff);
        x >>= 8;
        if (x === 0 || x === -1) {
          this.out.push(x === 0 ? i : 256 - i, ...bytes);
          return;
        }
      }
    }
  }

  #char(c: string): void {
    this.out.push(c.charCodeAt(0));
  }
}
