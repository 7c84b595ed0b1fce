import { blobProxy, blobRedirect } from './blob-routes.ts';
import { errorReporter, internalError, isNotFound, notFound, routeContext, type CoreRequest, type CoreResponse, type HandlerOptions, type RouteContext, type HttpRuntime } from './core.ts';
import { diskDownload, diskUpload } from './disk-routes.ts';
import { directUploadComplete, directUploadCreate } from './direct-upload-routes.ts';
import { representationProxy, representationRedirect } from './representation-routes.ts';
import type { Route } from './routes.ts';
import { railsDiskShow, railsDiskUpdate } from './rails/disk.ts';

/** Answers one request, or resolves to null when the path is not under attache's mount. */
export type Core = (req: CoreRequest) => Promise<CoreResponse | null>;

/**
 * The one implementation behind `handler()` and `fetch()`. Never rejects: a bad, expired or
 * misused token and a missing blob or file are 404; anything unexpected goes to `onError` and is
 * a bare 500, so no message, stack, key or token reaches the client.
 */
export function createCore(rt: HttpRuntime, options: HandlerOptions = {}): Core {
  const ctx = routeContext(rt, options);
  const report = errorReporter(options);
  return async (req) => {
    const { mount } = rt.routes;
    if (req.pathname !== mount && !req.pathname.startsWith(`${mount}/`)) return null;
    const route = rt.routes.parse(req.pathname);
    // Mounted at the root, every path is "under the mount": only attache's own routes are claimed.
    if (!route && mount === '') return null;
    try {
      return route ? await answer(ctx, req, route) : notFound();
    } catch (error) {
      if (isNotFound(error)) return notFound();
      report(error);
      return internalError();
    }
  };
}

function answer(ctx: RouteContext, req: CoreRequest, route: Route): Promise<CoreResponse> {
  switch (route.kind) {
    case 'disk':
      return route.filename === undefined ? diskUpload(ctx, req, route.token) : diskDownload(ctx, req, route.token);
    case 'redirect':
      return blobRedirect(ctx, req, route.signedId);
    case 'proxy':
      return blobProxy(ctx, req, route.signedId);
    case 'representation_redirect':
      return representationRedirect(ctx, req, route);
    case 'representation_proxy':
      return representationProxy(ctx, req, route);
    case 'direct_uploads':
      return directUploadCreate(ctx, req, ctx.authorizeDirectUpload);
    case 'direct_upload_complete':
      return directUploadComplete(ctx, req, route.token);
    case 'rails_disk':
      return route.filename === undefined ? railsDiskUpdate(ctx, req, route.message) : railsDiskShow(ctx, req, route.message, route.filename);
  }
}
