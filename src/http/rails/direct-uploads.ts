import { ArgumentError } from '../../core/errors.ts';
import type { DirectUploadRequest, DirectUploadResponse } from '../../attached/direct-upload.ts';
import type { Blob } from '../../records/Blob.ts';

/**
 * `@rails/activestorage`'s request to `POST {mount}/direct_uploads`:
 * `{ "blob": { filename, content_type, byte_size, checksum, metadata? } }`, as attache's request.
 * The attachment (and so the service and the limits) comes from the URL's `attachment` parameter,
 * which the page's `data-direct-upload-url` carries, never from the body. Returns null when the
 * body is not in Rails' shape. Throws ArgumentError when the parameter is missing.
 */
export function railsDirectUploadRequest(body: unknown, query: URLSearchParams): DirectUploadRequest | null {
  if (!isObject(body) || !Object.hasOwn(body, 'blob') || Object.hasOwn(body, 'attachment')) return null;
  const blob = body.blob;
  if (!isObject(blob)) throw new ArgumentError('blob must be an object: { filename, content_type, byte_size, checksum }.');
  const attachment = query.get('attachment');
  if (attachment === null) {
    throw new ArgumentError('The direct upload URL must name the attachment: data-direct-upload-url=".../direct_uploads?attachment=User%23avatar".');
  }
  // Only the fields Rails' DirectUploadsController permits; a missing content_type is Rails' nil.
  const request: DirectUploadRequest = {
    attachment,
    filename: blob.filename as string,
    byteSize: blob.byte_size as number,
    checksum: blob.checksum as string,
    contentType: blob.content_type === undefined || blob.content_type === null ? '' : (blob.content_type as string),
  };
  if (blob.metadata !== undefined && blob.metadata !== null) request.metadata = blob.metadata as Record<string, unknown>;
  return request;
}

/**
 * What Rails' DirectUploadsController renders:
 * `blob.as_json(root: false, methods: :signed_id).merge(direct_upload: { url, headers })`.
 * `signed_id` is attache's direct-upload id, bound to the attachment: attach it through attache.
 */
export function railsDirectUploadJson(blob: Blob, response: DirectUploadResponse): Record<string, unknown> {
  const { directUpload } = response;
  if (!('url' in directUpload)) throw new ArgumentError('Rails\' direct upload answer has one URL; multipart uploads use attache\'s client.');
  const id = Number(blob.id);
  return {
    id: Number.isSafeInteger(id) ? id : blob.id,
    key: blob.key,
    filename: blob.filename,
    content_type: blob.contentType,
    metadata: blob.metadata ?? {},
    service_name: blob.serviceName,
    byte_size: blob.byteSize,
    checksum: blob.checksum,
    created_at: blob.createdAt.toISOString(),
    signed_id: response.signedId,
    direct_upload: { url: directUpload.url, headers: directUpload.headers },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
