import { parseMediaType } from '../../content/content-type.ts';
import { servedHeaders, type Disposition } from '../../content/serving.ts';
import type { RailsDiskUploadClaims } from '../../signing/rails/claims.ts';
import { railsPathParam } from '../../signing/rails/url.ts';
import { methodNotAllowed, notFound, unprocessable, type CoreRequest, type CoreResponse, type RouteContext } from '../core.ts';
import { diskService, serveDiskFile, storeUpload } from '../disk-routes.ts';

/**
 * `GET|HEAD {mount}/disk/:encoded_key/*filename` with Rails' `blob_key` message (Rails'
 * DiskController#show). Unlike Rails, a service name this Attache does not have as a Disk service
 * is 404, never the default service; and the signed type and disposition pass through attache's
 * serving rules (servedHeaders), so Rails' message cannot make HTML inline or drop nosniff.
 */
export async function railsDiskShow(ctx: RouteContext, req: CoreRequest, encodedKey: string, pathFilename: string): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['GET', 'HEAD']);
  if (refused) return refused;
  if (!ctx.rt.rails) return notFound();
  const claims = ctx.rt.rails.verifier.verifyDiskKey(encodedKey);
  const service = diskService(ctx, claims.serviceName);
  if (!service) return notFound();
  const signed = parseDisposition(claims.disposition);
  const served = servedHeaders({ contentType: claims.contentType, disposition: signed.disposition, filename: signed.filename ?? railsPathParam(pathFilename) });
  return serveDiskFile(ctx, req, service, claims.key, served);
}

/**
 * `PUT {mount}/disk/:encoded_token` with Rails' `blob_token` message (Rails' DiskController#update):
 * 204 once the body is stored. Stricter than Rails, each refusal keeping nothing: a token without a
 * checksum is 422 (Rails would store unchecked bytes); Content-Type, Content-Length and any
 * Content-MD5 must equal the signed ones (422); the body must match the signed size and MD5 (422,
 * temp file + rename); and a blob row must be waiting for exactly this object (404), so a PUT
 * replayed after its blob was purged leaves no file without a row.
 */
export async function railsDiskUpdate(ctx: RouteContext, req: CoreRequest, encodedToken: string): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['PUT']);
  if (refused) return refused;
  if (!ctx.rt.rails) return notFound();
  const claims = ctx.rt.rails.verifier.verifyDiskUpload(encodedToken);
  const service = diskService(ctx, claims.serviceName);
  if (!service) return notFound();
  if (claims.checksum === null || !headersMatch(req, claims)) return unprocessable();
  return storeUpload(ctx, service, { key: claims.key, byteSize: claims.contentLength, checksum: claims.checksum, contentType: claims.contentType ?? undefined }, req);
}

/** Whether the PUT declares what was signed: the media type (as Rails compares it), the exact length, no chunking, and any Content-MD5. */
function headersMatch(req: CoreRequest, claims: RailsDiskUploadClaims): boolean {
  const md5 = req.headers.get('content-md5');
  return (
    parseMediaType(req.headers.get('content-type')) === parseMediaType(claims.contentType) &&
    req.headers.get('content-length') === String(claims.contentLength) &&
    req.headers.get('transfer-encoding') === null &&
    (md5 === null || md5 === claims.checksum)
  );
}

/**
 * The type and filename of the Content-Disposition Rails signed (`inline; filename="a.png";
 * filename*=UTF-8''a.png`). Only these two facts are kept; servedHeaders rebuilds the header.
 */
export function parseDisposition(value: string): { disposition: Disposition; filename: string | null } {
  const disposition: Disposition = /^\s*inline\s*(?:;|$)/i.test(value) ? 'inline' : 'attachment';
  const extended = /;\s*filename\*\s*=\s*UTF-8''([^;\s]*)/i.exec(value);
  if (extended) {
    try {
      return { disposition, filename: decodeURIComponent(extended[1]!) };
    } catch {
      // A malformed percent-escape: fall back to the plain filename.
    }
  }
  const plain = /;\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(value);
  return { disposition, filename: plain ? plain[1]!.replace(/\\(.)/g, '$1') : null };
}
