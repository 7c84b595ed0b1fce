import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Blob } from '../../src/index.ts';
import { servedAsBinary, servedHeaders, storedHeaders } from '../../src/content/serving.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { decodeToken, HOSTILE_FILENAMES, serveBoth, tokenOf, WELL_FORMED_DISPOSITION, type Answer, type Both } from '../http/harness.ts';
import { runtimeOf } from '../../src/attache.ts';

// The serving rules (serving.ts) as a client of a Disk URL sees them; the proxy route's side is in blobs.test.ts.
const fixtures = path.resolve(import.meta.dirname, '../../examples/fixtures');
const HTML = Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>');
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

let f: AttacheFixture;
let both: Both;
let png: Buffer<ArrayBuffer>;
let pngBlob: Blob;
let pngUrl: string;

async function attached(io: Buffer, filename: string, contentType?: string): Promise<Blob> {
  const users = f.db.dataSource.getRepository(User);
  const user = await users.save(users.create({ name: 'Served' }));
  await user.avatar.attach({ io, filename, contentType });
  return (await user.avatar.blob())!;
}

const get = (urlPath: string, init?: RequestInit): Promise<Answer> => both.get(urlPath, init);

beforeAll(async () => {
  f = await openAttache();
  both = await serveBoth(f.attache);
  png = Buffer.from(await readFile(path.join(fixtures, 'ada.png')));
  pngBlob = await attached(png, 'ada.png');
  pngUrl = await pngBlob.url();
});
afterAll(async () => {
  await both.node.close();
  await f.close();
});

describe('checklist 17: risky types are downloaded, never rendered', () => {
  it.each([
    ['HTML', HTML, 'text/html'],
    ['SVG', SVG, 'image/svg+xml'],
  ])('%s declared as image/png keeps its real type in the row and is served as application/octet-stream, attachment, nosniff', async (_label, bytes, realType) => {
    const blob = await attached(bytes, 'innocent.png', 'image/png');
    expect(blob.contentType).toBe(realType);
    const answer = await get(await blob.url({ disposition: 'inline' }));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/octet-stream');
    expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('even a validly signed inline token for HTML is served as attachment', async () => {
    const blob = await attached(HTML, 'page.html');
    const url = runtimeOf(f.attache).routes.diskDownload('local', blob.key, { expiresIn: 300, disposition: 'inline', contentType: 'text/html', filename: 'page.html' });
    expect((decodeToken(tokenOf(url)).d as { disposition: string }).disposition).toBe('inline');
    const answer = await get(url);
    expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('a PNG is inline', async () => {
    expect((await get(pngUrl)).headers.get('content-disposition')).toMatch(/^inline; /);
  });
});

describe('checklist 18: the served type is the strictly parsed essence', () => {
  it.each([
    ['text/html;image/png', 'application/octet-stream', 'attachment'],
    ['image/png, text/html', 'application/octet-stream', 'attachment'],
    [' IMAGE/PNG ', 'image/png', 'inline'],
    ['image/png\r\nX-Evil: 1', 'application/octet-stream', 'attachment'],
    ['image/png; charset="x"\r\nSet-Cookie: a=b', 'application/octet-stream', 'attachment'],
  ])('a signed content type %j is served as %s, %s', async (signedType, served, disposition) => {
    const url = runtimeOf(f.attache).routes.diskDownload('local', pngBlob.key, { expiresIn: 300, disposition: 'inline', contentType: signedType, filename: 'x.png' });
    const answer = await get(url);
    expect(answer.headers.get('content-type')).toBe(served);
    expect(answer.headers.get('content-disposition')).toMatch(new RegExp(`^${disposition}; `));
    expect(answer.headers.get('x-evil')).toBeNull();
    expect(answer.headers.get('set-cookie')).toBeNull();
  });
});

describe('checklist 19: hostile filenames', () => {
  it.each(HOSTILE_FILENAMES.map((name) => [JSON.stringify(name).slice(0, 40), name]))('%s gives a well-formed Content-Disposition and a harmless URL', async (_label, name) => {
    const blob = await attached(png, name);
    expect(blob.key).toMatch(/^[a-z0-9]{28}$/);
    for (const url of [await blob.url(), await pngBlob.url({ filename: name })]) {
      const segments = url.split('/');
      expect(segments).toHaveLength(5);
      const shown = decodeURIComponent(segments[4]!);
      expect(shown).not.toMatch(/[/\\\u0000-\u001f\u007f\u202a-\u202e"]/);
      expect(shown.startsWith('.')).toBe(false);
      expect(Buffer.byteLength(shown)).toBeLessThanOrEqual(255);
      const answer = await get(url);
      expect(answer.status).toBe(200);
      const disposition = answer.headers.get('content-disposition')!;
      expect(disposition).toMatch(WELL_FORMED_DISPOSITION);
      expect(answer.headers.get('set-cookie')).toBeNull();
    }
  });
});

describe('servedHeaders and storedHeaders: one policy for what is served and what is stored', () => {
  const RISKY = [
    'text/html', 'image/svg+xml', 'text/xml', 'application/xml', 'application/xhtml+xml', 'application/mathml+xml',
    'text/cache-manifest', 'application/postscript', 'application/x-shockwave-flash',
    'text/javascript', 'application/javascript', 'application/ecmascript', 'application/x-javascript', 'text/ecmascript',
    'text/jscript', 'text/livescript', 'text/x-javascript', 'text/javascript1.5', 'text/xsl', 'application/xslt+xml',
    'application/rss+xml', 'application/atom+xml', 'TEXT/HTML; charset=utf-8', 'Image/SVG+XML',
  ];

  it.each(RISKY)('%s is served and stored as application/octet-stream, attachment, whatever was asked', (type) => {
    expect(servedAsBinary(type)).toBe(true);
    const served = servedHeaders({ contentType: type, disposition: 'inline', filename: 'x' });
    expect([served['content-type'], served['content-disposition']]).toEqual(['application/octet-stream', `attachment; filename="x"; filename*=UTF-8''x`]);
    expect(storedHeaders({ contentType: type, disposition: 'inline', filename: 'x' })).toEqual({ contentType: 'application/octet-stream', contentDisposition: `attachment; filename="x"; filename*=UTF-8''x` });
    expect(storedHeaders({ contentType: type })).toEqual({ contentType: 'application/octet-stream', contentDisposition: 'attachment' });
  });

  it.each([
    ['image/png', 'inline', { contentType: 'image/png', contentDisposition: `inline; filename="x"; filename*=UTF-8''x` }],
    ['image/png', 'attachment', { contentType: 'image/png', contentDisposition: `attachment; filename="x"; filename*=UTF-8''x` }],
    ['application/pdf', undefined, { contentType: 'application/pdf', contentDisposition: `inline; filename="x"; filename*=UTF-8''x` }],
    ['video/mp4', 'inline', { contentType: 'video/mp4', contentDisposition: `attachment; filename="x"; filename*=UTF-8''x` }],
    ['text/plain', 'inline', { contentType: 'text/plain', contentDisposition: `attachment; filename="x"; filename*=UTF-8''x` }],
    [undefined, undefined, { contentType: 'application/octet-stream', contentDisposition: `attachment; filename="x"; filename*=UTF-8''x` }],
    ['image/png, text/html', 'inline', { contentType: 'application/octet-stream', contentDisposition: `attachment; filename="x"; filename*=UTF-8''x` }],
  ] as const)('%s asked %s is stored as %o (only raster images and PDF inline)', (type, disposition, expected) => {
    expect(storedHeaders({ contentType: type, disposition, filename: 'x' })).toEqual(expected);
  });

  it('an inline-allowed type without a filename stores no disposition (the browser default is inline)', () => {
    expect(storedHeaders({ contentType: 'image/png' })).toEqual({ contentType: 'image/png' });
  });
});
