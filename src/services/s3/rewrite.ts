import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UpdateObjectEncryptionCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { EncryptionError, IntegrityError, type AttacheError } from '../../core/errors.ts';
import { generateKey } from '../../core/keys.ts';
import { copySource } from './compose.ts';
import { getObject, measureObject, type ReadTarget } from './download.ts';
import { answersEncryption, encryptionFacts, encryptionMismatch, sseParams, type Encryption, type EncryptionAnswer } from './encryption.ts';
import { isUnsupported } from './errors.ts';
import { writeObject, type ObjectParams, type WriteTarget } from './upload.ts';

/** How an object came to be under the target key. */
export type RewriteMethod = 'unchanged' | 'update' | 'copy' | 'stream';

export interface RewriteResult {
  method: RewriteMethod;
  /** What the server now reports, for the blob's metadata. */
  encryption: { algorithm: string; kmsKeyId?: string };
}

/** One object's rewrite: where it is, the target encryption, and the service's way out for SDK errors. */
export interface RewriteTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** The target: SSE-KMS with the target key (server mode). */
  encryption: Extract<Encryption, { mode: 'server' }>;
  /** The write target of a streaming rewrite (its object parameters are replaced by the object's own). */
  write: WriteTarget;
  read: ReadTarget;
  fail(error: unknown, action: string): AttacheError;
}

/** What this server can do in place; learnt once per service (a probe on a scratch object, or the first refusal). */
export interface InPlaceSupport {
  update?: Promise<boolean>;
  copy?: boolean;
}

const PROBE_BODY = 'attache reencrypt probe';

/**
 * Puts the object under the target key: nothing when the server already reports it; else
 * UpdateObjectEncryption when a probe on a scratch object showed the server really does it (RGW
 * takes that request for a PutObject and replaces the object with the request's XML, so it is
 * never sent to a real object untested); else CopyObject onto itself; else a streaming rewrite.
 * Every path is confirmed by HeadObject or the answer; a mismatch is EncryptionError and the
 * object keeps its bytes. Throws IntegrityError when the stored size or MD5 is not the expected one.
 */
export async function rewriteObject(target: RewriteTarget, expected: { checksum: string | null; byteSize: number }, support: InPlaceSupport): Promise<RewriteResult> {
  const head = await headOf(target, target.key);
  if ((head.ContentLength ?? -1) !== expected.byteSize) throw IntegrityError.sizeMismatch(target.key, expected.byteSize, head.ContentLength ?? -1);
  if (encryptionMismatch(target.encryption, head) === undefined) return { method: 'unchanged', encryption: encryptionFacts(target.encryption, head) };
  if (head.ServerSideEncryption === 'aws:kms' && (await (support.update ??= probeUpdate(target, head)))) {
    await send(target, 'update the encryption of', () => target.client.send(updateCommand(target, target.key)));
    return { method: 'update', encryption: confirmed(target, await headOf(target, target.key), { etag: head.ETag, byteSize: expected.byteSize }) };
  }
  if (support.copy !== false) {
    const copied = await copyInPlace(target, head);
    if (copied) return { method: 'copy', encryption: confirmed(target, copied, { byteSize: expected.byteSize }) };
    support.copy = false;
  }
  return { method: 'stream', encryption: await streamRewrite(target, head, expected) };
}

/** CopyObject onto itself with the target SSE and the object's own headers, or undefined when the server refuses it (RGW: 501). */
async function copyInPlace(target: RewriteTarget, head: HeadObjectCommandOutput): Promise<HeadObjectCommandOutput | undefined> {
  const { client, bucket, key } = target;
  try {
    await client.send(new CopyObjectCommand({
      ...ownParams(target, head), Bucket: bucket, Key: key, CopySource: copySource(bucket, key), MetadataDirective: 'REPLACE',
    }));
  } catch (error) {
    if (isUnsupported(error)) return undefined;
    throw target.fail(error, 'copy in place');
  }
  return headOf(target, key);
}

/** Downloads the object (the server decrypts it with its old key) and uploads the same bytes to the same key under the target key, then reads them back. */
async function streamRewrite(target: RewriteTarget, head: HeadObjectCommandOutput, expected: { checksum: string | null; byteSize: number }): Promise<RewriteResult['encryption']> {
  const body = await getObject(target.read);
  const write: WriteTarget = { ...target.write, objectParams: ownParams(target, head), replaces: true };
  const written = await writeObject(write, body, { ...(expected.checksum && { checksum: expected.checksum }), byteSize: expected.byteSize });
  const answer: EncryptionAnswer = answersEncryption(written.answer) ? written.answer : await headOf(target, target.key);
  const encryption = confirmed(target, answer, {});
  const stored = await measureObject(target.read);
  if (stored.byteSize !== expected.byteSize || stored.checksum !== (expected.checksum || written.checksum)) {
    throw new IntegrityError(`The rewritten object "${target.key}" does not read back as the bytes written; its key was not recorded.`);
  }
  return encryption;
}

/**
 * The encryption facts when the server reports the target; else EncryptionError (the object keeps its
 * bytes). An in-place update must keep the ETag, and in-place rewrites the size (IntegrityError).
 */
function confirmed(target: RewriteTarget, answer: EncryptionAnswer & { ETag?: string; ContentLength?: number }, keeps: { etag?: string; byteSize?: number }): RewriteResult['encryption'] {
  const mismatch = encryptionMismatch(target.encryption, answer);
  if (mismatch !== undefined) throw new EncryptionError(`Re-encrypting "${target.key}" did not take: ${mismatch}. The object keeps its bytes; its new key was not recorded.`);
  if (keeps.etag !== undefined && answer.ETag !== keeps.etag) throw new IntegrityError(`The server changed the bytes of "${target.key}" while updating its encryption.`);
  if (keeps.byteSize !== undefined && answer.ContentLength !== keeps.byteSize) throw IntegrityError.sizeMismatch(target.key, keeps.byteSize, answer.ContentLength ?? -1);
  return encryptionFacts(target.encryption, answer);
}

function updateCommand(target: RewriteTarget, key: string): UpdateObjectEncryptionCommand {
  const { kmsKeyId, bucketKeyEnabled } = target.encryption;
  const sseKms = { KMSKeyArn: kmsKeyId, ...(bucketKeyEnabled !== undefined && { BucketKeyEnabled: bucketKeyEnabled }) };
  return new UpdateObjectEncryptionCommand({ Bucket: target.bucket, Key: key, ObjectEncryption: { SSEKMS: sseKms } });
}

/**
 * Whether UpdateObjectEncryption really re-encrypts on this server: tried on a scratch object under
 * the source's key, which must afterwards read back unchanged under the target key. The scratch
 * object is always deleted. Any refusal or surprise means no.
 */
async function probeUpdate(target: RewriteTarget, source: HeadObjectCommandOutput): Promise<boolean> {
  const { client, bucket } = target;
  const key = `attache-reencrypt-probe-${generateKey()}`;
  const sourceSse = sseParams({ mode: 'server', algorithm: 'aws:kms', ...(source.SSEKMSKeyId !== undefined && { kmsKeyId: source.SSEKMSKeyId }) }, 'write');
  try {
    await client.send(new PutObjectCommand({ ...sourceSse, Bucket: bucket, Key: key, Body: PROBE_BODY, ContentType: 'text/plain' }));
    await client.send(updateCommand(target, key));
    const after = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();
    return body === PROBE_BODY && encryptionMismatch(target.encryption, after) === undefined;
  } catch {
    return false;
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
  }
}

/** The object's own headers (type, disposition, metadata, …), then the target's SSE `write` parameters last (sseParams is their one source). */
function ownParams(target: RewriteTarget, head: HeadObjectCommandOutput): ObjectParams {
  return {
    ...target.write.objectParams,
    ContentType: head.ContentType,
    ...(head.ContentDisposition !== undefined && { ContentDisposition: head.ContentDisposition }),
    ...(head.ContentEncoding !== undefined && { ContentEncoding: head.ContentEncoding }),
    ...(head.ContentLanguage !== undefined && { ContentLanguage: head.ContentLanguage }),
    ...(head.CacheControl !== undefined && { CacheControl: head.CacheControl }),
    Metadata: head.Metadata ?? {},
    ...sseParams(target.encryption, 'write'),
  };
}

async function headOf(target: RewriteTarget, key: string): Promise<HeadObjectCommandOutput> {
  return send(target, 'inspect', () => target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key })));
}

async function send<T>(target: RewriteTarget, action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw target.fail(error, action);
  }
}
