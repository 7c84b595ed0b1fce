import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { notFound, type CoreResponse, type HandlerOptions, type HttpRuntime } from './core.ts';
import { createCore } from './dispatch.ts';

/**
 * attache's routes for Fetch-style runtimes (Hono, Next route handlers, Bun, Deno): resolves to a
 * Response, 404 for paths outside the mount (check `pathname.startsWith(mount)` first to fall
 * through to your own routes). Never rejects. Throws ArgumentError for bad options.
 */
export function fetchHandler(rt: HttpRuntime, options: HandlerOptions = {}): (request: Request) => Promise<Response> {
  const core = createCore(rt, options);
  return async (request) => {
    const url = new URL(request.url);
    const response = await core({
      method: request.method.toUpperCase(),
      pathname: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body: request.body ? Readable.fromWeb(request.body as NodeReadableStream<Uint8Array>) : null,
      raw: request,
    });
    return toResponse(response ?? notFound());
  };
}

function toResponse({ status, headers, body }: CoreResponse): Response {
  if (body === null) return new Response(null, { status, headers });
  const payload = Buffer.isBuffer(body) ? new Uint8Array(body) : (Readable.toWeb(body) as ReadableStream<Uint8Array>);
  return new Response(payload, { status, headers });
}
