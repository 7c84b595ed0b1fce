import { ArgumentError, ConfigurationError } from '../core/errors.ts';
import type { Blob } from '../records/Blob.ts';
import type { Runtime } from '../runtime.ts';
import type { StorageService } from '../services/Service.ts';
import { recordEncryption, serviceOfKey } from './blob-rows.ts';
import { completed, runOperation, type BlobContext } from './run.ts';
import { detailOf, problemOf } from './stored.ts';
import type { ReencryptOptions, ReencryptReport } from './types.ts';

/** What reencrypt needs of a service: SecureS3's rewrite (src/services/s3/rewrite.ts). */
interface Rewriting extends StorageService {
  readonly kmsKeyId: string | undefined;
  rewriteEncryption(key: string, options: { kmsKeyId?: string; checksum: string | null; byteSize: number }): Promise<{
    method: 'unchanged' | 'update' | 'copy' | 'stream';
    encryption: { algorithm: string; kmsKeyId?: string };
  }>;
}

/**
 * Rewrites every object of a SecureS3 service under `toKey` (default: its configured key) and
 * records the key the server confirms in each blob's `metadata.encryption`. Objects already under
 * the key are skipped; a rewrite that fails leaves the object and its row as they were. Resumable.
 * Throws ConfigurationError (unknown service, not SSE-KMS), ArgumentError, PersistenceError,
 * OperationAbortedError; per-blob problems go into the report.
 */
export async function runReencrypt(rt: Runtime, options: ReencryptOptions): Promise<ReencryptReport> {
  if (typeof options?.service !== 'string') throw new ArgumentError('reencryptBlobs needs a `service` name.');
  if (options.toKey !== undefined && (typeof options.toKey !== 'string' || options.toKey === '')) throw new ArgumentError('"toKey" must be a KMS key id.');
  const service = rt.service(options.service);
  if (!isRewriting(service)) throw new ConfigurationError(`Service "${service.name}" is not a SecureS3 service: only SecureS3 objects can be re-encrypted.`);
  const toKey = options.toKey ?? service.kmsKeyId;
  if (toKey === undefined) throw ConfigurationError.missingSetting(service.name, 'kms_key_id');
  const { state } = await runOperation(rt, {
    operation: 'reencrypt',
    scope: { service: service.name },
    checkpointScope: { toKey },
    options,
    handle: (blob, context) => rewriteOne(rt, service, toKey, blob, context),
  });
  const count = (name: string): number => state.counts[name] ?? 0;
  return completed(rt, 'reencrypt', state.done, {
    ok: state.failed === 0,
    rewritten: count('update') + count('copy') + count('stream'),
    alreadyUnderKey: count('unchanged'),
    inPlace: count('update') + count('copy'),
    streamed: count('stream'),
    failures: state.failures,
  });
}

async function rewriteOne(rt: Runtime, service: Rewriting, toKey: string, blob: Blob, context: BlobContext): Promise<void> {
  if (blob.byteSize < 0) return; // a key reservation whose upload never finished
  let result: Awaited<ReturnType<Rewriting['rewriteEncryption']>>;
  try {
    result = await service.rewriteEncryption(blob.key, { kmsKeyId: toKey, checksum: blob.checksum, byteSize: blob.byteSize });
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    context.problem({ problem: problemOf(error, 'copy-failed'), detail: `Not re-encrypted: ${detailOf(error)}` });
    return;
  }
  if (await recordEncryption(rt.dataSource, blob.id, service.name, result.encryption)) return context.count(result.method);
  // The row was purged while the object was rewritten: a streamed rewrite may have put back an object nobody names.
  if (result.method === 'stream' && (await serviceOfKey(rt.dataSource, blob.key)) === undefined) await service.delete(blob.key).catch(() => undefined);
}

function isRewriting(service: StorageService): service is Rewriting {
  return typeof (service as Partial<Rewriting>).rewriteEncryption === 'function';
}
