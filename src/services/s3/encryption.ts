import { inspect } from 'node:util';
import { md5Base64 } from '../../core/checksum.ts';

/** Server-side encryption an S3 server applies with its own or a KMS key. */
export type ServerAlgorithm = 'aws:kms' | 'aws:kms:dsse' | 'AES256';
export const SERVER_ALGORITHMS: readonly ServerAlgorithm[] = ['aws:kms', 'aws:kms:dsse', 'AES256'];

/** A 32-byte SSE-C key. It never prints: toJSON and inspect show "[redacted]". */
export class CustomerKey {
  readonly #base64: string;
  readonly #md5: string;

  /** `base64` must decode to exactly 32 bytes (checked by the caller, which names the setting). */
  constructor(base64: string) {
    this.#base64 = base64;
    this.#md5 = md5Base64(Buffer.from(base64, 'base64'));
  }

  get base64(): string {
    return this.#base64;
  }

  get md5(): string {
    return this.#md5;
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'CustomerKey [redacted]';
  }
}

/** How SecureS3 encrypts every object: server-side (SSE-KMS, DSSE-KMS, SSE-S3) or with a customer key (SSE-C). */
export type Encryption =
  | { mode: 'server'; algorithm: ServerAlgorithm; kmsKeyId?: string; bucketKeyEnabled?: boolean; context?: Record<string, string> }
  | { mode: 'customer'; key: CustomerKey };

/** SSE parameters of PutObject, CreateMultipartUpload, UploadPart(Copy), Complete, GetObject and HeadObject. */
export interface SseParams {
  ServerSideEncryption?: ServerAlgorithm;
  SSEKMSKeyId?: string;
  SSEKMSEncryptionContext?: string;
  BucketKeyEnabled?: boolean;
  SSECustomerAlgorithm?: string;
  SSECustomerKey?: string;
  SSECustomerKeyMD5?: string;
}

/** The copy-source key of UploadPartCopy (SSE-C sources only). */
export interface CopySourceSseParams {
  CopySourceSSECustomerAlgorithm?: string;
  CopySourceSSECustomerKey?: string;
  CopySourceSSECustomerKeyMD5?: string;
}

/**
 * Where the parameters go: `write` creates an object (PutObject, CreateMultipartUpload, the
 * direct-upload presign); `part` and `read` are requests on an existing or pending object
 * (UploadPart, UploadPartCopy's destination, Complete, GET, HEAD); `copySource` is UploadPartCopy's source.
 */
export type SseUse = 'write' | 'part' | 'read' | 'copySource';

/** Invariant: every SSE parameter of every S3 request attache sends is built here and nowhere else. */
export function sseParams(encryption: Encryption | undefined, use: 'copySource'): CopySourceSseParams;
export function sseParams(encryption: Encryption | undefined, use: Exclude<SseUse, 'copySource'>): SseParams;
export function sseParams(encryption: Encryption | undefined, use: SseUse): SseParams | CopySourceSseParams;
export function sseParams(encryption: Encryption | undefined, use: SseUse): SseParams | CopySourceSseParams {
  if (encryption === undefined) return {};
  if (encryption.mode === 'customer') {
    const { base64, md5 } = encryption.key;
    if (use === 'copySource') return { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: base64, CopySourceSSECustomerKeyMD5: md5 };
    return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: base64, SSECustomerKeyMD5: md5 };
  }
  // Server-side encryption is chosen when the object is created; parts, reads and copy sources carry nothing.
  if (use !== 'write') return {};
  const { algorithm, kmsKeyId, bucketKeyEnabled, context } = encryption;
  return {
    ServerSideEncryption: algorithm,
    ...(kmsKeyId !== undefined && { SSEKMSKeyId: kmsKeyId }),
    ...(context !== undefined && { SSEKMSEncryptionContext: Buffer.from(JSON.stringify(context)).toString('base64') }),
    ...(bucketKeyEnabled !== undefined && { BucketKeyEnabled: bucketKeyEnabled }),
  };
}

const HEADER_NAMES: Record<keyof SseParams, string> = {
  ServerSideEncryption: 'x-amz-server-side-encryption',
  SSEKMSKeyId: 'x-amz-server-side-encryption-aws-kms-key-id',
  SSEKMSEncryptionContext: 'x-amz-server-side-encryption-context',
  BucketKeyEnabled: 'x-amz-server-side-encryption-bucket-key-enabled',
  SSECustomerAlgorithm: 'x-amz-server-side-encryption-customer-algorithm',
  SSECustomerKey: 'x-amz-server-side-encryption-customer-key',
  SSECustomerKeyMD5: 'x-amz-server-side-encryption-customer-key-md5',
};

/** The `write` parameters of sseParams as the HTTP headers a direct-upload client must send. */
export function sseHeaders(encryption: Encryption | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [param, value] of Object.entries(sseParams(encryption, 'write'))) {
    if (value !== undefined) headers[HEADER_NAMES[param as keyof SseParams]] = String(value);
  }
  return headers;
}

/** What an S3 answer (PutObject, Complete, HeadObject) says about an object's encryption. */
export interface EncryptionAnswer {
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
  SSECustomerAlgorithm?: string;
  SSECustomerKeyMD5?: string;
}

/** Whether the answer says anything about encryption (RGW's CompleteMultipartUpload says nothing). */
export function answersEncryption(answer: EncryptionAnswer): boolean {
  return answer.ServerSideEncryption !== undefined || answer.SSECustomerAlgorithm !== undefined;
}

/** Why the server's answer does not show the configured encryption, or undefined when it does. Names no key material. */
export function encryptionMismatch(encryption: Encryption, answer: EncryptionAnswer): string | undefined {
  if (encryption.mode === 'customer') {
    if (answer.SSECustomerAlgorithm !== 'AES256') return 'the server did not confirm SSE-C encryption';
    return answer.SSECustomerKeyMD5 === encryption.key.md5 ? undefined : 'the server confirmed SSE-C with a different customer key';
  }
  const { algorithm, kmsKeyId } = encryption;
  if (answer.ServerSideEncryption !== algorithm) {
    return `the server reported encryption "${answer.ServerSideEncryption ?? 'none'}" instead of "${algorithm}"`;
  }
  if (kmsKeyId === undefined || algorithm === 'AES256') return undefined;
  if (kmsKeyMatches(kmsKeyId, answer.SSEKMSKeyId)) return undefined;
  const hint = kmsKeyId.includes('alias/') ? ' (S3 reports the key\'s ARN, not an alias: configure the key id or ARN)' : '';
  return `the server reported KMS key "${answer.SSEKMSKeyId ?? 'none'}" instead of "${kmsKeyId}"${hint}`;
}

/**
 * Whether the key id S3 reports is the configured one: equal, or the same key once an ARN is
 * reduced to its resource (`key/<id>`, `alias/<name>`), or a bare id against `key/<id>`.
 * Two full ARNs must be equal (same region and account).
 */
export function kmsKeyMatches(configured: string, reported: string | undefined): boolean {
  if (reported === undefined || reported === '' || configured === '') return false;
  if (reported === configured) return true;
  if (isArn(configured) && isArn(reported)) return false;
  const [c, r] = [arnResource(configured), arnResource(reported)];
  return c === r || r === `key/${c}` || c === `key/${r}`;
}

function isArn(id: string): boolean {
  return id.startsWith('arn:');
}

/** `arn:aws:kms:region:account:key/<id>` → `key/<id>`; a short `arn:aws:kms:<id>` (MinIO) → `<id>`; anything else unchanged. */
function arnResource(id: string): string {
  if (!isArn(id)) return id;
  const parts = id.split(':');
  return parts.length >= 6 ? parts.slice(5).join(':') : (parts.at(-1) ?? '');
}

/** What the blob's metadata records: the algorithm and the key the server confirmed, never key material. */
export function encryptionFacts(encryption: Encryption, answer: EncryptionAnswer): { algorithm: string; kmsKeyId?: string } {
  if (encryption.mode === 'customer') return { algorithm: 'SSE-C' };
  const algorithm = answer.ServerSideEncryption ?? encryption.algorithm;
  if (algorithm === 'AES256') return { algorithm };
  return { algorithm, kmsKeyId: answer.SSEKMSKeyId ?? encryption.kmsKeyId };
}

/** A printable summary: algorithm and key id only. */
export function describeEncryption(encryption: Encryption): { algorithm: string; kmsKeyId?: string } {
  if (encryption.mode === 'customer') return { algorithm: 'SSE-C' };
  return { algorithm: encryption.algorithm, ...(encryption.kmsKeyId !== undefined && { kmsKeyId: encryption.kmsKeyId }) };
}
