import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ArgumentError } from '../../core/errors.ts';
import { contentDisposition } from '../../content/serving.ts';
import { assertExpiresIn } from '../../signing/MessageVerifier.ts';
import type { DirectUploadHeaderOptions, DirectUploadOptions, UrlOptions } from '../Service.ts';
import { sseParams } from './encryption.ts';
import { objectHeaders, objectParams, type WritePolicy } from './object-params.ts';
import { isByteCount } from '../../core/checksum.ts';

export interface UrlTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** The service's `upload:` parameters and encryption, applied to a direct upload as to any write. */
  policy: WritePolicy;
}

/** A presigned GET whose response-content-disposition and response-content-type are inside the signature. */
export async function presignedGet(target: UrlTarget, options: UrlOptions): Promise<string> {
  assertExpiresIn(options.expiresIn);
  const command = new GetObjectCommand({
    ...sseParams(target.policy.encryption, 'read'),
    Bucket: target.bucket,
    Key: target.key,
    ResponseContentDisposition: contentDisposition(options.disposition, options.filename),
    ResponseContentType: options.contentType,
  });
  return getSignedUrl(target.client, command, { expiresIn: options.expiresIn });
}

/**
 * A presigned PUT that signs Content-Length, Content-MD5 and every header of directUploadHeaders
 * (the stored type, the `upload:` options and public ACL, metadata, the SSE headers), keeping
 * `x-amz-*` ones as signed headers rather than query parameters, so S3 refuses a PUT that differs.
 * Content-Disposition is signed only when `filename` is given (pass the same to headersForDirectUpload).
 * Throws ArgumentError for a bad expiresIn, length or checksum, before any SDK call.
 */
export async function presignedPut(target: UrlTarget, options: DirectUploadOptions): Promise<string> {
  assertExpiresIn(options.expiresIn);
  if (!isByteCount(options.contentLength)) throw new ArgumentError('"contentLength" must be a non-negative integer number of bytes.');
  if (typeof options.checksum !== 'string' || options.checksum === '') throw new ArgumentError('"checksum" must be the base64 MD5 of the bytes.');
  const { ContentDisposition, ...params } = objectParams(target.policy, { ...options, customMetadata: options.customMetadata ?? {} });
  const signed = options.filename === undefined ? params : { ...params, ContentDisposition };
  const command = new PutObjectCommand({ ...signed, Bucket: target.bucket, Key: target.key, ContentLength: options.contentLength, ContentMD5: options.checksum });
  const names = Object.keys(objectHeaders(signed, target.policy.encryption)).map((name) => name.toLowerCase());
  const unhoistableHeaders = new Set(names.filter((name) => name.startsWith('x-amz-')));
  const signableHeaders = new Set(['content-length', 'content-md5', ...names.filter((name) => !name.startsWith('x-amz-'))]);
  return getSignedUrl(target.client, command, { expiresIn: options.expiresIn, signableHeaders, unhoistableHeaders });
}

/** Exactly the headers the direct-upload PUT must send: the object's stored headers (objectParams) and Content-MD5. */
export function directUploadHeaders(policy: WritePolicy, options: DirectUploadHeaderOptions): Record<string, string> {
  const headers = objectHeaders(objectParams(policy, options), policy.encryption);
  return { 'Content-Type': headers['Content-Type']!, 'Content-MD5': options.checksum, ...headers };
}

/** The plain (unsigned) URL of an object in a public bucket. */
export function objectUrl(location: { bucket: string; region: string; endpoint?: string; forcePathStyle: boolean }, key: string): string {
  const path = key.split('/').map(encodeURIComponent).join('/');
  const { bucket, endpoint } = location;
  if (endpoint === undefined) {
    return location.forcePathStyle ? `https://s3.${location.region}.amazonaws.com/${bucket}/${path}` : `https://${bucket}.s3.${location.region}.amazonaws.com/${path}`;
  }
  const base = new URL(endpoint);
  const prefix = base.pathname.replace(/\/$/, '');
  if (location.forcePathStyle) return `${base.origin}${prefix}/${encodeURIComponent(bucket)}/${path}`;
  return `${base.protocol}//${bucket}.${base.host}${prefix}/${path}`;
}
