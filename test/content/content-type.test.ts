import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { identifyContentType, parseMediaType, SNIFF_BYTES } from '../../src/content/content-type.ts';

const text = (s: string) => new TextEncoder().encode(s);

/** A minimal valid PNG head: the signature and a 1×1 RGBA IHDR chunk with its CRC. */
function pngHead(): Uint8Array {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const type = Buffer.from('IHDR', 'ascii');
  const data = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
  return Buffer.concat([signature, length, type, data, crc]);
}

/** A JPEG head (SOI + JFIF APP0). */
const JPEG_HEAD = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);

const HTML = '<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>';
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="1"/></svg>';
const SVG_PROLOG = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n${SVG}`;
const SVG_ILLUSTRATOR = `<?xml version="1.0" encoding="utf-8"?>
<!-- Generator: Adobe Illustrator 16.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
${SVG}`;
const PLAIN = 'Just some notes.\nNothing to see here.\n';

describe('parseMediaType (checklist 18)', () => {
  it.each([
    ['text/html;image/png', 'text/html'],
    ['image/png, text/html', null],
    [' IMAGE/PNG ', 'image/png'],
    ['image/png\r\nX-Evil: 1', null],
    ['image/png\nX-Evil: 1', null],
    ['image/png\u0000', null],
    ['image', null],
    ['a/b/c', null],
    ['', null],
    ['/', null],
    ['image/', null],
    ['/png', null],
    ['image /png', null],
    ['image/pn g', null],
    ['image/p\u00e9ng', null],
    ['text/plain; charset=utf-8', 'text/plain'],
    ['Text/HTML ; charset="x"', 'text/html'],
    ['application/vnd.api+json', 'application/vnd.api+json'],
    ['image/svg+xml', 'image/svg+xml'],
    [42, null],
    [null, null],
    [undefined, null],
    [['image/png'], null],
    [{ toString: () => 'image/png' }, null],
  ])('%j → %j', (input, expected) => {
    expect(parseMediaType(input)).toBe(expected);
  });
});

describe('identifyContentType (checklist 17)', () => {
  it('builds a PNG head that is a PNG (guards the fixture)', async () => {
    expect(await identifyContentType({ head: pngHead() })).toBe('image/png');
  });

  it.each([
    ['HTML declared image/png', { head: text(HTML), declared: 'image/png' }, 'text/html'],
    ['a bare <html> declared image/png', { head: text('<html><p>x</p></html>'), declared: 'image/png' }, 'text/html'],
    ['an HTML <script> declared image/gif', { head: text('<script>alert(1)</script>'), declared: 'image/gif' }, 'text/html'],
    ['an HTML comment first declared image/png', { head: text(`<!-- x -->${HTML}`), declared: 'image/png' }, 'text/html'],
    ['upper-case HTML declared image/png', { head: text('<HTML><BODY>x</BODY></HTML>'), declared: 'image/png' }, 'text/html'],
    ['HTML after a UTF-8 BOM', { head: text(`\uFEFF${HTML}`), declared: 'image/png' }, 'text/html'],
    ['HTML after whitespace', { head: text(`\r\n \t${HTML}`), declared: 'image/png' }, 'text/html'],
    ['HTML named photo.png', { head: text(HTML), filename: 'photo.png' }, 'text/html'],
    ['HTML declared image/png with trustDeclared', { head: text(HTML), declared: 'image/png', trustDeclared: true }, 'text/html'],
    ['HTML declared text/plain with trustDeclared', { head: text(HTML), declared: 'text/plain', trustDeclared: true }, 'text/html'],
    ['plain SVG declared image/png', { head: text(SVG), declared: 'image/png' }, 'image/svg+xml'],
    ['SVG with an <?xml prolog declared image/png', { head: text(SVG_PROLOG), declared: 'image/png' }, 'image/svg+xml'],
    ['SVG with prolog, comment and doctype declared image/png', { head: text(SVG_ILLUSTRATOR), declared: 'image/png' }, 'image/svg+xml'],
    ['SVG after whitespace', { head: text(`\n\n   ${SVG}`), declared: 'image/png' }, 'image/svg+xml'],
    ['SVG after a BOM', { head: text(`\uFEFF${SVG}`), declared: 'image/png' }, 'image/svg+xml'],
    ['SVG declared image/png with trustDeclared', { head: text(SVG), declared: 'image/png', trustDeclared: true }, 'image/svg+xml'],
    ['a real PNG declared text/plain', { head: pngHead(), declared: 'text/plain' }, 'image/png'],
    ['a real PNG named notes.txt', { head: pngHead(), filename: 'notes.txt' }, 'image/png'],
    ['a real JPEG named shell.php.jpg', { head: JPEG_HEAD, filename: 'shell.php.jpg' }, 'image/jpeg'],
    ['PDF bytes with no declared type', { head: text('%PDF-1.4\n%\u00e2\u00e3\n1 0 obj\n<<>>\nendobj\n') }, 'application/pdf'],
    ['plain text named notes.txt', { head: text(PLAIN), filename: 'notes.txt' }, 'text/plain'],
    ['plain text declared text/plain', { head: text(PLAIN), declared: 'text/plain' }, 'text/plain'],
    ['empty bytes named a.csv', { head: new Uint8Array(0), filename: 'a.csv' }, 'text/csv'],
    ['plain bytes declared application/x-custom with trustDeclared', { head: text(PLAIN), declared: 'application/x-custom', trustDeclared: true }, 'application/x-custom'],
    ['plain bytes declared with parameters and trustDeclared', { head: text(PLAIN), declared: ' Text/CSV; charset=utf-8', trustDeclared: true }, 'text/csv'],
    ['plain bytes, no hints', { head: text(PLAIN) }, 'application/octet-stream'],
    ['empty bytes, no hints', { head: new Uint8Array(0) }, 'application/octet-stream'],
  ])('%s → %s', async (_label, input, expected) => {
    expect(await identifyContentType(input)).toBe(expected);
  });

  // The bytes must confirm an image, media, PDF or zip type: text never becomes one by claim or name.
  it.each([
    ['plain text declared image/png', { head: text(PLAIN), declared: 'image/png' }],
    ['plain text declared image/svg+xml', { head: text(PLAIN), declared: 'image/svg+xml' }],
    ['plain text declared application/pdf', { head: text(PLAIN), declared: 'application/pdf' }],
    ['plain text named shell.php.jpg', { head: text(PLAIN), filename: 'shell.php.jpg' }],
    ['PHP named shell.php.jpg', { head: text('<?php system($_GET["c"]); ?>'), filename: 'shell.php.jpg' }],
    ['plain text declared image/jpeg and named shell.php.jpg', { head: text(PLAIN), declared: 'image/jpeg', filename: 'shell.php.jpg' }],
    ['plain text declared image/png and named x.pdf', { head: text(PLAIN), declared: 'image/png', filename: 'x.pdf' }],
    ['an <img onerror> declared image/png', { head: text('<img src=x onerror=alert(1)>'), declared: 'image/png' }],
    ['empty bytes named a.png', { head: new Uint8Array(0), filename: 'a.png' }],
    ['a smuggled header in the declared type', { head: text(PLAIN), declared: 'image/png\r\nX-Evil: 1' }],
    ['a list in the declared type', { head: text(PLAIN), declared: 'image/png, text/html' }],
  ])('%s is not stored as an image, PDF or markup type', async (_label, input) => {
    const type = await identifyContentType(input);
    expect(type).not.toMatch(/^(image|audio|video|font)\//);
    expect(type).not.toBe('application/pdf');
    expect(type).not.toBe('text/html');
    expect(['application/octet-stream', 'text/plain']).toContain(type);
  });

  it('gives application/octet-stream (not text/plain) for plain text declared image/png', async () => {
    expect(await identifyContentType({ head: text(PLAIN), declared: 'image/png' })).toBe('application/octet-stream');
  });

  it('takes the first parameter-free essence of a trusted declared type, never the one after ";"', async () => {
    expect(await identifyContentType({ head: text(PLAIN), declared: 'text/plain;text/html', trustDeclared: true })).toBe('text/plain');
  });

  it('sniffs HTML at the start of a head as long as SNIFF_BYTES', async () => {
    const head = text(HTML.padEnd(SNIFF_BYTES, ' '));
    expect(head.length).toBe(SNIFF_BYTES);
    expect(await identifyContentType({ head, declared: 'image/png' })).toBe('text/html');
  });
});
