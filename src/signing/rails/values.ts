import { ArgumentError } from '../../core/errors.ts';

/**
 * The Ruby values that Rails' signed messages carry, as attache reads and writes them: what
 * `Marshal` and `ActiveSupport::JSON` exchange for ids and Disk tokens, and nothing that builds
 * an object. Integers are `number` when they are safe integers, `bigint` otherwise.
 */
export type RubyValue = null | boolean | number | bigint | string | RubySymbol | RubyString | readonly RubyValue[] | RubyHash;

/** A Ruby Symbol (`:service_name`). Compare by `name`; instances are not interned. */
export class RubySymbol {
  constructor(readonly name: string) {}
}

/** The encodings of a Ruby String other than UTF-8 (a plain JS string is a UTF-8 Ruby String). */
export type RubyEncoding = 'US-ASCII' | 'ASCII-8BIT';

/** A Ruby String that is not UTF-8: US-ASCII text, or binary (ASCII-8BIT) bytes. */
export class RubyString {
  private constructor(readonly bytes: Uint8Array, readonly encoding: RubyEncoding) {}

  /** A US-ASCII String (what `Symbol#to_s` of an ASCII symbol gives). Throws ArgumentError for non-ASCII text. */
  static usAscii(text: string): RubyString {
    if (!isAscii(text)) throw new ArgumentError('A US-ASCII Ruby String takes ASCII text only.');
    return new RubyString(Buffer.from(text, 'latin1'), 'US-ASCII');
  }

  /** A binary (ASCII-8BIT) String of these bytes (copied). */
  static binary(bytes: Uint8Array): RubyString {
    return new RubyString(Uint8Array.from(bytes), 'ASCII-8BIT');
  }

  /** The text when every byte is ASCII, else null (binary bytes have no text). */
  asciiText(): string | null {
    return this.bytes.every((b) => b < 0x80) ? Buffer.from(this.bytes).toString('latin1') : null;
  }
}

/** A Ruby Hash, its entries in Ruby's (insertion) order, which Marshal and JSON keep. */
export class RubyHash {
  constructor(readonly entries: ReadonlyArray<readonly [RubyValue, RubyValue]>) {}

  /** `{ name: value, … }` with Symbol keys, in the record's key order (Ruby's `{ key: …, disposition: … }`). */
  static withSymbolKeys(record: Readonly<Record<string, RubyValue>>): RubyHash {
    return new RubyHash(Object.entries(record).map(([name, value]) => [new RubySymbol(name), value] as const));
  }

  /** The value under the Symbol or String key `name`; undefined when absent or when both spellings are present. */
  field(name: string): RubyValue | undefined {
    const found = this.entries.filter(([key]) => rubyText(key) === name);
    return found.length === 1 ? found[0]![1] : undefined;
  }
}

/** The text of a String-like Ruby value (UTF-8, US-ASCII or ASCII-only binary String, or Symbol), else null. */
export function rubyText(value: RubyValue | undefined): string | null {
  if (typeof value === 'string') return value;
  if (value instanceof RubyString) return value.asciiText();
  if (value instanceof RubySymbol) return value.name;
  return null;
}

/** The Ruby Integer `value`, as JS: a safe integer as number, anything larger as bigint. */
export function integerValue(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** True when `value` is a Ruby Integer (a safe-integer number or a bigint). */
export function isInteger(value: RubyValue | undefined): value is number | bigint {
  return typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value));
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}
