import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCopyCommand, type CompletedPart, type S3Client } from '@aws-sdk/client-s3';
import type { AttacheError } from '../../core/errors.ts';
import type { CopySourceSseParams, EncryptionAnswer, SseParams } from './encryption.ts';
import { abortMultipart, discardIfAmbiguous, type ObjectParams } from './upload.ts';

/** S3's smallest part (every part but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest UploadPartCopy source range. */
const MAX_COPY_PART_SIZE = 5 * 1024 * 1024 * 1024;

export interface SourceObject {
  key: string;
  size: number;
}

/** One UploadPartCopy: a source object, whole or one byte range of it. */
export interface CopyPart {
  key: string;
  /** `bytes=first-last`, when only part of the source is copied. */
  range?: string;
  size: number;
}

/**
 * The UploadPartCopy parts that concatenate `sources`, or undefined when S3 cannot build it
 * from copies (a part other than the last would be under 5 MiB, or every source is empty);
 * the caller then streams the sources through the upload path instead.
 */
export function copyPlan(sources: readonly SourceObject[]): CopyPart[] | undefined {
  const parts = sources.filter((source) => source.size > 0).flatMap(splitSource);
  if (parts.length === 0) return undefined;
  return parts.slice(0, -1).every((part) => part.size >= MIN_PART_SIZE) ? parts : undefined;
}

/** A source larger than one copy part becomes equal ranges (each well above 5 MiB). */
function splitSource({ key, size }: SourceObject): CopyPart[] {
  const count = Math.ceil(size / MAX_COPY_PART_SIZE);
  if (count === 1) return [{ key, size }];
  const each = Math.ceil(size / count);
  return Array.from({ length: count }, (_, i) => {
    const first = i * each;
    const last = Math.min(size, first + each) - 1;
    return { key, range: `bytes=${first}-${last}`, size: last - first + 1 };
  });
}

export interface CopyTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** CreateMultipartUpload's parameters, the SSE `write` ones included. */
  objectParams: ObjectParams;
  /** The SSE `part` parameters (destination SSE-C key) for UploadPartCopy and Complete. */
  partParams: SseParams;
  /** The SSE `copySource` parameters (source SSE-C key). */
  copySourceParams: CopySourceSseParams;
  /** Turns an SDK error about `key` into the service's AttacheError. */
  fail(error: unknown, key: string): AttacheError;
}

/**
 * Concatenates the parts server-side with one multipart upload of UploadPartCopy parts (never
 * CopyObject, which RGW refuses for encrypted sources). Returns the Complete answer. Any failure
 * aborts the multipart upload, so nothing is stored.
 */
export async function copyCompose(target: CopyTarget, parts: readonly CopyPart[]): Promise<EncryptionAnswer> {
  const { client, bucket, key } = target;
  let uploadId: string | undefined;
  try {
    ({ UploadId: uploadId } = await client.send(new CreateMultipartUploadCommand({ ...target.objectParams, Bucket: bucket, Key: key })));
    const completed: CompletedPart[] = [];
    for (const [index, part] of parts.entries()) {
      completed.push({ PartNumber: index + 1, ETag: await copyPart(target, uploadId!, index + 1, part) });
    }
    return await client.send(
      new CompleteMultipartUploadCommand({ ...target.partParams, Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: completed } }),
    );
  } catch (error) {
    if (uploadId !== undefined) await abortMultipart(client, bucket, key, uploadId).catch(() => undefined);
    await discardIfAmbiguous(client, bucket, key, error); // a Complete that timed out may have completed
    throw target.fail(error, key);
  }
}

async function copyPart(target: CopyTarget, uploadId: string, partNumber: number, part: CopyPart): Promise<string | undefined> {
  const { client, bucket, key } = target;
  try {
    const answer = await client.send(
      new UploadPartCopyCommand({
        ...target.partParams,
        ...target.copySourceParams,
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        CopySource: copySource(bucket, part.key),
        ...(part.range !== undefined && { CopySourceRange: part.range }),
      }),
    );
    return answer.CopyPartResult?.ETag;
  } catch (error) {
    throw target.fail(error, part.key);
  }
}

/** `bucket/key` URL-encoded per segment, as x-amz-copy-source expects. */
export function copySource(bucket: string, key: string): string {
  return [bucket, ...key.split('/')].map(encodeURIComponent).join('/');
}
