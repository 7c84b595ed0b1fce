import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ArgumentError, type Blob } from '../../src/index.ts';
import { MessageVerifier } from '../../src/signing/MessageVerifier.ts';
import { openAttache, TEST_SECRET, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { decodeToken, flipChar, forgePayload, serveBoth, tokenOf, watchReads, type Answer, type Both } from './harness.ts';
import { runtimeOf } from '../../src/attache.ts';

const fixtures = path.resolve(import.meta.dirname, '../../examples/fixtures');
const NOT_FOUND = 'Not Found\n';

let f: AttacheFixture;
let both: Both;
let png: Buffer<ArrayBuffer>;
let pngBlob: Blob;
let pngUrl: string;

async function newUser(name = 'Ada'): Promise<User> {
  const users = f.db.dataSource.getRepository(User);
  return users.save(users.create({ name }));
}

async function attached(io: Buffer, filename: string, contentType?: string): Promise<Blob> {
  const user = await newUser();
  await user.avatar.attach({ io, filename, contentType });
  return (await user.avatar.blob())!;
}

/** Both adapters answer the same; returns the Node one. */
const get = (urlPath: string, init?: RequestInit): Promise<Answer> => both.get(urlPath, init);

function expectNotFound(answer: Answer): void {
  expect(answer.status).toBe(404);
  expect(answer.body.toString()).toBe(NOT_FOUND);
}

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

describe('GET|HEAD {mount}/disk/:token/:filename', () => {
  it('serves a PNG inline with the signed headers, nosniff, a sandbox CSP and no cookie', async () => {
    expect(pngUrl).toMatch(/^\/attache\/disk\/[\w-]+\.[\w-]+\/ada\.png$/);
    const answer = await get(pngUrl);
    expect(answer.status).toBe(200);
    expect(answer.body.equals(png)).toBe(true);
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect(answer.headers.get('content-disposition')).toBe(`inline; filename="ada.png"; filename*=UTF-8''ada.png`);
    expect(answer.headers.get('content-length')).toBe(String(png.length));
    expect(answer.headers.get('accept-ranges')).toBe('bytes');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('content-security-policy')).toContain('sandbox');
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('honours a signed attachment disposition and filename', async () => {
    const answer = await get(await pngBlob.url({ disposition: 'attachment', filename: 'portrait.png' }));
    expect(answer.headers.get('content-disposition')).toBe(`attachment; filename="portrait.png"; filename*=UTF-8''portrait.png`);
  });

  it('HEAD sends the headers and Content-Length only, and never reads the file', async () => {
    const watch = watchReads(f.attache.service('local'), { forbidAll: true });
    try {
      const answer = await get(pngUrl, { method: 'HEAD' });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-length')).toBe(String(png.length));
      expect(answer.headers.get('content-type')).toBe('image/png');
      expect(answer.body.length).toBe(0);
      expect(watch.calls).toEqual([]);
    } finally {
      watch.restore();
    }
  });

  it('answers 404 when the object is gone', async () => {
    const blob = await attached(Buffer.from('short-lived'), 'gone.txt');
    const url = await blob.url();
    await f.attache.service('local').delete(blob.key);
    expectNotFound(await get(url));
  });

  it('refuses other methods with 405 and Allow', async () => {
    const answer = await get(pngUrl, { method: 'POST', body: 'x' });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('checklist 10: a tampered token is 404, never 500', () => {
  it('any one character of the payload or the signature changed', async () => {
    const token = tokenOf(pngUrl);
    const dot = token.indexOf('.');
    const positions = Array.from({ length: token.length }, (_, i) => i).filter((i) => i !== dot);
    for (const i of positions) {
      const answer = await both.viaFetch(pngUrl.replace(token, flipChar(token, i)));
      expect([i, answer.status]).toEqual([i, 404]);
    }
    // And through the real server for the first, a middle and the last character of each part.
    for (const i of [0, dot - 1, dot + 1, token.length - 1]) expectNotFound(await get(pngUrl.replace(token, flipChar(token, i))));
  });

  it('cut short, or with parts missing', async () => {
    const token = tokenOf(pngUrl);
    for (const bad of [token.slice(0, -1), token.slice(0, token.indexOf('.') + 1), token.split('.')[0]!, token.slice(0, 10), `${token}.x`]) {
      expectNotFound(await get(pngUrl.replace(token, bad)));
    }
  });
});

describe('checklist 11: expiry', () => {
  const claims = (): unknown => decodeToken(tokenOf(pngUrl)).d;
  /** A disk path whose token was signed `agoMs` ago for `expiresIn` seconds, by the same secret. */
  const signedAgo = (agoMs: number, expiresIn: number): string =>
    `/attache/disk/${new MessageVerifier(TEST_SECRET, () => Date.now() - agoMs).sign(claims(), 'disk_download', expiresIn)}/ada.png`;

  it('blob.url() lives 300 s by default, and expiresIn sets exp', async () => {
    const before = Math.floor(Date.now() / 1000);
    const url = await pngBlob.url();
    const after = Math.floor(Date.now() / 1000);
    const { e } = decodeToken(tokenOf(url));
    expect(e).toBeGreaterThanOrEqual(before + 300);
    expect(e).toBeLessThanOrEqual(after + 300);
    const { e: e60 } = decodeToken(tokenOf(await pngBlob.url({ expiresIn: 60 })));
    expect(e60! - e!).toBeGreaterThanOrEqual(-241);
    expect(e60! - e!).toBeLessThanOrEqual(-239);
  });

  it('is refused at exp and after, and honoured before', async () => {
    expectNotFound(await get(signedAgo(300_000, 300))); // exp is this very second
    expectNotFound(await get(signedAgo(301_000, 300))); // exp was a second ago
    expect((await get(signedAgo(280_000, 300))).status).toBe(200); // 20 s left
  });
});

describe('checklist 12: purpose confusion', () => {
  it('a signed blob id is not a download token', async () => {
    expectNotFound(await get(`/attache/disk/${pngBlob.signedId()}/ada.png`));
    expectNotFound(await get(`/attache/disk/${pngBlob.signedId({ expiresIn: 300 })}/ada.png`));
  });

  it('a download token is not a signed blob id (proxy and redirect)', async () => {
    const token = tokenOf(pngUrl);
    expectNotFound(await get(`/attache/blobs/proxy/${token}/ada.png`));
    expectNotFound(await get(`/attache/blobs/redirect/${token}/ada.png`));
  });

  it('an upload token cannot download, and a download token cannot upload', async () => {
    const service = f.attache.service('local');
    const uploadUrl = await service.urlForDirectUpload(pngBlob.key, { expiresIn: 300, contentType: 'image/png', contentLength: png.length, checksum: pngBlob.checksum! });
    expectNotFound(await get(`${uploadUrl}/ada.png`));
    const upload = vi.spyOn(service, 'upload');
    try {
      const headers = service.headersForDirectUpload(pngBlob.key, { contentType: 'image/png', checksum: pngBlob.checksum! });
      expectNotFound(await both.viaNode(`/attache/disk/${tokenOf(pngUrl)}`, { method: 'PUT', body: png, headers }));
      expect(upload).not.toHaveBeenCalled();
    } finally {
      upload.mockRestore();
    }
  });
});

describe('checklist 13: a token for one service is not honoured by another', () => {
  it('swapping the service inside the payload breaks the signature', async () => {
    const token = tokenOf(pngUrl);
    const envelope = decodeToken(token) as { d: { service: string } };
    expect(envelope.d.service).toBe('local');
    const forged = forgePayload(token, { ...envelope, d: { ...envelope.d, service: 'archive' } });
    expectNotFound(await get(pngUrl.replace(token, forged)));
  });

  it('a valid token for `local` does not read a key stored only on `archive`', async () => {
    const user = await newUser();
    await user.documents.attach({ io: Buffer.from('archived bytes'), filename: 'notes.txt' });
    const [doc] = await user.documents.blobs();
    expect(doc!.serviceName).toBe('archive');
    const options = { expiresIn: 300, disposition: 'attachment', contentType: 'text/plain', filename: 'notes.txt' } as const;
    expectNotFound(await get(runtimeOf(f.attache).routes.diskDownload('local', doc!.key, options)));
    expectNotFound(await get(runtimeOf(f.attache).routes.diskDownload('nope', doc!.key, options)));
    const control = await get(runtimeOf(f.attache).routes.diskDownload('archive', doc!.key, options));
    expect(control.status).toBe(200);
    expect(control.body.toString()).toBe('archived bytes');
  });

  it('a validly signed traversal key is 404 (the Disk containment check still applies)', async () => {
    const options = { expiresIn: 300, disposition: 'attachment', contentType: 'text/plain', filename: 'passwd' } as const;
    for (const key of ['../../etc/passwd', '/etc/passwd', 'a/../../x']) {
      expectNotFound(await get(runtimeOf(f.attache).routes.diskDownload('local', key, options)));
    }
  });
});

describe('checklist 14: response overrides only from inside the signature', () => {
  it('query parameters and the path filename change nothing', async () => {
    const plain = await get(pngUrl);
    const attachmentUrl = await pngBlob.url({ disposition: 'attachment' });
    for (const url of [pngUrl, attachmentUrl]) {
      const base = await get(url);
      const overridden = await get(`${url}?disposition=inline&content_type=text/html&response-content-type=text/html&response-content-disposition=inline`);
      expect(overridden.headers.get('content-type')).toBe('image/png');
      expect(overridden.headers.get('content-disposition')).toBe(base.headers.get('content-disposition'));
      const renamed = await get(url.replace(/ada\.png$/, 'evil.html'));
      expect(renamed.headers.get('content-disposition')).toBe(base.headers.get('content-disposition'));
      expect(renamed.headers.get('content-type')).toBe('image/png');
    }
    expect(plain.headers.get('content-disposition')).toMatch(/^inline;/);
  });
});

describe('checklist 15: expiresIn is checked before anything is signed', () => {
  it.each([0, -1, NaN, '300', 604_801])('blob.url({ expiresIn: %j }) throws ArgumentError and signs nothing', async (expiresIn) => {
    const sign = vi.spyOn(runtimeOf(f.attache).verifier, 'sign');
    const url = vi.spyOn(f.attache.service('local'), 'url');
    try {
      await expect(pngBlob.url({ expiresIn: expiresIn as number })).rejects.toThrow(ArgumentError);
      expect(sign).not.toHaveBeenCalled();
      expect(url).not.toHaveBeenCalled();
    } finally {
      sign.mockRestore();
      url.mockRestore();
    }
  });
});
