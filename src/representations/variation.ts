import { createHash } from 'node:crypto';
import { ArgumentError, InvalidSignatureError } from '../core/errors.ts';
import type { MessageVerifier } from '../signing/MessageVerifier.ts';
import { encoderFor, type FormatChoice } from './formats.ts';
import { marshalDump, RubyString, RubySymbol, type RubyValue } from './marshal.ts';
import { rubyTransformations, validateTransformations, type Transformations } from './transformations.ts';

/** What a signed variation key carries: the blob it was made for and the transformations. */
interface VariationClaims {
  /** The blob id the key was signed for. */
  b: string;
  /** The transformations, without `format`. */
  t: Transformations;
  /** The format, when chosen: [value, how Rails holds it]. */
  f?: [string, FormatChoice['ruby']];
}

/**
 * A set of transformations that makes a variant: Rails' ActiveStorage::Variation. The format is
 * kept apart because Rails' `default_to` puts it first in the hash whatever its declared place,
 * and because a default format is a String (from the filename) where a declared one is a Symbol.
 */
export class Variation {
  private constructor(
    /** The transformations other than `format`, validated, in the declared order. */
    readonly transformations: Transformations,
    /** The output format, or null while none is chosen (a preview's variation, before its image is known). */
    readonly format: FormatChoice | null,
  ) {}

  /** A variation from user transformations. Throws ArgumentError (see validateTransformations). */
  static of(input: unknown, where = 'variant'): Variation {
    const { format, ...rest } = validateTransformations(input, where);
    return new Variation(Object.freeze(rest), format === undefined ? null : { value: format, ruby: 'symbol' });
  }

  /** Rails' `default_to({ format: default })`: the declared format wins, else the default. */
  defaultTo(format: FormatChoice): Variation {
    return this.format ? this : new Variation(this.transformations, format);
  }

  /** The transformations as Rails holds them after default_to: `{ format: …, resize_to_limit: [...], … }`. */
  rubyHash(): Record<string, RubyValue> {
    const hash: Record<string, RubyValue> = this.format === null ? {} : { format: rubyFormat(this.format) };
    return Object.assign(hash, rubyTransformations(this.transformations));
  }

  /** Rails' `Variation#digest`: `OpenSSL::Digest::SHA1.base64digest(Marshal.dump(transformations))`; the variant record's key. */
  get digest(): string {
    return createHash('sha1').update(marshalDump(this.rubyHash())).digest('base64');
  }

  /** The output format name as given (e.g. `png`, `JPG`); `png` while none is chosen. */
  get formatName(): string {
    return this.format?.value ?? 'png';
  }

  /** The content type the variant is stored with. */
  get contentType(): string {
    return encoderFor(this.formatName)?.contentType ?? 'image/png';
  }

  /** A key naming this variation for one blob, signed so that a client cannot ask for other transformations. */
  sign(verifier: MessageVerifier, blobId: string): string {
    const claims: VariationClaims = { b: blobId, t: this.transformations, ...(this.format && { f: [this.format.value, this.format.ruby] as [string, FormatChoice['ruby']] }) };
    return verifier.sign(claims, 'variation');
  }

  /**
   * The variation a signed key names for `blobId`. The transformations are checked against the
   * allowlist again. Throws InvalidSignatureError (tampered, expired, another purpose or blob).
   */
  static verify(verifier: MessageVerifier, key: unknown, blobId: string): Variation {
    const claims = verifier.verify<Partial<VariationClaims>>(key, 'variation');
    if (!claims || claims.b !== blobId) throw new InvalidSignatureError('purpose');
    try {
      const { format: _ignored, ...transformations } = validateTransformations(claims.t, 'signed variation');
      return new Variation(Object.freeze(transformations), formatClaim(claims.f));
    } catch (error) {
      throw new InvalidSignatureError('tampered', { cause: error });
    }
  }
}

function formatClaim(claim: unknown): FormatChoice | null {
  if (claim === undefined) return null;
  const [value, ruby] = Array.isArray(claim) ? (claim as unknown[]) : [];
  if (typeof value !== 'string' || !encoderFor(value) || (ruby !== 'string' && ruby !== 'binary-string' && ruby !== 'symbol')) {
    throw new ArgumentError('The signed variation names no valid format.');
  }
  return { value, ruby };
}

function rubyFormat(format: FormatChoice): RubyValue {
  if (format.ruby === 'symbol') return new RubySymbol(format.value);
  return format.ruby === 'binary-string' ? new RubyString(format.value, 'ASCII-8BIT') : format.value;
}
