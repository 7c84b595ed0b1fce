import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../../src/core/checksum.ts';
import { RubyHash, RubySymbol } from '../../../src/signing/rails/values.ts';
import { railsPathSegment } from '../../../src/signing/rails/url.ts';
import { openAttache } from '../../support/attache.ts';
import { serializeMessage } from '../../../src/signing/rails/envelope.ts';
import { flipChar, serveBoth, type Both } from '../harness.ts';
import { openRailsAttache, PREFIX, RAILS_SECRET, railsBlob, type RailsFixture } from './fixture.ts';
import { createHmac, pbkdf2Sync } from 'node:crypto';

let f: RailsFixture;
let both: Both;
const errors: unknown[] = [];
let valid: string[];

beforeAll(async () => {
  f = await openRailsAttache();
  both = await serveBoth(f.attache, { onError: (error) => errors.push(error) });
  const id = await railsBlob(f, Buffer.from('hostile target'), { key: 'hostiletarget000000000000001', filename: 't.txt', contentType: 'text/plain' });
  const signedId = railsPathSegment(f.rails.signBlobId(id));
  const key = railsPathSegment(f.rails.signDiskKey({ key: 'hostiletarget000000000000001', disposition: 'inline', contentType: 'text/plain', serviceName: 'local' }, 600));
  const token = railsPathSegment(f.rails.signDiskUpload({ key: 'hostiletarget000000000000001', contentType: 'text/plain', contentLength: 14, checksum: md5Base64('hostile target'), serviceName: 'local' }, 600));
  valid = [`${PREFIX}/blobs/redirect/${signedId}/t.txt`, `${PREFIX}/blobs/proxy/${signedId}/t.txt`, `${PREFIX}/blobs/${signedId}/t.txt`, `${PREFIX}/disk/${key}/t.txt`, `${PREFIX}/disk/${token}`];
});
afterAll(async () => {
  await both?.node.close();
  await f?.close();
});

const GARBAGE = ['%ZZ', '%00', '%2e%2e', '..', '%2F', '%2D%2D', '--', '\u202e', 'a'.repeat(5000), '', '.', '%', '%C0%AF', '*', '--0000000000000000000000000000000000000000'];

function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function mutations(path: string, next: () => number): string[] {
  const segments = path.split('/');
  return Array.from({ length: 14 }, () => {
    const copy = [...segments];
    const at = 3 + Math.floor(next() * (copy.length - 3));
    const pick = GARBAGE[Math.floor(next() * GARBAGE.length)]!;
    const kind = Math.floor(next() * 5);
    if (kind === 0) copy[at] = flipChar(copy[at] ?? 'x', Math.floor(next() * Math.max(1, (copy[at] ?? 'x').length)));
    else if (kind === 1) copy[at] = (copy[at] ?? '').slice(0, Math.floor(next() * (copy[at] ?? '').length));
    else if (kind === 2) copy.splice(at, 0, pick);
    else if (kind === 3) copy[at] = `${copy[at] ?? ''}${pick}`;
    else copy.push(pick);
    return copy.join('/');
  });
}

async function expectNever500(path: string, init: RequestInit = {}): Promise<void> {
  let status: number;
  try {
    status = (await both.viaNode(path, init)).status;
  } catch {
    return; // the client refused to send it: nothing reached attache
  }
  expect(status, `${init.method ?? 'GET'} ${path.slice(0, 200)}`).toBeLessThan(500);
}

/** A validly signed Rails message around any Ruby value: what a leaked secret_key_base could forge. */
function forged(value: Parameters<typeof serializeMessage>[1], purpose: string): string {
  const encoded = serializeMessage('6.1', value, purpose, null).toString('base64');
  const key = pbkdf2Sync(RAILS_SECRET, 'ActiveStorage', 1000, 64, 'sha1');
  return `${encoded}--${createHmac('sha1', key).update(encoded).digest('hex')}`;
}

describe("Rails' routes never answer 500 to a bad, stale or hostile request", () => {
  it('mutated paths of every Rails route, with every method', async () => {
    const next = random(7);
    for (const path of valid) {
      for (const mutated of [path, ...mutations(path, next)]) {
        for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']) {
          await expectNever500(mutated, { method, ...(method === 'PUT' || method === 'POST' ? { body: 'x', headers: { 'content-type': 'text/plain' } } : {}) });
        }
      }
    }
    expect(errors).toEqual([]);
  }, 90_000);

  it.each([
    ['a key that is an Array', RubyHash.withSymbolKeys({ key: ['a'], disposition: 'inline', content_type: null, service_name: new RubySymbol('local') }), 'blob_key'],
    ['a service_name that is an Integer', RubyHash.withSymbolKeys({ key: 'k', disposition: 'inline', content_type: null, service_name: 7 }), 'blob_key'],
    ['a traversal key', RubyHash.withSymbolKeys({ key: '../../etc/passwd', disposition: 'inline', content_type: null, service_name: new RubySymbol('local') }), 'blob_key'],
    ['claims that are a String', 'just a string', 'blob_key'],
    ['an upload with a negative length', RubyHash.withSymbolKeys({ key: 'k', content_type: null, content_length: -1, checksum: 'x', service_name: new RubySymbol('local') }), 'blob_token'],
    ['an upload with a traversal key', RubyHash.withSymbolKeys({ key: '../x', content_type: 'text/plain', content_length: 1, checksum: md5Base64('x'), service_name: new RubySymbol('local') }), 'blob_token'],
    ['a blob id that is a Hash', RubyHash.withSymbolKeys({ id: 1 }), 'blob_id'],
    ['a blob id that is not a number', 'abc', 'blob_id'],
  ] as const)('validly signed messages with %s are 4xx on every route', async (_label, value, purpose) => {
    const message = railsPathSegment(forged(value as never, purpose));
    for (const path of [`${PREFIX}/disk/${message}/x`, `${PREFIX}/blobs/proxy/${message}/x`, `${PREFIX}/blobs/${message}/x`]) await expectNever500(path);
    await expectNever500(`${PREFIX}/disk/${message}`, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/plain' } });
    expect(errors).toEqual([]);
  });

  it("Rails' messages are 404 when Rails mode is off, on attache's routes of the same shape", async () => {
    const plain = await openAttache();
    try {
      const served = await serveBoth(plain.attache);
      const id = railsPathSegment(f.rails.signBlobId(1));
      for (const path of [`/attache/blobs/proxy/${id}/x`, `/attache/blobs/redirect/${id}/x`, `/attache/disk/${valid[3]!.split('/')[4]}/x`]) {
        expect((await served.get(path)).status).toBe(404);
      }
      await served.node.close();
    } finally {
      await plain.close();
    }
  });

  it("hostile bodies in Rails' direct-upload shape are 4xx", async () => {
    const bodies = [
      '{"blob":null}', '{"blob":[]}', '{"blob":"x"}', '{"blob":{}}', '{"blob":{"filename":{"x":1},"byte_size":"1","checksum":[],"content_type":7}}',
      '{"blob":{"filename":"a","byte_size":-1,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","content_type":"text/plain"}}',
      '{"blob":{"filename":"a","byte_size":1e300,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","content_type":"text/plain"}}',
      '{"blob":{"filename":"a","byte_size":0,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","content_type":"text/plain","metadata":"x"}}',
      '{"blob":{"__proto__":{"polluted":true},"filename":"a","byte_size":0,"checksum":"1B2M2Y8AsgTpgAmY7PhCfg==","metadata":{"__proto__":{"polluted":true}}}}',
    ];
    for (const query of ['?attachment=User%23photo', '?attachment=User%23nope', '?attachment=__proto__%23x', '?attachment=', '']) {
      for (const body of bodies) {
        const answer = await both.viaNode(`${PREFIX}/direct_uploads${query}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        expect(answer.status, `${query} ${body.slice(0, 60)}`).toBeGreaterThanOrEqual(200);
        expect(answer.status, `${query} ${body.slice(0, 60)}`).toBeLessThan(500);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(errors).toEqual([]);
  });
});
