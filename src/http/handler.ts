import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Blob } from '../entities/Blob.ts';
import { AttacheError } from '../errors.ts';
import type { AttacheRuntime } from '../model/runtime.ts';

/** Options of `attache.handler()` and `attache.fetch()`. */
export interface HandlerOptions {
  /** Guards the redirect and proxy routes: return false to answer 403. Receives the framework's request. */
  authorize?: (request: IncomingMessage | Request, blob: Blob) => boolean | Promise<boolean>;
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/** Placeholder until the HTTP routes land: every request falls through. */
export function nodeHandler(_rt: AttacheRuntime, _options: HandlerOptions = {}): NodeHandler {
  return (_req, res, next) => {
    if (next) next();
    else {
      res.statusCode = 404;
      res.end();
    }
  };
}

/** Placeholder until the HTTP routes land. */
export function fetchHandler(_rt: AttacheRuntime, _options: HandlerOptions = {}): (request: Request) => Promise<Response> {
  return async () => new Response(null, { status: 404 });
}

void AttacheError;
