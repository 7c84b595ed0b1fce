import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ArgumentError, ConfigurationError } from '../../../src/core/errors.ts';
import { RailsVerifier, type RailsDiskKeyClaims, type RailsDiskUploadClaims, type RailsMessageFormat } from '../../../src/signing/rails/index.ts';
import { fuzz, refusal } from './fuzz.ts';

// Wraps (never replaces) the real function, so the verifier's comparisons can be observed.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

interface Vector { id?: number; message: string; expires_at?: string | null; data?: Record<string, string | number> }
// A copy of shared/rails-message-vectors.json: ids and tokens ActiveSupport 7.2.3's own code made.
const vectors = JSON.parse(readFileSync(new URL('./fixtures/rails-message-vectors.json', import.meta.url), 'utf8')) as {
  secret_key_base: string; signed_ids: Vector[]; signed_id_expiring: Vector; signed_id_expired: Vector;
  signed_id_other_purpose: Vector; disk_download_token: Vector; disk_upload_token: Vector;
};
const SECRET = vectors.secret_key_base;
const Y2099 = Date.parse('2099-01-01T00:00:00.000Z');
const FORMATS: RailsMessageFormat[] = ['6.1', '7.0', '7.1'];
const KEY: RailsDiskKeyClaims = { key: 'abcdefghijklmnopqrstuvwxyz12', disposition: 'inline; filename="a.png"; filename*=UTF-8\'\'a.png', contentType: 'image/png', serviceName: 'local' };
const UPLOAD: RailsDiskUploadClaims = { key: 'abcdefghijklmnopqrstuvwxyz12', contentType: 'image/png', contentLength: 179, checksum: 'ezD0Jnu5bKlWr/CP1nzSWw==', serviceName: 'local' };

const verifier = (messageFormat: RailsMessageFormat, now = () => Y2099 - 300_000, alsoAccept?: RailsMessageFormat[]) =>
  new RailsVerifier({ secretKeyBase: SECRET, messageFormat, now, alsoAccept });

/** A message signed with ActiveStorage's key for `format` around bytes of our choosing, as a leaked secret would allow. */
const forgeKeys = new Map<string, Buffer>();
function forge(format: RailsMessageFormat, serialized: Buffer | string): string {
  const digest = format === '6.1' ? 'sha1' : 'sha256';
  const key = forgeKeys.get(digest) ?? crypto.pbkdf2Sync(SECRET, 'ActiveStorage', 1000, 64, digest);
  forgeKeys.set(digest, key);
  const encoded = Buffer.from(serialized).toString('base64');
  return `${encoded}--${crypto.createHmac('sha1', key).update(encoded).digest('hex')}`;
}
const legacy = (marshalHex: string, pur = 'blob_id') => `{"_rails":{"message":"${Buffer.from(marshalHex, 'hex').toString('base64')}","exp":null,"pur":"${pur}"}}`;

beforeEach(() => { vi.mocked(crypto.timingSafeEqual).mockClear(); });

describe('the ActiveSupport 7.2 vectors (load_defaults 7.1)', () => {
  const v71 = verifier('7.1');

  it.each(vectors.signed_ids.map((v) => [v.id!, v.message] as const))('verifies signed id %s and signs it byte-identically', (id, message) => {
    expect(v71.verifyBlobId(message)).toBe(String(id));
    expect(v71.signBlobId(id)).toBe(message);
    expect(v71.signBlobId(String(id))).toBe(message); // Blob#id comes from pg as a decimal string
  });

  it('verifies the expiring id until 2099 and signs it byte-identically', () => {
    expect(v71.verifyBlobId(vectors.signed_id_expiring.message)).toBe('42');
    expect(v71.signBlobId(42, { expiresIn: 300 })).toBe(vectors.signed_id_expiring.message);
    expect(refusal(() => verifier('7.1', () => Y2099).verifyBlobId(vectors.signed_id_expiring.message)).reason).toBe('expired');
  });

  it('refuses the expired id as expired and the other purpose as purpose', () => {
    expect(refusal(() => v71.verifyBlobId(vectors.signed_id_expired.message)).reason).toBe('expired');
    expect(refusal(() => v71.verifyBlobId(vectors.signed_id_other_purpose.message)).reason).toBe('purpose');
  });

  it('verifies the Disk download and upload tokens and signs them byte-identically', () => {
    const download = vectors.disk_download_token.data!;
    const claims = { key: download.key, disposition: download.disposition, contentType: download.content_type, serviceName: download.service_name } as RailsDiskKeyClaims;
    expect(v71.verifyDiskKey(vectors.disk_download_token.message)).toEqual(claims);
    expect(v71.signDiskKey(claims, 300)).toBe(vectors.disk_download_token.message);
    const up = vectors.disk_upload_token.data!;
    const upload = { key: up.key, contentType: up.content_type, contentLength: up.content_length, checksum: up.checksum, serviceName: up.service_name } as RailsDiskUploadClaims;
    expect(v71.verifyDiskUpload(vectors.disk_upload_token.message)).toEqual(upload);
    expect(v71.signDiskUpload(upload, 300)).toBe(vectors.disk_upload_token.message);
  });

  const all = [...vectors.signed_ids, vectors.signed_id_expiring, vectors.signed_id_expired, vectors.signed_id_other_purpose, vectors.disk_download_token, vectors.disk_upload_token].map((v) => v.message);
  const mutations: Array<[string, (m: string) => string]> = [
    ['a data character changed', (m) => swap(m, 10)], ['a digest character changed', (m) => swap(m, m.length - 1)],
    ['the digest cut short', (m) => m.slice(0, -1)], ['a character appended', (m) => `${m}0`], ['no separator', (m) => m.replace('--', '')],
    ['the digest in upper case', (m) => m.slice(0, -40) + m.slice(-40).toUpperCase()], ['the data cut short', (m) => m.slice(4)],
    ['the data only', (m) => m.slice(0, -42)], ['another secret', (m) => new RailsVerifier({ secretKeyBase: `${SECRET}-other`, messageFormat: '7.1' }).signBlobId(m.length)],
  ];
  it.each(all.flatMap((m, i) => mutations.map(([name, change]) => [i, name, change(m)] as const)))('refuses vector %i with %s as tampered', (_i, _name, message) => {
    const error = refusal(() => (message.includes('--') && Buffer.from(message.split('--')[0]!, 'base64').includes('blob_key') ? v71.verifyDiskKey(message) : v71.verifyBlobId(message)));
    expect(error.reason).toBe('tampered');
  });
});

describe.each(FORMATS)('format %s', (format) => {
  it.each([1, 42, 2n ** 63n - 1n, '123456789012345678901234567890', 'b6c1f7e2-3a9d-4a43-9f3e-8c4d8f1f0a11', '007'])('round-trips blob id %s', (id) => {
    const v = verifier(format);
    expect(v.verifyBlobId(v.signBlobId(id))).toBe(String(id));
    expect(v.verifyBlobId(v.signBlobId(id, { expiresIn: 60 }))).toBe(String(id));
  });

  it('round-trips Disk keys and upload tokens, nulls included', () => {
    const v = verifier(format);
    for (const claims of [KEY, { ...KEY, contentType: null, disposition: '' }]) expect(v.verifyDiskKey(v.signDiskKey(claims, 60))).toEqual(claims);
    for (const claims of [UPLOAD, { ...UPLOAD, contentType: null, checksum: null, contentLength: 0 }]) expect(v.verifyDiskUpload(v.signDiskUpload(claims, 60))).toEqual(claims);
  });

  it('refuses at the expiry and after it, and accepts 1 ms before', () => {
    let now = 1_700_000_000_123;
    const v = verifier(format, () => now);
    const id = v.signBlobId(7, { expiresIn: 60 });
    const key = v.signDiskKey(KEY, 1);
    now += 999;
    expect(v.verifyDiskKey(key)).toEqual(KEY);
    now += 1;
    expect(refusal(() => v.verifyDiskKey(key)).reason).toBe('expired');
    now += 59_000 - 1;
    expect(v.verifyBlobId(id)).toBe('7');
    now += 1;
    expect(refusal(() => v.verifyBlobId(id)).reason).toBe('expired');
  });

  const v = verifier(format);
  const made = { blob_id: v.signBlobId(42), blob_key: v.signDiskKey(KEY, 60), blob_token: v.signDiskUpload(UPLOAD, 60) };
  const check = { blob_id: (m: string) => v.verifyBlobId(m), blob_key: (m: string) => v.verifyDiskKey(m), blob_token: (m: string) => v.verifyDiskUpload(m) };
  const pairs = (['blob_id', 'blob_key', 'blob_token'] as const).flatMap((a) => (['blob_id', 'blob_key', 'blob_token'] as const).filter((b) => b !== a).map((b) => [a, b] as const));
  it.each(pairs)('refuses a %s message used as %s with purpose', (madeAs, usedAs) => {
    expect(refusal(() => check[usedAs](made[madeAs])).reason).toBe('purpose');
  });

  it('refuses messages signed with another secret_key_base', () => {
    const other = new RailsVerifier({ secretKeyBase: `${SECRET}-other`, messageFormat: format });
    expect(refusal(() => v.verifyBlobId(other.signBlobId(42))).reason).toBe('tampered');
  });

  it('compares digests with timingSafeEqual', () => {
    v.verifyBlobId(made.blob_id);
    expect(crypto.timingSafeEqual).toHaveBeenCalled();
  });

  // From Ruby 3.1: Marshal.dump(Object.new), Marshal.dump(Time.at(0).utc), Marshal.dump(1.5).
  it.each([['an Object', '04086f3a0b4f626a65637400'], ['a Time (_dump)', '040849753a0954696d650d208011c000000000063a097a6f6e65492208555443063a064546'], ['a Float', '04086608312e35']])(
    'refuses a validly signed Marshal payload holding %s as tampered', (_name, hex) => {
      expect(refusal(() => v.verifyBlobId(forge(format, legacy(hex)))).reason).toBe('tampered');
    });
});

describe('formats against each other', () => {
  it('7.1 reads 7.0 messages (same key, 6.1 envelope), as Rails 7.1 does; 7.0 does not read 7.1 ones', () => {
    expect(verifier('7.1').verifyBlobId(verifier('7.0').signBlobId(42))).toBe('42');
    expect(verifier('7.1').verifyDiskKey(verifier('7.0').signDiskKey(KEY, 60))).toEqual(KEY);
    expect(refusal(() => verifier('7.0').verifyBlobId(verifier('7.1').signBlobId(42))).reason).toBe('tampered');
  });

  it('6.1 and 7.x keys differ, so their messages are tampered for each other', () => {
    expect(refusal(() => verifier('7.1').verifyBlobId(verifier('6.1').signBlobId(42))).reason).toBe('tampered');
    expect(refusal(() => verifier('6.1').verifyBlobId(verifier('7.0').signBlobId(42))).reason).toBe('tampered');
  });

  it('alsoAccept verifies the other formats during an upgrade and still signs in messageFormat', () => {
    const upgrading = verifier('7.1', undefined, ['6.1']);
    expect(upgrading.verifyBlobId(verifier('6.1').signBlobId(42))).toBe('42');
    expect(upgrading.verifyBlobId(vectors.signed_ids[1]!.message)).toBe('42');
    expect(upgrading.signBlobId(42)).toBe(vectors.signed_ids[1]!.message);
    expect(verifier('6.1', undefined, ['7.1']).verifyDiskUpload(vectors.disk_upload_token.message).contentLength).toBe(179);
  });

  it('7.1 accepts URL-safe base64 (Rails 7.1+ verifies both alphabets); 6.1 does not', () => {
    const safe = (format: RailsMessageFormat, json: string) => {
      const key = crypto.pbkdf2Sync(SECRET, 'ActiveStorage', 1000, 64, format === '6.1' ? 'sha1' : 'sha256');
      let text = json; // trailing spaces until the URL-safe alphabet differs from the strict one
      while (Buffer.from(text).toString('base64url') === Buffer.from(text).toString('base64')) text += ' ';
      const encoded = Buffer.from(text).toString('base64url');
      return `${encoded}--${crypto.createHmac('sha1', key).update(encoded).digest('hex')}`;
    };
    expect(verifier('7.1').verifyBlobId(safe('7.1', '{"_rails":{"data":"?>?","pur":"blob_id"}}'))).toBe('?>?');
    expect(refusal(() => verifier('6.1').verifyBlobId(safe('6.1', legacy('0408692f')))).reason).toBe('tampered');
  });

  it('7.1 reads a Marshal-serialized 7.1 envelope and a 6.1 envelope with JSON inside', () => {
    // Marshal.dump({"_rails" => {"data" => 42, "pur" => "blob_id"}})
    const marshalled = Buffer.from('04087b0649220b5f7261696c73063a0645547b0749220964617461063b0054692f492208707572063b005449220c626c6f625f6964063b0054', 'hex');
    expect(verifier('7.1').verifyBlobId(forge('7.1', marshalled))).toBe('42');
    const jsonInside = `{"_rails":{"message":"${Buffer.from('42').toString('base64')}","exp":null,"pur":"blob_id"}}`;
    expect(verifier('7.1').verifyBlobId(forge('7.1', jsonInside))).toBe('42');
    expect(refusal(() => verifier('7.0').verifyBlobId(forge('7.0', jsonInside))).reason).toBe('tampered');
  });

  it.each([
    ['a message without metadata', '42', 'purpose'], ['a float id', '{"_rails":{"data":1.5,"pur":"blob_id"}}', 'tampered'],
    ['a hash id', '{"_rails":{"data":{},"pur":"blob_id"}}', 'tampered'], ['no data', '{"_rails":{"pur":"blob_id"}}', 'tampered'],
    ['no purpose', '{"_rails":{"data":1}}', 'purpose'], ['an expiry that is no time', '{"_rails":{"data":1,"exp":"soon","pur":"blob_id"}}', 'tampered'],
    ['claims that are not a hash', '{"_rails":{"data":"k","pur":"blob_key"}}', 'tampered'],
    ['claims without service_name', '{"_rails":{"data":{"key":"k","disposition":"d","content_type":null},"pur":"blob_key"}}', 'tampered'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'tampered'],
  ])('refuses a validly signed 7.1 message with %s (%s)', (_name, serialized, reason) => {
    const v = verifier('7.1');
    const message = forge('7.1', serialized);
    expect(refusal(() => (String(serialized).includes('blob_key') ? v.verifyDiskKey(message) : v.verifyBlobId(message))).reason).toBe(reason);
  });
});

describe('validly signed garbage', () => {
  /** Verifies `message` for each purpose; throws whatever is not an InvalidSignatureError. */
  const tryAll = (v: RailsVerifier, message: string) => {
    for (const check of [() => v.verifyBlobId(message), () => v.verifyDiskKey(message), () => v.verifyDiskUpload(message)]) {
      try {
        check();
      } catch (error) {
        if (!(error instanceof Error && error.name === 'InvalidSignatureError')) throw error;
      }
    }
  };

  it.each(FORMATS)('%s: mutated envelopes with a valid digest only ever give InvalidSignatureError', (format) => {
    const v = verifier(format);
    const seeds = [v.signBlobId(42, { expiresIn: 60 }), v.signDiskKey(KEY, 60), v.signDiskUpload(UPLOAD, 60)].map((m) => Buffer.from(m.split('--')[0]!, 'base64'));
    const outcome = fuzz({ seeds, iterations: 3_000, prefix: Buffer.from('{"_rails":{"'), run: (serialized) => tryAll(v, forge(format, serialized)) });
    expect(outcome.unexpected).toEqual([]);
  });

  it.each(['6.1', '7.0'] as const)('%s: mutated Marshal payloads in a valid envelope only ever give InvalidSignatureError', (format) => {
    const v = verifier(format);
    const inner = (m: string) => Buffer.from(JSON.parse(Buffer.from(m.split('--')[0]!, 'base64').toString())._rails.message, 'base64');
    const seeds = [v.signBlobId(42), v.signDiskKey(KEY, 60), v.signDiskUpload(UPLOAD, 60)].map(inner);
    const run = (marshal: Buffer) => {
      for (const pur of ['blob_id', 'blob_key', 'blob_token']) tryAll(v, forge(format, legacy(marshal.toString('hex'), pur)));
    };
    const outcome = fuzz({ seeds, iterations: 3_000, prefix: Buffer.from([4, 8]), run });
    expect(outcome.unexpected).toEqual([]);
  });
});

describe('inputs and configuration', () => {
  it.each([undefined, null, 42, '', '--', 'x'.repeat(20_000), `${'a'.repeat(10)}--${'0'.repeat(39)}`, `--${'0'.repeat(40)}`, `abc--${'é'.repeat(40)}`])(
    'refuses %j as tampered', (message) => {
      expect(refusal(() => verifier('7.1').verifyBlobId(message)).reason).toBe('tampered');
    });

  it.each([0, -1, Number.NaN, '60', 604_801, 1.5])('refuses expiresIn %j with ArgumentError', (expiresIn) => {
    expect(() => verifier('7.1').signBlobId(1, { expiresIn: expiresIn as number })).toThrow(ArgumentError);
    expect(() => verifier('6.1').signDiskKey(KEY, expiresIn as number)).toThrow(ArgumentError);
  });

  it.each([
    ['a fractional id', () => verifier('7.1').signBlobId(1.5)], ['an empty id', () => verifier('7.1').signBlobId('')],
    ['an empty key', () => verifier('7.1').signDiskKey({ ...KEY, key: '' }, 60)], ['a numeric serviceName', () => verifier('6.1').signDiskKey({ ...KEY, serviceName: 1 as unknown as string }, 60)],
    ['a negative contentLength', () => verifier('7.1').signDiskUpload({ ...UPLOAD, contentLength: -1 }, 60)],
    ['a lone surrogate', () => verifier('6.1').signDiskKey({ ...KEY, disposition: '\ud800' }, 60)],
  ])('refuses %s with ArgumentError', (_name, sign) => {
    expect(sign).toThrow(ArgumentError);
  });

  it.each([[undefined, '7.1'], ['short', '7.1'], [SECRET, '5.2'], [SECRET, undefined]])('refuses secretKeyBase %j / format %j with ConfigurationError', (secretKeyBase, messageFormat) => {
    expect(() => new RailsVerifier({ secretKeyBase, messageFormat } as never)).toThrow(ConfigurationError);
  });

  it('never shows the secret or the derived key', () => {
    const v = verifier('7.1');
    const key = crypto.pbkdf2Sync(SECRET, 'ActiveStorage', 1000, 64, 'sha256').toString('hex');
    const errors = [refusal(() => v.verifyBlobId('x--y')), refusal(() => v.verifyBlobId(vectors.signed_id_expired.message))];
    for (const text of [JSON.stringify(v), inspect(v, { showHidden: true, depth: 5 }), ...errors.map((e) => inspect(e, { depth: 5 }))]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(key);
    }
    expect(() => new RailsVerifier({ secretKeyBase: 'short-secret', messageFormat: '7.1' })).toThrow(/^(?!.*short-secret)/);
  });
});

function swap(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : text[index] === '0' ? '1' : text[index] === 'e' ? 'f' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}
