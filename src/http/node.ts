import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { errorReporter, internalError, notFound, type CoreRequest, type CoreResponse, type HandlerOptions, type HttpRuntime } from './core.ts';
import { createCore } from './dispatch.ts';

/** A Node / Connect / Express handler; `next` is called for paths outside attache's mount. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/**
 * attache's routes as `(req, res, next?)`, for `http.createServer` or `app.use` at the root (Express
 * strips a mount path from `req.url`, so mount the handler at `/` and set the prefix with `mount`).
 * Paths outside the mount call `next()`, or get 404 without one. Throws ArgumentError for bad options.
 */
export function nodeHandler(rt: HttpRuntime, options: HandlerOptions = {}): NodeHandler {
  const core = createCore(rt, options);
  const report = errorReporter(options);
  return (req, res, next) => {
    const request = coreRequest(req);
    const answered = request ? core(request) : Promise.resolve(null);
    answered.then(
      (response) => {
        if (response) send(res, response, report);
        else if (next) next();
        else send(res, notFound(), report);
      },
      (error: unknown) => {
        report(error);
        send(res, internalError(), report);
      },
    );
  };
}

/** The neutral request, or null for a request target that is not a path (then it is not ours). */
function coreRequest(req: IncomingMessage): CoreRequest | null {
  const target = req.url ?? '/';
  if (!target.startsWith('/')) return null;
  let url: URL;
  try {
    // Parsed like the Fetch adapter's `new URL(request.url)`, so both see the same (dot-segment-free) path.
    url = new URL(`http://attache.invalid${target}`);
  } catch {
    return null;
  }
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    pathname: url.pathname,
    query: url.searchParams,
    headers: { get: (name) => headerValue(req.headers[name.toLowerCase()]) },
    body: req,
    raw: req,
  };
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Writes the answer. A body stream that fails midway aborts the response: a truncated file must not look complete. */
function send(res: ServerResponse, response: CoreResponse, report: (error: unknown) => void): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Files and errors from attache never carry a cookie, whatever earlier middleware set.
  res.removeHeader('set-cookie');
  res.writeHead(response.status, response.headers);
  const { body } = response;
  if (body === null || Buffer.isBuffer(body)) {
    res.end(body ?? undefined);
    return;
  }
  pipeline(body, res, (error) => {
    if (error && (error as { code?: unknown }).code !== 'ERR_STREAM_PREMATURE_CLOSE') report(error);
  });
}
