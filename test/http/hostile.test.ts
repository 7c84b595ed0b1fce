import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { MessageVerifier } from '../../src/signing/MessageVerifier.ts';
import type { Blob } from '../../src/index.ts';
import { openAttache, TEST_SECRET, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { flipChar, serveBoth, type Both } from './harness.ts';

let f: AttacheFixture;
let both: Both;
const errors: unknown[] = [];
let blob: Blob;
let purged: { proxy: string; redirect: string; disk: string };

beforeAll(async () => {
  f = await openAttache();
  both = await serveBoth(f.attache, { onError: (error) => errors.push(error) });
  const users = f.db.dataSource.getRepository(User);
  const user = await users.save(users.create({ name: 'Target' }));
  await user.avatar.attach({ io: Buffer.from('target bytes'), filename: 'target.txt' });
  blob = (await user.avatar.blob())!;
  const doomed = await f.attache.createAndUpload({ io: Buffer.from('doomed'), filename: 'doomed.txt' });
  purged = { proxy: doomed.proxyUrl(), redirect: doomed.redirectUrl(), disk: await doomed.url() };
  await doomed.purge();
});
afterAll(async () => {
  await both.node.close();
  await f.close();
});

/** A small deterministic generator, so a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

const GARBAGE = ['%ZZ', '%00', '%2e%2e', '..', '%2F', '\u202e', 'a'.repeat(5000), '', '.', '%', '%C0%AF', '~', '*'];

function mutations(path: string, next: () => number): string[] {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < 12; i++) {
    const copy = [...segments];
    const at = 1 + Math.floor(next() * (copy.length - 1));
    const kind = Math.floor(next() * 5);
    if (kind === 0) copy[at] = flipChar(copy[at] ?? 'x', Math.floor(next() * Math.max(1, (copy[at] ?? 'x').length)));
    else if (kind === 1) copy[at] = (copy[at] ?? '').slice(0, Math.floor(next() * (copy[at] ?? '').length));
    else if (kind === 2) copy.splice(at, 0, GARBAGE[Math.floor(next() * GARBAGE.length)]!);
    else if (kind === 3) copy[at] = GARBAGE[Math.floor(next() * GARBAGE.length)]!;
    else copy.push(GARBAGE[Math.floor(next() * GARBAGE.length)]!);
    out.push(copy.join('/'));
  }
  return out;
}

async function expectNever500(path: string, init: RequestInit = {}): Promise<void> {
  let status: number;
  try {
    status = (await both.viaNode(path, init)).status;
  } catch {
    return; // the client refused to send it (an invalid URL or header): nothing reached attache
  }
  expect({ path: path.slice(0, 200), method: init.method ?? 'GET', status }).toMatchObject({ status: expect.any(Number) });
  expect(status, `${init.method ?? 'GET'} ${path.slice(0, 200)}`).toBeLessThan(500);
}

describe('the HTTP handler never answers 500 to a bad, stale or hostile request (checklist 36)', () => {
  it('mutated paths of every route, with every method', async () => {
    const next = random(42);
    const valid = [blob.proxyUrl(), blob.redirectUrl(), await blob.url(), '/attache/direct_uploads'];
    for (const path of valid) {
      for (const mutated of [path, ...mutations(path, next)]) {
        for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']) {
          await expectNever500(mutated, { method, ...(method === 'PUT' || method === 'POST' ? { body: 'x' } : {}) });
        }
      }
    }
    expect(errors).toEqual([]);
  }, 60_000);

  it('stale links: a purged blob, an expired token, a token of an unknown service', async () => {
    for (const path of Object.values(purged)) expect((await both.get(path)).status).toBe(404);
    const verifier = new MessageVerifier(TEST_SECRET);
    const expired = new MessageVerifier(TEST_SECRET, () => Date.now() - 60_000).sign(blob.id, 'blob_url', 1);
    expect((await both.get(`/attache/blobs/proxy/${expired}/x`)).status).toBe(404);
    const ghost = verifier.sign({ key: blob.key, service: 'gone', disposition: 'inline', contentType: 'text/plain', filename: 'x' }, 'disk_download');
    expect((await both.get(`/attache/disk/${ghost}/x`)).status).toBe(404);
    const wrongShape = verifier.sign({ key: ['a'], service: 42 }, 'disk_download');
    expect((await both.get(`/attache/disk/${wrongShape}/x`)).status).toBe(404);
    const upload = verifier.sign({ key: '../../etc/passwd', service: 'local', contentType: 'text/plain', contentLength: 1, checksum: md5Base64('x') }, 'disk_upload');
    expect((await both.viaNode(`/attache/disk/${upload}`, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/plain', 'content-md5': md5Base64('x') } })).status).toBeLessThan(500);
    expect(errors).toEqual([]);
  });

  it('hostile headers: ranges, conditionals and lengths', async () => {
    const path = blob.proxyUrl();
    const ranges = ['bytes=abc', 'bytes=-', 'bytes=99999999999999999999-', 'bytes=5-1', 'bytes=0-0,1-1', 'items=0-1', 'bytes=-0', `bytes=0-${'9'.repeat(400)}`, 'bytes=\u0000'];
    for (const range of ranges) await expectNever500(path, { headers: { range } });
    for (const tag of ['*', 'W/"x"', '"', '', 'a'.repeat(8000)]) await expectNever500(path, { headers: { 'if-none-match': tag, 'if-range': tag } });
    expect(errors).toEqual([]);
  });

  it('hostile direct-upload bodies are 4xx', async () => {
    const post = (body: string, type = 'application/json') => both.viaNode('/attache/direct_uploads', { method: 'POST', body, headers: { 'content-type': type } });
    const bodies = [
      '', 'null', '[]', '"x"', '42', '{', '{"attachment":{}}', '{"attachment":"User#avatar"}',
      '{"attachment":"User#avatar","filename":"a","byteSize":"1","checksum":"x","contentType":"text/plain"}',
      '{"attachment":"User#avatar","filename":"a","byteSize":-1,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","contentType":"text/plain"}',
      '{"attachment":"User#avatar","filename":"a","byteSize":1e300,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","contentType":"text/plain"}',
      '{"attachment":"User#avatar","filename":{"x":1},"byteSize":0,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","contentType":["a"]}',
      '{"attachment":"User#avatar","filename":"a","byteSize":0,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","contentType":"text/plain","parts":"x"}',
      '{"attachment":"User#avatar","filename":"a","byteSize":0,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","contentType":"text/plain","parts":[null,{}]}',
      '{"attachment":"User#avatar","__proto__":{"polluted":true},"filename":"a","byteSize":0,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","contentType":"text/plain","metadata":[1,2]}',
      '{"attachment":"Nope#avatar"}', '{"attachment":"User#nope"}', '{"attachment":"constructor#prototype"}', '{"attachment":"__proto__#x"}',
    ];
    for (const body of bodies) {
      const answer = await post(body);
      expect(answer.status, body.slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(answer.status, body.slice(0, 80)).toBeLessThan(500);
    }
    expect((await post('{}', 'text/plain')).status).toBeLessThan(500);
    expect((await post('x'.repeat(2 * 1024 * 1024))).status).toBeLessThan(500);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(errors).toEqual([]);
  });
});
