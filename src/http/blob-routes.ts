import type { Blob } from '../records/Blob.ts';
import { openVerified } from '../records/blob-io.ts';
import { blobUrl } from '../records/blob-urls.ts';
import { findSignedBlob } from '../records/signed-ids.ts';
import { forbidden, methodNotAllowed, type CoreRequest, type CoreResponse, type RouteContext } from './core.ts';
import { sendFile } from './send-file.ts';
import { servedHeaders, type Disposition } from '../content/serving.ts';

/** `GET {mount}/blobs/redirect/:signedId/:filename`: 302 to a fresh, short-lived service URL. */
export async function blobRedirect(ctx: RouteContext, req: CoreRequest, signedId: string): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['GET', 'HEAD']);
  if (refused) return refused;
  const blob = await authorizedBlob(ctx, req, signedId);
  if (!blob) return forbidden();
  const location = await blobUrl(ctx.rt, blob, { disposition: requestedDisposition(req) });
  return { status: 302, headers: { location, 'cache-control': 'no-store', 'content-length': '0' }, body: null };
}

/**
 * `GET|HEAD {mount}/blobs/proxy/:signedId/:filename`: the bytes stream through the app, for
 * private Disk roots and objects the client cannot fetch itself. The served headers come from the
 * blob row through `servedHeaders`; the path's filename is cosmetic.
 */
export async function blobProxy(ctx: RouteContext, req: CoreRequest, signedId: string): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['GET', 'HEAD']);
  if (refused) return refused;
  const blob = await authorizedBlob(ctx, req, signedId);
  if (!blob) return forbidden();
  return proxyBlob(ctx, req, blob);
}

/** Streams a stored blob through the app with the safe served headers (the proxy routes of blobs and representations). */
export async function proxyBlob(ctx: RouteContext, req: CoreRequest, blob: Blob): Promise<CoreResponse> {
  const service = ctx.rt.service(blob.serviceName);
  const served = servedHeaders({ contentType: blob.contentType, disposition: requestedDisposition(req) ?? 'inline', filename: blob.filename });
  return sendFile(req, {
    size: blob.byteSize,
    etag: blob.checksum ? `"${blob.checksum}"` : null,
    served,
    // A whole-file answer is checked against the blob's MD5 as it streams: altered bytes abort the response.
    open: async (range) => (range ? service.downloadRange(blob.key, range.start, range.end) : openVerified(ctx.rt, blob)),
  }, ctx.maxRangeBytes);
}

/**
 * The blob of a valid signed id when `authorize` allows it, or null (403). A bad, expired or
 * wrong-purpose id, or a blob that is gone, throws (InvalidSignatureError / FileNotFoundError → 404).
 */
export async function authorizedBlob(ctx: RouteContext, req: CoreRequest, signedId: string): Promise<Blob | null> {
  const { blob } = await findSignedBlob(ctx.rt, signedId, ['blob_url']);
  if (ctx.authorize && (await ctx.authorize(req.raw, blob)) !== true) return null;
  return blob;
}

/** `?disposition=attachment` may only make a response safer; anything else keeps the default. */
export function requestedDisposition(req: CoreRequest): Disposition | undefined {
  return req.query.get('disposition') === 'attachment' ? 'attachment' : undefined;
}
