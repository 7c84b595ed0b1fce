import { InvariableError, ProcessingError, UnpreviewableError, UnrepresentableError } from '../core/errors.ts';
import { blobUrl } from '../records/blob-urls.ts';
import type { Blob } from '../records/Blob.ts';
import { Variation } from '../representations/variation.ts';
import { authorizedBlob, proxyBlob, requestedDisposition } from './blob-routes.ts';
import { forbidden, methodNotAllowed, notFound, textResponse, type CoreRequest, type CoreResponse, type RouteContext } from './core.ts';

/** What a representation route names: the blob's signed serving id and the variation key signed for that blob. */
export interface RepresentationRequest {
  signedId: string;
  variationKey: string;
}

/**
 * `GET|HEAD {mount}/representations/redirect/:signedBlobId/:variationKey/:filename`: makes the
 * variant or preview on first request (once, across processes), then 302 to its service URL.
 */
export async function representationRedirect(ctx: RouteContext, req: CoreRequest, route: RepresentationRequest): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['GET', 'HEAD']);
  if (refused) return refused;
  return withImage(ctx, req, route, async (image) => {
    const location = await blobUrl(ctx.rt, image, { disposition: requestedDisposition(req) });
    return { status: 302, headers: { location, 'cache-control': 'no-store', 'content-length': '0' }, body: null };
  });
}

/** `GET|HEAD {mount}/representations/proxy/…`: the same, streaming the image through the app with the blob proxy's headers. */
export async function representationProxy(ctx: RouteContext, req: CoreRequest, route: RepresentationRequest): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['GET', 'HEAD']);
  if (refused) return refused;
  return withImage(ctx, req, route, (image) => proxyBlob(ctx, req, image));
}

/**
 * The representation's stored image, made when missing. Only transformations the server signed
 * for this very blob are made: a bad, expired or foreign key is 404 (InvalidSignatureError), as
 * is a blob that is neither variable nor previewable. A file that cannot be processed is 422.
 */
async function withImage(ctx: RouteContext, req: CoreRequest, route: RepresentationRequest, answer: (image: Blob) => Promise<CoreResponse>): Promise<CoreResponse> {
  const blob = await authorizedBlob(ctx, req, route.signedId);
  if (!blob) return forbidden();
  const variation = Variation.verify(ctx.rt.verifier, route.variationKey, blob.id);
  let image: Blob;
  try {
    image = await ctx.rt.representations.representation(blob, variation).image();
  } catch (error) {
    if (error instanceof InvariableError || error instanceof UnpreviewableError || error instanceof UnrepresentableError) return notFound();
    if (error instanceof ProcessingError && (error.reason === 'unreadable' || error.reason === 'too_many_pixels' || error.reason === 'transform_failed')) {
      return textResponse(422, 'Unprocessable Content');
    }
    throw error;
  }
  return answer(image);
}
