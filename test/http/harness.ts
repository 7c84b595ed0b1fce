import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, Transform, type Readable } from 'node:stream';
import { expect } from 'vitest';
import type { Attache } from '../../src/index.ts';
import type { HandlerOptions } from '../../src/http/handler.ts';
import type { StorageService } from '../../src/services/Service.ts';

/** A node:http server on 127.0.0.1 with an ephemeral port. */
export interface Served {
  /** `http://127.0.0.1:<port>` */
  base: string;
  server: Server;
  close(): Promise<void>;
}

export async function serve(listener: RequestListener): Promise<Served> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A response read whole. */
export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
}

export async function read(response: Response): Promise<Answer> {
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** Both adapters of one Attache: the Node handler behind a real server, and `attache.fetch` called directly. */
export interface Both {
  node: Served;
  options: HandlerOptions;
  /** Through the real server with global fetch. `path` is a path-only URL as attache makes them. */
  viaNode(path: string, init?: RequestInit): Promise<Answer>;
  /** `attache.fetch(new Request(...))`, no server involved. */
  viaFetch(path: string, init?: RequestInit): Promise<Answer>;
  /** Both at once: asserts they agree on status and bytes, and returns the Node answer. */
  get(path: string, init?: RequestInit): Promise<Answer>;
}

export async function serveBoth(attache: Attache, options: HandlerOptions = {}): Promise<Both> {
  const node = await serve(attache.handler(options));
  const viaNode: Both['viaNode'] = async (path, init) => read(await fetch(`${node.base}${path}`, { redirect: 'manual', ...init }));
  const viaFetch: Both['viaFetch'] = async (path, init) => read(await attache.fetch(new Request(`${node.base}${path}`, { redirect: 'manual', ...init }), options));
  const get: Both['get'] = async (path, init) => {
    const [fromNode, fromFetch] = await Promise.all([viaNode(path, init), viaFetch(path, init)]);
    expect(fromFetch.status).toBe(fromNode.status);
    expect(fromFetch.body.equals(fromNode.body)).toBe(true);
    return fromNode;
  };
  return { node, options, viaNode, viaFetch, get };
}

/** The headers that carry a guarantee: parity tests compare exactly these. */
export const IMPORTANT_HEADERS = [
  'content-type',
  'content-disposition',
  'content-length',
  'content-range',
  'accept-ranges',
  'etag',
  'cache-control',
  'location',
  'allow',
  'x-content-type-options',
  'content-security-policy',
  'set-cookie',
] as const;

export function important(headers: Headers): Record<string, string | null> {
  return Object.fromEntries(IMPORTANT_HEADERS.map((name) => [name, headers.get(name)]));
}

/** The envelope inside a token (readable, not secret): `{ d, p, e? }`. */
export function decodeToken(token: string): { d: unknown; p: string; e?: number } {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { d: unknown; p: string; e?: number };
}

/** The token of a Disk URL path (`/attache/disk/<token>/<filename>`). */
export function tokenOf(path: string): string {
  return new URL(path, 'http://x').pathname.split('/')[3]!;
}

/** `text` with the character at `index` replaced by another base64url character. */
export function flipChar(text: string, index: number): string {
  const current = text[index];
  const replacement = current === 'A' ? 'B' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

/** A token re-signed by nobody: its payload is `envelope`, its signature the old one. */
export function forgePayload(token: string, envelope: unknown): string {
  return `${Buffer.from(JSON.stringify(envelope)).toString('base64url')}.${token.split('.')[1]}`;
}

/**
 * Records what a service reads: every download/downloadRange call and the bytes that flowed out.
 * `forbidWhole` makes `download` (the whole file) throw. Restore with the returned function.
 */
export function watchReads(service: StorageService, options: { forbidWhole?: boolean; forbidAll?: boolean } = {}): { calls: string[]; bytes: () => number; restore(): void } {
  const calls: string[] = [];
  let bytes = 0;
  const original = { download: service.download, downloadRange: service.downloadRange };
  const count = (stream: Readable): Readable => {
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    return pipeline(stream, counter, () => undefined);
  };
  service.download = async (key) => {
    calls.push('download');
    if (options.forbidWhole || options.forbidAll) throw new Error('the whole file must not be read');
    return count(await original.download.call(service, key));
  };
  service.downloadRange = async (key, start, end) => {
    calls.push(`downloadRange ${start}-${end}`);
    if (options.forbidAll) throw new Error('nothing must be read');
    return count(await original.downloadRange.call(service, key, start, end));
  };
  return {
    calls,
    bytes: () => bytes,
    restore() {
      service.download = original.download;
      service.downloadRange = original.downloadRange;
    },
  };
}

/** A Content-Disposition with a printable-ASCII `filename=` (no quote, backslash) and an RFC 5987 `filename*=`. */
export const WELL_FORMED_DISPOSITION = /^(inline|attachment); filename="[\x20\x21\x23-\x5b\x5d-\x7e]{1,255}"; filename\*=UTF-8''[A-Za-z0-9!#$&+.^_`|~%-]+$/;
export const HOSTILE_FILENAMES = ['../../evil.sh', 'a".html', 'x\r\nSet-Cookie: a=b', 'invoice\u202Egnp.exe', 'nul\u0000byte.png', `${'a'.repeat(1000)}.png`, 'shell.php.jpg'];
