import { createHash } from 'node:crypto';
import { FileTooLargeError, IntegrityError } from '../core/errors.ts';
import { DiskService } from '../services/disk/DiskService.ts';
import { receiveDiskUpload, type ExpectedUpload } from '../attached/disk-upload.ts';
import { configuredService, methodNotAllowed, notFound, unprocessable, type CoreRequest, type CoreResponse, type RouteContext } from './core.ts';
import type { DiskDownloadClaims, DiskUploadClaims } from './routes.ts';
import { sendFile } from './send-file.ts';
import { servedHeaders } from '../content/serving.ts';

/**
 * `GET|HEAD {mount}/disk/:token/:filename`. Everything served comes from the verified claims:
 * the query string and the path's filename are ignored, so nothing outside the signature can
 * change the key, the service, the type or the disposition.
 */
export async function diskDownload(ctx: RouteContext, req: CoreRequest, token: string): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['GET', 'HEAD']);
  if (refused) return refused;
  const claims = ctx.rt.verifier.verify<Partial<DiskDownloadClaims>>(token, 'disk_download');
  const service = diskService(ctx, claims.service);
  if (!service || typeof claims.key !== 'string' || typeof claims.filename !== 'string') return notFound();
  const served = servedHeaders({ contentType: claims.contentType, disposition: claims.disposition, filename: claims.filename });
  return serveDiskFile(ctx, req, service, claims.key, served);
}

/** Serves one Disk object with `served` (from servedHeaders): Range, ETag, 404 when it is missing. Shared with Rails' Disk route. */
export async function serveDiskFile(ctx: RouteContext, req: CoreRequest, service: DiskService, key: string, served: Record<string, string>): Promise<CoreResponse> {
  const size = await service.size(key);
  if (size === null) return notFound();
  return sendFile(req, {
    size,
    etag: `"${createHash('sha256').update(`${service.name}\0${key}`).digest('base64url')}"`,
    served,
    open: (range) => (range ? service.downloadRange(key, range.start, range.end) : service.download(key)),
  }, ctx.maxRangeBytes);
}

/**
 * `PUT {mount}/disk/:token`: a direct upload. Content-Length, Content-Type and Content-MD5 must
 * equal the signed ones before a byte is read (422 otherwise); a body of another length or
 * checksum is refused by the Disk service, which keeps nothing (temp file + rename).
 */
export async function diskUpload(ctx: RouteContext, req: CoreRequest, token: string): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['PUT']);
  if (refused) return refused;
  const claims = ctx.rt.verifier.verify<Partial<DiskUploadClaims>>(token, 'disk_upload');
  const service = diskService(ctx, claims.service);
  if (!service || typeof claims.key !== 'string') return notFound();
  if (!headersMatch(req, claims)) return unprocessable();
  const expected = { key: claims.key, byteSize: claims.contentLength!, checksum: claims.checksum!, contentType: claims.contentType };
  return storeUpload(ctx, service, expected, req);
}

/** Stores a Disk direct upload while its blob row waits (204), else 404; bytes other than signed are 422. Both PUT routes answer through here. */
export async function storeUpload(ctx: RouteContext, service: DiskService, expected: ExpectedUpload, req: CoreRequest): Promise<CoreResponse> {
  try {
    if (!(await receiveDiskUpload(ctx.rt, service, expected, req.body ?? Buffer.alloc(0)))) return notFound();
  } catch (error) {
    if (error instanceof IntegrityError || error instanceof FileTooLargeError) return unprocessable();
    throw error;
  }
  return { status: 204, headers: { 'cache-control': 'no-store' }, body: null };
}

/** The Disk service of this Attache the claims name, or null: a token never reaches another kind of service. */
export function diskService(ctx: RouteContext, name: unknown): DiskService | null {
  const service = configuredService(ctx.rt, name);
  return service instanceof DiskService && service.name === name ? service : null;
}

/** Whether the PUT declares exactly what was signed. A missing header never matches. */
function headersMatch(req: CoreRequest, claims: Partial<DiskUploadClaims>): boolean {
  const { contentLength, contentType, checksum } = claims;
  if (typeof contentLength !== 'number' || typeof contentType !== 'string' || typeof checksum !== 'string') return false;
  return (
    req.headers.get('content-length') === String(contentLength) &&
    req.headers.get('content-type') === contentType &&
    req.headers.get('content-md5') === checksum &&
    req.headers.get('transfer-encoding') === null
  );
}
