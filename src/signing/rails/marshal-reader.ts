import { InvalidSignatureError } from '../../core/errors.ts';
import { integerValue, RubyHash, RubyString, RubySymbol, type RubyValue } from './values.ts';

// Marshal.load for data only; see marshal.ts for what it reads and refuses.
const MAX_INPUT_BYTES = 64 * 1024;
const MAX_DEPTH = 32;
const MAX_BIGNUM_BYTES = 64;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `Marshal.load(bytes)` for data only. Throws InvalidSignatureError('tampered') for anything else. */
export function load(bytes: Uint8Array): RubyValue {
  if (bytes.length < 3 || bytes.length > MAX_INPUT_BYTES || bytes[0] !== 4 || bytes[1] !== 8) refuse('not Marshal 4.8');
  const reader = new Reader(bytes);
  const value = reader.value(0);
  if (!reader.atEnd()) refuse('trailing bytes');
  return value;
}

/** An object-table entry: leaves (strings, bignums) may be linked to; arrays and hashes may not. */
type Entry = { linkable: true; value: RubyValue } | { linkable: false };

class Reader {
  #pos = 2;
  readonly #symbols: string[] = [];
  readonly #objects: Entry[] = [];

  constructor(private readonly bytes: Uint8Array) {}

  atEnd(): boolean {
    return this.#pos === this.bytes.length;
  }

  value(depth: number): RubyValue {
    if (depth > MAX_DEPTH) refuse('too deep');
    const type = String.fromCharCode(this.#byte());
    switch (type) {
      case '0': return null;
      case 'T': return true;
      case 'F': return false;
      case 'i': return this.#long();
      case 'l': return this.#bignum();
      case ':': case ';': return new RubySymbol(this.#symbolAfter(type, false));
      case '"': return this.#leaf(RubyString.binary(this.#bytes()));
      case 'I': return this.#withEncoding();
      case '[': return this.#array(depth);
      case '{': return this.#hash(depth);
      case '@': return this.#link();
      default: return refuse(`unsupported type ${JSON.stringify(type)}`);
    }
  }

  /** `I` wraps a String or a Symbol with exactly one ivar, `E` (true: UTF-8, false: US-ASCII). */
  #withEncoding(): RubyValue {
    const type = String.fromCharCode(this.#byte());
    if (type === ':') return new RubySymbol(this.#symbolAfter(':', true));
    if (type !== '"') refuse('instance variables on something other than a String or Symbol');
    const raw = this.#bytes();
    const index = this.#objects.push({ linkable: false }) - 1; // Ruby registers the String before its ivars
    const value = this.#encoded(raw, this.#encodingFlag());
    this.#objects[index] = { linkable: true, value };
    return value;
  }

  #encoded(raw: Uint8Array, utf8: boolean): string | RubyString {
    if (!utf8) {
      if (!raw.every((b) => b < 0x80)) refuse('a US-ASCII String with non-ASCII bytes');
      return RubyString.usAscii(Buffer.from(raw).toString('latin1'));
    }
    try {
      return UTF8.decode(raw);
    } catch (cause) {
      return refuse('a UTF-8 String with invalid bytes', cause);
    }
  }

  #encodingFlag(): boolean {
    if (this.#long() !== 1) refuse('a String or Symbol with other instance variables');
    const first = String.fromCharCode(this.#byte());
    if (first !== ':' && first !== ';') refuse('an ivar name that is not a Symbol');
    if (this.#symbolAfter(first, false) !== 'E') refuse('an encoding other than UTF-8 or US-ASCII');
    const flag = this.#byte();
    if (flag !== 0x54 && flag !== 0x46) refuse('an encoding flag that is not true or false');
    return flag === 0x54;
  }

  /** The name after ':' (a new symbol, registered before its ivars) or ';' (an earlier one). */
  #symbolAfter(type: string, withIvar: boolean): string {
    if (type === ';') {
      const name = this.#symbols[this.#long()];
      return name ?? refuse('a symbol link past the symbol table');
    }
    const raw = this.#bytes();
    const index = this.#symbols.push('') - 1;
    const utf8 = withIvar ? this.#encodingFlag() : false;
    const name = this.#encoded(raw, utf8);
    this.#symbols[index] = typeof name === 'string' ? name : name.asciiText()!;
    return this.#symbols[index]!;
  }

  #array(depth: number): RubyValue[] {
    const length = this.#count(1);
    this.#objects.push({ linkable: false });
    const items: RubyValue[] = [];
    for (let i = 0; i < length; i++) items.push(this.value(depth + 1));
    return items;
  }

  #hash(depth: number): RubyHash {
    const length = this.#count(2);
    this.#objects.push({ linkable: false });
    const entries: [RubyValue, RubyValue][] = [];
    for (let i = 0; i < length; i++) entries.push([this.value(depth + 1), this.value(depth + 1)]);
    return new RubyHash(entries);
  }

  #link(): RubyValue {
    const entry = this.#objects[this.#long()];
    if (!entry?.linkable) refuse('a link to an array, a hash or nothing');
    return entry.value;
  }

  #bignum(): number | bigint {
    const sign = this.#byte();
    if (sign !== 0x2b && sign !== 0x2d) refuse('a bignum sign that is not + or -');
    const words = this.#long();
    if (words < 0 || words * 2 > MAX_BIGNUM_BYTES) refuse('a bignum length out of range');
    const raw = this.#take(words * 2);
    let magnitude = 0n;
    for (let i = raw.length - 1; i >= 0; i--) magnitude = (magnitude << 8n) | BigInt(raw[i]!);
    return this.#leaf(integerValue(sign === 0x2d ? -magnitude : magnitude));
  }

  #leaf<T extends RubyValue>(value: T): T {
    this.#objects.push({ linkable: true, value });
    return value;
  }

  /** An element count, checked against the bytes left (each element takes at least one byte). */
  #count(bytesPerElement: number): number {
    const n = this.#long();
    if (n < 0 || n * bytesPerElement > this.bytes.length - this.#pos) refuse('a length past the end');
    return n;
  }

  #bytes(): Uint8Array {
    const n = this.#long();
    if (n < 0) refuse('a negative length');
    return this.#take(n);
  }

  /** marshal.c's r_long. */
  #long(): number {
    const c = (this.#byte() << 24) >> 24;
    if (c === 0) return 0;
    if (c >= 5) return c - 5;
    if (c <= -5) return c + 5;
    const raw = this.#take(Math.abs(c));
    let x = 0;
    for (let i = raw.length - 1; i >= 0; i--) x = x * 256 + raw[i]!;
    return c > 0 ? x : x - 256 ** raw.length;
  }

  #take(n: number): Uint8Array {
    if (n > this.bytes.length - this.#pos) refuse('a length past the end');
    const slice = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return slice;
  }

  #byte(): number {
    if (this.#pos >= this.bytes.length) refuse('unexpected end');
    return this.bytes[this.#pos++]!;
  }
}

function refuse(why: string, cause?: unknown): never {
  throw new InvalidSignatureError('tampered', { cause: cause ?? new Error(`Marshal: ${why}`) });
}
