import { describe, expect, it } from 'vitest';
import { ArgumentError, InvalidSignatureError } from '../../src/index.ts';
import { MessageVerifier } from '../../src/signing/MessageVerifier.ts';
import { defaultVariantFormat, RAILS_WEB_IMAGE_CONTENT_TYPES, type FormatChoice } from '../../src/representations/formats.ts';
import { validateNamedVariant } from '../../src/representations/transformations.ts';
import { Variation } from '../../src/representations/variation.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { ruby, rubyMissing } from '../support/ruby.ts';

const png: FormatChoice = { value: 'png', ruby: 'string' };
const pngSymbol: FormatChoice = { value: 'png', ruby: 'symbol' };

/** [what, attache's transformations, the default format, the Rails app's transformations, Rails' default]. */
const DIGESTS: ReadonlyArray<readonly [string, unknown, FormatChoice, string, string]> = [
  ['a thumbnail of a PNG', { resizeToLimit: [100, 100] }, png, '{ resize_to_limit: [100, 100] }', '"png"'],
  ['a declared format moves first and stays a Symbol', { resizeToFill: [400, 300], format: 'webp' }, { value: 'jpg', ruby: 'string' }, '{ resize_to_fill: [400, 300], format: :webp }', '"jpg"'],
  ['nothing but the default :png (a non-web image)', {}, pngSymbol, '{}', ':png'],
  ['an extension keeps its case', { resizeToFit: [640, 480] }, { value: 'JPG', ruby: 'string' }, '{ resize_to_fit: [640, 480] }', '"JPG"'],
  ['Rails 7.1 (Marcel) names the format with a binary String', { resizeToLimit: [50, 50] }, { value: 'jpg', ruby: 'binary-string' }, '{ resize_to_limit: [50, 50] }', '"jpg".b'],
  [
    'every allowed transformation, in declared order',
    { rotate: 90, crop: [0, 0, 300, 200], resizeAndPad: [100, 80, { background: [255, 255, 255] }], resizeToFill: [50, 50, { crop: 'attention' }], quality: 80, strip: true, saver: { quality: 70, strip: false } },
    png,
    '{ rotate: 90, crop: [0, 0, 300, 200], resize_and_pad: [100, 80, { background: [255, 255, 255] }], resize_to_fill: [50, 50, { crop: :attention }], quality: 80, strip: true, saver: { quality: 70, strip: false } }',
    '"png"',
  ],
];

describe.skipIf(rubyMissing('activestorage'))('the variation digest equals Rails 6.1\'s ActiveStorage::Variation#digest', () => {
  it('for every case in the table (Rails\' own variation.rb computes the expected digests)', () => {
    const script = `
      require "active_support/all"; require "active_storage"
      require File.join(Gem.loaded_specs["activestorage"].full_gem_path, "app/models/active_storage/variation.rb")
      ARGV.each_slice(2) { |t, f| puts ActiveStorage::Variation.new(eval(t)).default_to(format: eval(f)).digest }`;
    const railsDigests = ruby(script, DIGESTS.flatMap(([, , , transformations, format]) => [transformations, format])).trim().split('\n');
    DIGESTS.forEach(([what, transformations, format], i) => expect(Variation.of(transformations).defaultTo(format).digest, what).toBe(railsDigests[i]));
  });
});

describe('Rails\' default variant format', () => {
  it.each([
    ['ada.png', 'image/png', '6.1', { value: 'png', ruby: 'string' }],
    ['Photo.JPG', 'image/jpeg', '6.1', { value: 'JPG', ruby: 'string' }],
    ['photo', 'image/jpeg', '6.1', { value: 'jpeg', ruby: 'string' }],
    ['photo', 'image/jpeg', '7.1', { value: 'jpg', ruby: 'binary-string' }],
    ['photo.jfif', 'image/jpeg', '6.1', { value: 'jpeg', ruby: 'string' }],
    ['photo.jfif', 'image/jpeg', '7.1', { value: 'jfif', ruby: 'string' }],
    ['wrong.gif', 'image/png', '6.1', { value: 'png', ruby: 'string' }],
    ['cat.webp', 'image/webp', '6.1', { value: 'png', ruby: 'symbol' }],
    ['scan.tiff', 'image/tiff', '6.1', { value: 'png', ruby: 'symbol' }],
  ] as const)('%s (%s, Rails %s tables)', (filename, contentType, tables, expected) => {
    expect(defaultVariantFormat({ filename, contentType }, tables, RAILS_WEB_IMAGE_CONTENT_TYPES)).toEqual(expected);
  });

  it('follows web_image_content_types: with image/webp in it, a WebP stays WebP', () => {
    expect(defaultVariantFormat({ filename: 'cat.webp', contentType: 'image/webp' }, '6.1', [...RAILS_WEB_IMAGE_CONTENT_TYPES, 'image/webp'])).toEqual({ value: 'webp', ruby: 'string' });
  });
});

describe('the transformation allowlist (CVE-2025-24293: no user option reaches the processor unchecked)', () => {
  it.each([
    ['an unknown transformation', { resize: '100x100' }, /"resize" is not an allowed transformation/],
    ['an ImageMagick option', { colorspace: 'sRGB' }, /not an allowed transformation/],
    ['a prototype key', JSON.parse('{"__proto__": {"x": 1}}'), /not an allowed transformation/],
    ['a string size', { resizeToLimit: ['100', '100'] }, /whole numbers from 1 to 10000/],
    ['a zero size', { resizeToLimit: [0, 100] }, /whole numbers from 1 to 10000/],
    ['a huge size', { resizeToFit: [100_000, 100] }, /whole numbers/],
    ['a fractional size', { resizeToFill: [10.5, 10] }, /whole numbers/],
    ['a size of three numbers', { resizeToLimit: [1, 2, 3] }, /\[width, height\]/],
    ['an unknown fill option', { resizeToFill: [10, 10, { gravity: 'north' }] }, /"gravity" is not an allowed option/],
    ['an unknown crop gravity', { resizeToFill: [10, 10, { crop: 'north' }] }, /one of centre, attention, entropy/],
    ['a background out of range', { resizeAndPad: [10, 10, { background: [300, 0, 0] }] }, /0 to 255/],
    ['a crop with a negative offset', { crop: [-1, 0, 10, 10] }, /whole numbers from 0/],
    ['a rotation that is not a right angle', { rotate: 45 }, /multiple of 90/],
    ['a string rotation', { rotate: '-90' }, /multiple of 90/],
    ['an unknown format', { format: 'svg' }, /one of png, jpeg/],
    ['a format with a path', { format: '../png' }, /one of png/],
    ['quality out of range', { quality: 0 }, /1 to 100/],
    ['a saver option outside the list', { saver: { interlace: true } }, /"interlace" is not an allowed option/],
    ['strip as a string', { strip: 'yes' }, /true or false/],
    ['an array instead of an object', [['resizeToLimit', [1, 1]]], /plain object/],
  ])('%s is an ArgumentError', (_label, transformations, message) => {
    expect(() => Variation.of(transformations)).toThrow(ArgumentError);
    expect(() => Variation.of(transformations)).toThrow(message);
  });

  it('accepts preprocessed only on named variants, as a boolean', () => {
    expect(validateNamedVariant({ resizeToLimit: [10, 10], preprocessed: true }, 'User.avatar thumb')).toEqual({ transformations: { resizeToLimit: [10, 10] }, preprocessed: true });
    expect(() => validateNamedVariant({ preprocessed: 'yes' }, 'x')).toThrow(/true or false/);
    expect(() => Variation.of({ preprocessed: true })).toThrow(/not an allowed transformation/);
  });
});

describe('signed variation keys', () => {
  const verifier = new MessageVerifier(TEST_SECRET);
  const variation = Variation.of({ resizeToLimit: [100, 100], format: 'webp' });

  it('round-trip for the blob they were signed for, with the same digest', () => {
    const key = variation.sign(verifier, '42');
    expect(Variation.verify(verifier, key, '42').digest).toBe(variation.digest);
  });

  it.each([
    ['another blob', (key: string) => ({ key, blob: '43' })],
    ['a tampered key', (key: string) => ({ key: `${key.slice(0, 10)}x${key.slice(11)}`, blob: '42' })],
    ['a signed blob id in its place', () => ({ key: verifier.sign('42', 'blob_id'), blob: '42' })],
    ['transformations signed outside the allowlist', () => ({ key: verifier.sign({ b: '42', t: { resize: '1x1' } }, 'variation'), blob: '42' })],
  ])('refuse %s with InvalidSignatureError', (_label, make) => {
    const { key, blob } = make(variation.sign(verifier, '42'));
    expect(() => Variation.verify(verifier, key, blob)).toThrow(InvalidSignatureError);
  });
});
