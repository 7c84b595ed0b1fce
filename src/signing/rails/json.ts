import { ArgumentError, InvalidSignatureError } from '../../core/errors.ts';
import { integerValue, RubyHash, RubyString, RubySymbol, rubyText, type RubyValue } from './values.ts';

/**
 * JSON as Rails' message serializer writes and reads it (ActiveSupport::JSON), for the values
 * that ids and Disk tokens carry. Integers stay exact (bigint past 2^53); floats are refused.
 */

const MAX_TEXT_LENGTH = 64 * 1024;
const MAX_DEPTH = 32;
// ActiveSupport::JSON.encode escapes these after ::JSON.generate (HTML-safe and JS-safe output).
const RAILS_ESCAPES: Readonly<Record<string, string>> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** `ActiveSupport::JSON.encode(value)` (Symbols and Hash keys become Strings, as `as_json` does). Throws ArgumentError for what Ruby's JSON cannot write. */
export function encodeRailsJson(value: RubyValue): string {
  return write(value, 0).replace(/[<>&\u2028\u2029]/g, (c) => RAILS_ESCAPES[c]!);
}

/** The value of a JSON text Rails wrote. Throws InvalidSignatureError('tampered') for anything else. */
export function decodeRailsJson(text: string): RubyValue {
  if (text.length > MAX_TEXT_LENGTH) refuse('too long');
  const reader = new JsonReader(text);
  const value = reader.value(0);
  if (!reader.atEnd()) refuse('trailing text');
  return value;
}

function write(value: RubyValue, depth: number): string {
  if (depth > MAX_DEPTH) throw new ArgumentError(`JSON nests at most ${MAX_DEPTH} levels here.`);
  if (value === null || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new ArgumentError('Rails JSON messages take integers only.');
    return String(value);
  }
  if (value instanceof RubyHash) {
    const keys = value.entries.map(([key]) => keyString(key));
    if (new Set(keys).size !== keys.length) throw new ArgumentError('Two Hash keys have the same JSON name.');
    return `{${value.entries.map(([, item], i) => `${JSON.stringify(keys[i])}:${write(item, depth + 1)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((item: RubyValue) => write(item, depth + 1)).join(',')}]`;
  return JSON.stringify(textOf(value as RubyValue));
}

/** `key.to_s`, as Hash#as_json does for the keys a message can carry. */
function keyString(key: RubyValue): string {
  if (key === null) return '';
  if (typeof key === 'boolean' || typeof key === 'bigint' || typeof key === 'number') return write(key, 0);
  return textOf(key);
}

function textOf(value: RubyValue): string {
  const text = value instanceof RubySymbol || value instanceof RubyString || typeof value === 'string' ? rubyText(value) : null;
  if (text === null || !text.isWellFormed()) throw new ArgumentError('Rails JSON messages take UTF-8 or ASCII text only.');
  return text;
}

class JsonReader {
  #pos = 0;
  constructor(private readonly text: string) {}

  atEnd(): boolean {
    this.#space();
    return this.#pos === this.text.length;
  }

  value(depth: number): RubyValue {
    if (depth > MAX_DEPTH) refuse('too deep');
    this.#space();
    const c = this.text[this.#pos];
    if (c === '{') return this.#object(depth);
    if (c === '[') return this.#array(depth);
    if (c === '"') return this.#string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#integer();
    for (const [word, value] of [['null', null], ['true', true], ['false', false]] as const) {
      if (this.text.startsWith(word, this.#pos)) {
        this.#pos += word.length;
        return value;
      }
    }
    return refuse('unexpected character');
  }

  #object(depth: number): RubyHash {
    const entries: [RubyValue, RubyValue][] = [];
    this.#pos++;
    if (this.#peek() === '}') return (this.#pos++, new RubyHash(entries));
    for (;;) {
      if (this.#peek() !== '"') refuse('an object key that is not a string');
      const key = this.#string();
      if (this.#peek() !== ':') refuse('a missing colon');
      this.#pos++;
      entries.push([key, this.value(depth + 1)]);
      const next = this.#peek();
      this.#pos++;
      if (next === '}') return new RubyHash(entries);
      if (next !== ',') refuse('a missing comma');
    }
  }

  #array(depth: number): RubyValue[] {
    const items: RubyValue[] = [];
    this.#pos++;
    if (this.#peek() === ']') return (this.#pos++, items);
    for (;;) {
      items.push(this.value(depth + 1));
      const next = this.#peek();
      this.#pos++;
      if (next === ']') return items;
      if (next !== ',') refuse('a missing comma');
    }
  }

  #integer(): number | bigint {
    const match = /-?(?:0|[1-9][0-9]*)/y;
    match.lastIndex = this.#pos;
    const found = match.exec(this.text);
    if (!found) return refuse('a malformed number');
    this.#pos += found[0].length;
    if (/[.eE0-9]/.test(this.text[this.#pos] ?? '')) refuse('a number that is not an integer');
    return integerValue(BigInt(found[0]));
  }

  #string(): string {
    let out = '';
    this.#pos++;
    for (;;) {
      const c = this.text[this.#pos++];
      if (c === undefined || c < ' ') refuse('an unterminated string or a raw control character');
      if (c === '"') break;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.#pos++];
      const simple = e === undefined ? undefined : ({ '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e];
      if (simple !== undefined) out += simple;
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.#pos, this.#pos + 4))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.#pos, this.#pos + 4), 16));
        this.#pos += 4;
      } else refuse('a bad escape');
    }
    if (!out.isWellFormed()) refuse('a lone surrogate');
    return out;
  }

  #peek(): string | undefined {
    this.#space();
    return this.text[this.#pos];
  }

  #space(): void {
    while (this.#pos < this.text.length && ' \t\n\r'.includes(this.text[this.#pos]!)) this.#pos++;
  }
}

function refuse(why: string): never {
  throw new InvalidSignatureError('tampered', { cause: new Error(`JSON: ${why}`) });
}
