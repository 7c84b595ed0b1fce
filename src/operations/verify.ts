import { ArgumentError, ConfigurationError } from '../core/errors.ts';
import type { Blob } from '../records/Blob.ts';
import type { Runtime } from '../runtime.ts';
import type { StorageService } from '../services/Service.ts';
import { kmsKeyMatches } from '../services/s3/encryption.ts';
import { randomBlobs } from './blob-rows.ts';
import { completed, runOperation, type BlobContext } from './run.ts';
import { checkStored, detailOf, measureStored, problemOf } from './stored.ts';
import type { VerifyOptions, VerifyReport } from './types.ts';

/**
 * Checks every blob (of `options.service`, or all): its object exists with the recorded size; on
 * SecureS3 the encryption the server reports matches the configuration and the blob's recorded
 * `metadata.encryption`; with `deep`, the downloaded bytes' MD5 matches the checksum. Reads only.
 * Per-blob problems go into the report; throws ConfigurationError (unknown service),
 * ArgumentError, PersistenceError, OperationAbortedError. Resumable (see OperationOptions.checkpoint).
 */
export async function runVerify(rt: Runtime, options: VerifyOptions = {}): Promise<VerifyReport> {
  if (options.service !== undefined) rt.service(options.service);
  const { sample } = options;
  if (sample !== undefined && (!Number.isSafeInteger(sample) || sample < 1)) throw new ArgumentError('"sample" must be a positive integer.');
  const scope = options.service === undefined ? {} : { service: options.service };
  const deep = options.deep === true;
  const { state, resumedFrom } = await runOperation(rt, {
    operation: 'verify',
    scope,
    checkpointScope: { deep },
    options,
    ...(sample !== undefined && { fixed: () => randomBlobs(rt.dataSource, scope, sample) }),
    handle: (blob, context) => verifyOne(rt, blob, deep, context),
  });
  return completed(rt, 'verify', state.done, {
    ok: state.failed === 0,
    checked: state.counts['checked'] ?? 0,
    skipped: state.counts['skipped'] ?? 0,
    failures: state.failures,
    ...(resumedFrom !== undefined && { resumedFrom }),
  });
}

async function verifyOne(rt: Runtime, blob: Blob, deep: boolean, context: BlobContext): Promise<void> {
  if (blob.byteSize < 0) return context.count('skipped'); // a key reservation whose upload never finished
  const service = serviceFor(rt, blob, context);
  if (!service) return;
  context.count('checked');
  let reported: unknown;
  try {
    reported = await checkStored(service, blob);
  } catch (error) {
    const problem = problemOf(error, 'unreadable');
    context.problem({ problem, detail: detailOf(error) });
    if (problem !== 'encryption') return;
  }
  const mismatch = reported === undefined ? undefined : recordedMismatch(blob, reported);
  if (mismatch !== undefined) context.problem({ problem: 'encryption', detail: mismatch });
  if (deep) await checkBytes(service, blob, context);
}

function serviceFor(rt: Runtime, blob: Blob, context: BlobContext): StorageService | undefined {
  try {
    return rt.service(blob.serviceName);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    context.problem({ problem: 'unreadable', detail: `The blob's service "${blob.serviceName}" is not configured.` });
    return undefined;
  }
}

/** Why the encryption the server reported differs from what the blob's metadata records, or undefined. */
function recordedMismatch(blob: Blob, reported: unknown): string | undefined {
  const recorded = (blob.metadata ?? {})['encryption'] as { algorithm?: unknown; kmsKeyId?: unknown } | undefined;
  const server = reported as { algorithm?: string; kmsKeyId?: string };
  if (recorded === undefined || recorded === null) return 'the blob records no encryption in its metadata';
  if (recorded.algorithm !== server.algorithm) return `the blob records encryption "${String(recorded.algorithm)}" but the server reports "${String(server.algorithm)}"`;
  if (server.kmsKeyId === undefined) return undefined;
  if (typeof recorded.kmsKeyId === 'string' && kmsKeyMatches(recorded.kmsKeyId, server.kmsKeyId)) return undefined;
  return `the blob records KMS key "${String(recorded.kmsKeyId ?? 'none')}" but the server reports "${server.kmsKeyId}"`;
}

async function checkBytes(service: StorageService, blob: Blob, context: BlobContext): Promise<void> {
  if (!blob.checksum) return context.problem({ problem: 'checksum', detail: 'The blob records no checksum to compare with.' });
  try {
    const measured = await measureStored(service, blob.key);
    if (measured.byteSize !== blob.byteSize) context.problem({ problem: 'size', detail: `Downloaded ${measured.byteSize} bytes; the blob records ${blob.byteSize}.` });
    else if (measured.checksum !== blob.checksum) context.problem({ problem: 'checksum', detail: 'The downloaded bytes do not have the recorded MD5.' });
  } catch (error) {
    context.problem({ problem: problemOf(error, 'unreadable'), detail: detailOf(error) });
  }
}
