import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { ArgumentError, StorageAccessError, type AttacheError } from '../../core/errors.ts';
import type { PendingWrite, StoredObject } from '../Service.ts';
import { isNoSuchUpload } from './errors.ts';

/** S3 answers at most 1000 keys or uploads per page, and DeleteObjects takes at most 1000. */
const PAGE = 1000;

/** A bucket to list, and how its SDK errors leave (the service's translateS3Error). */
export interface ListTarget {
  client: S3Client;
  bucket: string;
  service: string;
  fail(error: unknown, action: string, key?: string): AttacheError;
}

/** The pages of ListObjectsV2 under `prefix`, following the continuation token. */
async function* objectPages(target: ListTarget, prefix: string): AsyncGenerator<_Object[]> {
  let token: string | undefined;
  do {
    const page = await target
      .client.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix || undefined, ContinuationToken: token, MaxKeys: PAGE }))
      .catch((error: unknown) => Promise.reject(target.fail(error, 'list objects under', prefix || undefined)));
    yield page.Contents ?? [];
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}

/** Every object under `prefix` (listObjects), one page in memory at a time. */
export async function* storedObjects(target: ListTarget, prefix: string): AsyncGenerator<StoredObject> {
  for await (const page of objectPages(target, prefix)) {
    for (const object of page) {
      if (object.Key !== undefined) yield { key: object.Key, byteSize: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
    }
  }
}

/** Deletes every object under `prefix`, a page (≤ 1000) at a time: listing goes on after each DeleteObjects. */
export async function deleteUnder(target: ListTarget, prefix: string): Promise<void> {
  for await (const page of objectPages(target, prefix)) {
    const keys = page.flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
    if (keys.length === 0) continue;
    const answer = await target.client
      .send(new DeleteObjectsCommand({ Bucket: target.bucket, Delete: { Objects: keys, Quiet: true } }))
      .catch((error: unknown) => Promise.reject(target.fail(error, 'delete objects under', prefix)));
    const failed = answer.Errors ?? [];
    if (failed.length > 0) {
      throw new StorageAccessError(`S3 service "${target.service}" could not delete ${failed.length} objects under "${prefix}" (${failed[0]?.Code ?? 'unknown'}).`);
    }
  }
}

/** Every incomplete multipart upload of the bucket (ListMultipartUploads, following the key and upload-id markers). */
export async function* multipartUploads(target: ListTarget): AsyncGenerator<PendingWrite> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await target.client
      .send(new ListMultipartUploadsCommand({ Bucket: target.bucket, MaxUploads: PAGE, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }))
      .catch((error: unknown) => Promise.reject(target.fail(error, 'list the multipart uploads of the bucket')));
    for (const upload of page.Uploads ?? []) {
      if (upload.UploadId === undefined || upload.Key === undefined) continue;
      yield { kind: 'multipart-upload', id: upload.UploadId, key: upload.Key, startedAt: upload.Initiated ?? new Date(0), service: target.service };
    }
    const next = [page.NextKeyMarker, page.NextUploadIdMarker] as const;
    if (!page.IsTruncated || (next[0] === keyMarker && next[1] === uploadIdMarker)) return;
    [keyMarker, uploadIdMarker] = next;
  }
}

/** Aborts a listed multipart upload; one already gone (NoSuchUpload) counts as aborted. */
export async function abortPending(target: ListTarget, write: PendingWrite): Promise<void> {
  if (write?.kind !== 'multipart-upload') throw new ArgumentError(`S3 service "${target.service}" has only multipart-upload pending writes.`);
  const { id, key } = write;
  if (typeof id !== 'string' || id === '' || typeof key !== 'string' || key === '') {
    throw new ArgumentError(`S3 service "${target.service}": a multipart-upload pending write needs its id and key.`);
  }
  try {
    await target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: key, UploadId: id }));
  } catch (error) {
    if (!isNoSuchUpload(error)) throw target.fail(error, 'abort the multipart upload of', key);
  }
}
