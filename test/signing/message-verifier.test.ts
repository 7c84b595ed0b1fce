import * as crypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ArgumentError, ConfigurationError, InvalidSignatureError } from '../../src/core/errors.ts';
import { assertExpiresIn, DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, MessageVerifier, type Purpose } from '../../src/signing/MessageVerifier.ts';

// Wraps (never replaces) the real functions, so the verifier's calls can be observed.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual), createHmac: vi.fn(real.createHmac) };
});

const SECRET = 'verifier-test-secret-0123456789abcdef';
const T0 = 1_700_000_000_000; // ms, a whole second
const PURPOSES: Purpose[] = ['blob_id', 'disk_download', 'disk_upload'];

function failure(run: () => unknown): InvalidSignatureError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSignatureError);
    return error as InvalidSignatureError;
  }
  throw new Error('expected an InvalidSignatureError');
}

function replaceAt(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

beforeEach(() => {
  vi.mocked(crypto.timingSafeEqual).mockClear();
  vi.mocked(crypto.createHmac).mockClear();
});

describe('round trip', () => {
  it('returns the payload for the purpose it was signed for, with and without expiry', () => {
    const verifier = new MessageVerifier(SECRET, () => T0);
    const payload = { key: 'abc', service: 'local', n: 1 };
    expect(verifier.verify(verifier.sign(payload, 'disk_download', 60), 'disk_download')).toEqual(payload);
    expect(verifier.verify(verifier.sign('42', 'blob_id'), 'blob_id')).toBe('42');
  });

  it('a token without expiresIn never expires', () => {
    let now = T0;
    const verifier = new MessageVerifier(SECRET, () => now);
    const token = verifier.sign('42', 'blob_id');
    now = T0 + 100 * 365 * 86_400_000;
    expect(verifier.verify(token, 'blob_id')).toBe('42');
  });

  it('refuses a token made with another secret as tampered', () => {
    const token = new MessageVerifier(`${SECRET}-other`).sign('42', 'blob_id');
    expect(failure(() => new MessageVerifier(SECRET).verify(token, 'blob_id')).reason).toBe('tampered');
  });

  it.each([undefined, '', 'short', 'x'.repeat(31)])('refuses a missing or short secret (%j) with ConfigurationError', (secret) => {
    expect(() => new MessageVerifier(secret)).toThrow(ConfigurationError);
  });
});

describe('checklist 10: tampering', () => {
  const verifier = new MessageVerifier(SECRET, () => T0);
  const token = verifier.sign({ key: 'k'.repeat(28), service: 'local', disposition: 'inline', contentType: 'image/png', filename: 'a.png' }, 'disk_download', 300);
  const [payload = '', signature = ''] = token.split('.');

  it('refuses a change of any one character of the payload', () => {
    for (let i = 0; i < payload.length; i++) {
      const changed = `${replaceAt(payload, i)}.${signature}`;
      expect(failure(() => verifier.verify(changed, 'disk_download')).reason).toBe('tampered');
    }
  });

  it('refuses a change of any one character of the signature', () => {
    for (let i = 0; i < signature.length; i++) {
      const changed = `${payload}.${replaceAt(signature, i)}`;
      expect(failure(() => verifier.verify(changed, 'disk_download')).reason).toBe('tampered');
    }
  });

  it('refuses the token cut short at every length, and with parts missing or added', () => {
    for (let n = 0; n < token.length; n++) {
      expect(failure(() => verifier.verify(token.slice(0, n), 'disk_download')).reason).toBe('tampered');
    }
    for (const bad of [payload, `.${signature}`, `${payload}.`, `${token}.x`, `${token}.`, token.replace('.', '')]) {
      expect(failure(() => verifier.verify(bad, 'disk_download')).reason).toBe('tampered');
    }
  });

  it.each([undefined, null, 42, {}, ['a', 'b'], 'x'.repeat(10_000)])('refuses a non-token (%#) as tampered', (value) => {
    expect(failure(() => verifier.verify(value, 'disk_download')).reason).toBe('tampered');
  });

  it('compares signatures with crypto.timingSafeEqual, also for an equal-length wrong signature', () => {
    const equal = vi.mocked(crypto.timingSafeEqual);
    const wrong = `${payload}.${'A'.repeat(signature.length)}`;
    expect(failure(() => verifier.verify(wrong, 'disk_download')).reason).toBe('tampered');
    expect(equal).toHaveBeenCalledTimes(1);
    const [given, expected] = equal.mock.calls[0]!;
    expect(given.byteLength).toBe(expected.byteLength);
    expect(equal.mock.results[0]!.value).toBe(false);
    equal.mockClear();
    verifier.verify(token, 'disk_download');
    expect(equal).toHaveBeenCalledTimes(1);
    expect(equal.mock.results[0]!.value).toBe(true);
  });
});

describe('checklist 11: expiry', () => {
  it('accepts the token until just before exp and refuses it at exp and after', () => {
    let now = T0;
    const verifier = new MessageVerifier(SECRET, () => now);
    const token = verifier.sign('42', 'blob_id', 300);
    for (const offset of [0, 1_000, 299_000, 299_999]) {
      now = T0 + offset;
      expect(verifier.verify(token, 'blob_id')).toBe('42');
    }
    for (const offset of [300_000, 300_001, 301_000, 86_400_000]) {
      now = T0 + offset;
      expect(failure(() => verifier.verify(token, 'blob_id')).reason).toBe('expired');
    }
  });

  it('puts exp at now + expiresIn seconds into the signed envelope; the default lifetime is 300 s', () => {
    const verifier = new MessageVerifier(SECRET, () => T0);
    const envelope = JSON.parse(Buffer.from(verifier.sign('42', 'blob_id', DEFAULT_EXPIRES_IN).split('.')[0]!, 'base64url').toString()) as { e: number };
    expect(envelope.e).toBe(T0 / 1000 + 300);
    expect(DEFAULT_EXPIRES_IN).toBe(300);
  });

  it('an expired token that is also tampered is reported as tampered (the signature is checked first)', () => {
    let now = T0;
    const verifier = new MessageVerifier(SECRET, () => now);
    const token = verifier.sign('42', 'blob_id', 1);
    now = T0 + 5_000;
    expect(failure(() => verifier.verify(replaceAt(token, 3), 'blob_id')).reason).toBe('tampered');
  });
});

describe('checklist 12: purpose confusion', () => {
  const verifier = new MessageVerifier(SECRET, () => T0);
  const pairs = PURPOSES.flatMap((signed) => PURPOSES.filter((p) => p !== signed).map((used) => [signed, used] as const));

  it.each(pairs)('a token signed for %s is refused for %s', (signed, used) => {
    const token = verifier.sign({ key: 'abc' }, signed, 300);
    expect(failure(() => verifier.verify(token, used)).reason).toBe('purpose');
    expect(verifier.verify(token, signed)).toEqual({ key: 'abc' });
  });
});

describe('checklist 15: expiresIn is validated before anything is signed', () => {
  it.each([0, -1, NaN, '300', 604_801, 1.5, Infinity, null])('sign(…, %j) throws ArgumentError and computes no HMAC', (expiresIn) => {
    const verifier = new MessageVerifier(SECRET, () => T0);
    vi.mocked(crypto.createHmac).mockClear();
    expect(() => verifier.sign('42', 'blob_id', expiresIn as number)).toThrow(ArgumentError);
    expect(() => assertExpiresIn(expiresIn)).toThrow(ArgumentError);
    expect(crypto.createHmac).not.toHaveBeenCalled();
  });

  it.each([1, 300, MAX_EXPIRES_IN])('accepts %d seconds', (expiresIn) => {
    const verifier = new MessageVerifier(SECRET, () => T0);
    expect(verifier.verify(verifier.sign('42', 'blob_id', expiresIn), 'blob_id')).toBe('42');
    expect(MAX_EXPIRES_IN).toBe(604_800);
  });
});

describe('secrets never print', () => {
  it('JSON and the token itself do not contain the secret', () => {
    const verifier = new MessageVerifier(SECRET);
    expect(JSON.stringify({ verifier })).not.toContain(SECRET);
    expect(verifier.sign('42', 'blob_id')).not.toContain(SECRET);
  });
});
