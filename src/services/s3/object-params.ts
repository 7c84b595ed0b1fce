import { storedHeaders, type Disposition } from '../../content/serving.ts';
import { sseHeaders, sseParams, type Encryption } from './encryption.ts';
import type { ObjectParams } from './upload.ts';

/** What a write says about the object it stores. `contentType` is the file's true type; the stored one follows serving.ts. */
export interface WriteOptions {
  contentType?: string | null;
  filename?: string;
  disposition?: Disposition;
  customMetadata?: Record<string, string>;
}

/** A service's part of every write: Rails' `upload:` parameters (the public ACL included) and its encryption. */
export interface WritePolicy {
  upload: ObjectParams;
  encryption: Encryption | undefined;
}

/**
 * The object parameters of every write (PutObject, CreateMultipartUpload of uploads, compose and
 * multipart direct uploads, the presigned direct-upload PUT): the `upload:` options, then the type
 * and disposition from storedHeaders (serving.ts), the metadata, and last the SSE `write`
 * parameters from sseParams, so nothing can override those.
 */
export function objectParams(policy: WritePolicy, options: WriteOptions): ObjectParams {
  const stored = storedHeaders(options);
  return {
    ...policy.upload,
    ContentType: stored.contentType,
    ...(stored.contentDisposition !== undefined && { ContentDisposition: stored.contentDisposition }),
    ...(options.customMetadata !== undefined && { Metadata: options.customMetadata }),
    ...sseParams(policy.encryption, 'write'),
  };
}

// How S3 reads each parameter from a PUT's headers (SSE ones come from sseHeaders).
const HEADERS: Partial<Record<keyof ObjectParams, string>> = {
  ContentType: 'Content-Type',
  ContentDisposition: 'Content-Disposition',
  CacheControl: 'Cache-Control',
  ContentEncoding: 'Content-Encoding',
  ContentLanguage: 'Content-Language',
  Expires: 'Expires',
  ACL: 'x-amz-acl',
  StorageClass: 'x-amz-storage-class',
  Tagging: 'x-amz-tagging',
  WebsiteRedirectLocation: 'x-amz-website-redirect-location',
  GrantFullControl: 'x-amz-grant-full-control',
  GrantRead: 'x-amz-grant-read',
  GrantReadACP: 'x-amz-grant-read-acp',
  GrantWriteACP: 'x-amz-grant-write-acp',
  ObjectLockMode: 'x-amz-object-lock-mode',
  ObjectLockRetainUntilDate: 'x-amz-object-lock-retain-until-date',
  ObjectLockLegalHoldStatus: 'x-amz-object-lock-legal-hold',
  RequestPayer: 'x-amz-request-payer',
  ExpectedBucketOwner: 'x-amz-expected-bucket-owner',
};

/** The headers a direct-upload PUT must carry so S3 stores the object as objectParams says: one per parameter, metadata and SSE included. */
export function objectHeaders(params: ObjectParams, encryption: Encryption | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [param, value] of Object.entries(params)) {
    const header = HEADERS[param as keyof ObjectParams];
    if (header === undefined || value === undefined) continue;
    headers[header] = value instanceof Date ? (param === 'Expires' ? value.toUTCString() : value.toISOString()) : String(value);
  }
  for (const [name, value] of Object.entries(params.Metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  return { ...headers, ...sseHeaders(encryption) };
}
