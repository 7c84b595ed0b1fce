import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ArgumentError } from '../../core/errors.ts';
import { contentDisposition } from '../../content/serving.ts';
import { assertExpiresIn } from '../../signing/MessageVerifier.ts';
import type { DirectUploadHeaderOptions, DirectUploadOptions, UrlOptions } from '../Service.ts';
import { sseHeaders, sseParams, type Encryption } from './encryption.ts';
import { isByteCount } from '../../core/checksum.ts';

export interface UrlTarget {
  client: S3Client;
  bucket: string;
  key: string;
  encryption: Encryption | undefined;
}

/** A presigned GET whose response-content-disposition and response-content-type are inside the signature. */
export async function presignedGet(target: UrlTarget, options: UrlOptions): Promise<string> {
  assertExpiresIn(options.expiresIn);
  const command = new GetObjectCommand({
    ...sseParams(target.encryption, 'read'),
    Bucket: target.bucket,
    Key: target.key,
    ResponseContentDisposition: contentDisposition(options.disposition, options.filename),
    ResponseContentType: options.contentType,
  });
  return getSignedUrl(target.client, command, { expiresIn: options.expiresIn });
}

/**
 * A presigned PUT that signs Content-Type, Content-Length and Content-MD5, and keeps the SSE and
 * metadata headers as signed headers (not query parameters), so S3 refuses a PUT that differs.
 * Throws ArgumentError for a bad expiresIn, length or checksum, before any SDK call.
 */
export async function presignedPut(target: UrlTarget, options: DirectUploadOptions): Promise<string> {
  assertExpiresIn(options.expiresIn);
  if (!isByteCount(options.contentLength)) throw new ArgumentError('"contentLength" must be a non-negative integer number of bytes.');
  if (typeof options.checksum !== 'string' || options.checksum === '') throw new ArgumentError('"checksum" must be the base64 MD5 of the bytes.');
  const metadata = options.customMetadata ?? {};
  const command = new PutObjectCommand({
    ...sseParams(target.encryption, 'write'),
    Bucket: target.bucket,
    Key: target.key,
    ContentType: options.contentType,
    ContentLength: options.contentLength,
    ContentMD5: options.checksum,
    Metadata: metadata,
  });
  // The presigner keeps x-amz-server-side-encryption* as headers itself; metadata must stay headers too.
  const unhoistableHeaders = new Set(Object.keys(metadata).map((name) => `x-amz-meta-${name.toLowerCase()}`));
  const signableHeaders = new Set(['content-type', 'content-length', 'content-md5']);
  return getSignedUrl(target.client, command, { expiresIn: options.expiresIn, signableHeaders, unhoistableHeaders });
}

/** Exactly the headers the direct-upload PUT must send: type, MD5, disposition (with a filename), metadata, SSE. */
export function directUploadHeaders(encryption: Encryption | undefined, options: DirectUploadHeaderOptions): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': options.contentType, 'Content-MD5': options.checksum };
  if (options.filename !== undefined) headers['Content-Disposition'] = contentDisposition(options.disposition ?? 'inline', options.filename);
  for (const [name, value] of Object.entries(options.customMetadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  return { ...headers, ...sseHeaders(encryption) };
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
