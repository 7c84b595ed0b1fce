import { describe, expect, it } from 'vitest';
import { extensionOf, sanitizeFilename } from '../../src/content/filename.ts';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** What every sanitized filename must be, whatever came in. */
function expectSafe(name: string): void {
  expect(name.length).toBeGreaterThan(0);
  expect(bytes(name)).toBeLessThanOrEqual(255);
  expect(name.isWellFormed()).toBe(true);
  expect(name).not.toMatch(/[/\\"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  expect(name.split(/[/\\]/)).not.toContain('..');
  expect(name.startsWith('.')).toBe(false);
  // It must go into an RFC 5987 `filename*=` without throwing.
  expect(() => encodeURIComponent(name)).not.toThrow();
}

describe('sanitizeFilename (checklist 19)', () => {
  it.each([
    ['a traversal', '../../evil.sh', 'evil.sh'],
    ['a Windows traversal', '..\\..\\evil.sh', 'evil.sh'],
    ['an absolute path', '/etc/passwd', 'passwd'],
    ['a quote', 'a".html', 'a-.html'],
    ['a header injection', 'x\r\nSet-Cookie: a=b', 'x--Set-Cookie- a=b'],
    ['an RTL override', 'invoice\u202Egpj.exe', 'invoice-gpj.exe'],
    ['a bidi isolate', 'a\u2066b.txt', 'a-b.txt'],
    ['a NUL', 'evil.php\u0000.jpg', 'evil.php-.jpg'],
    ['a C1 control', 'a\u0085b.txt', 'a-b.txt'],
    ['a double extension', 'shell.php.jpg', 'shell.php.jpg'],
    ['shell metacharacters', 'a|b;c$d%e*f?g<h>i:j.txt', 'a-b-c-d-e-f-g-h-i-j.txt'],
    ['a hidden file', '.htaccess', 'htaccess'],
    ['dots only', '...', 'file'],
    ['a lone dot-dot', '..', 'file'],
    ['a trailing slash', 'dir/', 'file'],
    ['unsafe characters only', '"<>"', 'file'],
    ['surrounding spaces', '  report.pdf  ', 'report.pdf'],
    ['a lone surrogate', 'a\uD800b.txt', 'a\uFFFDb.txt'],
    ['a plain name', 'Résumé 2024 (final).pdf', 'Résumé 2024 (final).pdf'],
    ['an emoji', '🎉 party.png', '🎉 party.png'],
    ['an empty string', '', 'file'],
    ['whitespace', '   ', 'file'],
    ['a number', 42, 'file'],
    ['null', null, 'file'],
    ['undefined', undefined, 'file'],
    ['an object', { toString: () => '../../x' }, 'file'],
  ])('%s', (_label, input, expected) => {
    const name = sanitizeFilename(input);
    expect(name).toBe(expected);
    expectSafe(name);
  });

  it.each([
    ['1,000 ASCII characters', `${'a'.repeat(1000)}.txt`, '.txt'],
    ['1,000 two-byte characters', `${'é'.repeat(1000)}.txt`, '.txt'],
    ['1,000 three-byte characters', `${'日'.repeat(1000)}.pdf`, '.pdf'],
    ['1,000 emoji', `${'😀'.repeat(1000)}.png`, '.png'],
    ['1,000 characters with no extension', 'b'.repeat(1000), ''],
    ['a long name with a multibyte extension', `${'a'.repeat(1000)}.ñandú`, '.ñandú'],
    ['a long name with an emoji extension', `${'a'.repeat(300)}.${'😀'.repeat(10)}`, null],
    ['a long name with a long extension', `${'a'.repeat(300)}.${'x'.repeat(100)}`, null],
    ['a long name made of unsafe characters', `${'"'.repeat(1000)}x.txt`, '.txt'],
    ['a very long extension only', `a.${'x'.repeat(1000)}`, null],
  ])('caps %s at 255 UTF-8 bytes, keeping the extension', (_label, input, ext) => {
    const name = sanitizeFilename(input);
    expectSafe(name);
    expect(bytes(name)).toBeGreaterThan(200);
    if (ext !== null) expect(name.endsWith(ext)).toBe(true);
    // Truncation cuts between characters, never inside one.
    expect(name.includes('\uFFFD')).toBe(false);
  });

  it('keeps an astral extension whole (no half surrogate pair)', () => {
    const name = sanitizeFilename(`${'a'.repeat(300)}.${'😀'.repeat(10)}`);
    expect(name.isWellFormed()).toBe(true);
    expect(name).toMatch(/^a+\.(😀)+$/u);
  });

  it('leaves a name of exactly 255 bytes alone', () => {
    const name = `${'é'.repeat(125)}x.txt`; // 250 + 5 bytes
    expect(bytes(name)).toBe(255);
    expect(sanitizeFilename(name)).toBe(name);
  });

  it('sanitizes a 1 MB filename in linear time', () => {
    const started = performance.now();
    const name = sanitizeFilename(`${'é'.repeat(1_000_000)}.txt`);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(name.endsWith('.txt')).toBe(true);
    expect(bytes(name)).toBeLessThanOrEqual(255);
  });
});

describe('extensionOf', () => {
  it.each([
    ['photo.PNG', 'png'],
    ['shell.php.jpg', 'jpg'],
    ['archive.tar.gz', 'gz'],
    ['README', ''],
    ['.htaccess', ''],
    ['trailing.', ''],
    ['', ''],
    ['dir.d/file', ''],
    ['ñandú.ÉTÉ', 'été'],
  ])('%j → %j', (name, expected) => {
    expect(extensionOf(name)).toBe(expected);
  });
});
