import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { md5Base64 } from '../core/checksum.ts';
import { AttacheError, EncryptionError } from '../core/errors.ts';
import { generateKey } from '../core/keys.ts';
import { readAll } from '../core/streams.ts';
import type { Runtime } from '../runtime.ts';
import type { StorageService } from '../services/Service.ts';

/** pass: works; warn: works, but something a reviewer should know; fail: broken; skip: not checked (an earlier step failed). */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One finding of `attache doctor`: what was checked, the outcome, why, and what to do. */
export interface DoctorCheck {
  /** A short stable name: `config`, `credentials`, `bucket`, `probe write`, `kms key`, `cors`, … */
  check: string;
  status: CheckStatus;
  reason: string;
  /** What to change, for warn and fail. */
  fix?: string;
}

export interface ServiceDiagnosis {
  service: string;
  /** The adapter (`Disk`, `S3`, `SecureS3`, `Mirror`, …), or `unknown` when the service could not be built. */
  adapter: string;
  /** No check failed. */
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorReport {
  /** No check of any service failed (warnings allowed). */
  ok: boolean;
  services: ServiceDiagnosis[];
}

export interface DoctorOptions {
  /** Only this service (default: every configured one). */
  service?: string;
  /** Called as each service is done (for progress). */
  onService?: (diagnosis: ServiceDiagnosis) => void;
}

/** What the probe object showed, for the adapter's own checks afterwards. */
export interface ProbeOutcome {
  checks: DoctorCheck[];
  /** The write failed with this (the adapter explains it). */
  writeError?: unknown;
  /** The metadata the service recorded for the probe (SecureS3: `encryption`). */
  metadata?: Record<string, unknown>;
}

/** A probe run against a service: write, read back, check its encryption, delete. */
export type Probe = (service: StorageService) => Promise<ProbeOutcome>;

const PROBE_BYTES = 64;

/**
 * Checks every configured service (or one) for real: it builds it from the config, reaches its
 * storage, and writes, reads back, checks and deletes a probe object under a fresh random key (a
 * probe left behind by a crash is an orphan object that `sweep` removes). S3 services also get
 * their credentials, bucket, KMS key, default encryption, bucket policy and CORS checked.
 * Never throws for a broken service: the failure is a check. Throws ConfigurationError for an unknown `service`.
 */
export async function doctor(rt: Runtime, options: DoctorOptions = {}): Promise<DoctorReport> {
  const names = options.service === undefined ? rt.registry.names() : [options.service];
  if (options.service !== undefined && !rt.registry.has(options.service)) rt.service(options.service); // throws unknownService
  const services: ServiceDiagnosis[] = [];
  for (const name of names) {
    const diagnosis = await diagnose(rt, name);
    services.push(diagnosis);
    options.onService?.(diagnosis);
  }
  return { ok: services.every((s) => s.ok), services };
}

async function diagnose(rt: Runtime, name: string): Promise<ServiceDiagnosis> {
  let service: StorageService;
  try {
    service = rt.service(name);
  } catch (error) {
    const fix = `Correct service "${name}" in ${rt.registry.toJSON().file} (or set the variable the message names).`;
    return finish(name, 'unknown', [{ check: 'config', status: 'fail', reason: messageOf(error), fix }]);
  }
  const adapter = adapterOf(service);
  const checks: DoctorCheck[] = [{ check: 'config', status: 'pass', reason: `the settings parse and are known to the ${adapter} adapter` }];
  if (adapter === 'Mirror') {
    checks.push({ check: 'storage', status: 'skip', reason: 'a Mirror stores nothing itself: its primary and mirrors are checked as services of their own' });
  } else if (adapter === 'S3' || adapter === 'SecureS3') {
    const { diagnoseS3 } = await import('../services/s3/doctor-probes.ts'); // loads the AWS SDK only for S3 configs
    checks.push(...(await diagnoseS3(service, probe)));
  } else {
    if ('root' in service && typeof service.root === 'string') checks.push(await rootCheck(service.root));
    if (checks.at(-1)?.status !== 'fail') checks.push(...(await probe(service)).checks);
  }
  return finish(name, adapter, checks);
}

function finish(service: string, adapter: string, checks: DoctorCheck[]): ServiceDiagnosis {
  return { service, adapter, ok: checks.every((c) => c.status !== 'fail'), checks };
}

async function rootCheck(root: string): Promise<DoctorCheck> {
  try {
    const info = await stat(root);
    if (info.isDirectory()) return { check: 'root', status: 'pass', reason: `${root} is a directory` };
    return { check: 'root', status: 'fail', reason: `${root} exists but is not a directory`, fix: 'Point `root:` at a directory.' };
  } catch {
    return { check: 'root', status: 'warn', reason: `${root} does not exist yet (the first upload creates it)`, fix: `Create it (mkdir -p ${root}) on a volume that is backed up and shared by every app server.` };
  }
}

/** Writes, reads back, checks (verifyStored, where the service has it) and deletes a random probe object. */
export const probe: Probe = async (service) => {
  const key = generateKey();
  const bytes = randomBytes(PROBE_BYTES);
  const checks: DoctorCheck[] = [];
  let metadata: Record<string, unknown> | undefined;
  try {
    metadata = (await service.upload(key, bytes, { checksum: md5Base64(bytes), contentType: 'application/octet-stream' })).metadata;
    checks.push({ check: 'probe write', status: 'pass', reason: `wrote a ${PROBE_BYTES}-byte probe object "${key}"` });
  } catch (writeError) {
    const fix = writeError instanceof EncryptionError
      ? 'The server refused the configured encryption: see the kms key or sse-c check.'
      : 'Check that the credentials may write (s3:PutObject) or that the process may write the Disk root.';
    return { checks: [{ check: 'probe write', status: 'fail', reason: messageOf(writeError), fix }], writeError };
  }
  try {
    checks.push(await step('probe read', async () => {
      const read = await readAll(await service.download(key));
      return read.equals(bytes) ? [true, 'read the same bytes back'] : [false, `read back ${read.length} bytes that differ from what was written`];
    }));
    if (service.verifyStored) {
      checks.push(await step('probe encryption', async () => [true, `the server reports ${describe((await service.verifyStored!(key)).metadata)}`]));
    }
  } finally {
    checks.push(await step('probe delete', async () => {
      await service.delete(key);
      return (await service.exists(key)) ? [false, 'the probe object is still there after delete'] : [true, 'deleted the probe object'];
    }));
  }
  return { checks, ...(metadata !== undefined && { metadata }) };
};

/** A check from a step that answers whether it passed and why; an error fails it with its message. */
async function step(check: string, run: () => Promise<[boolean, string]>): Promise<DoctorCheck> {
  try {
    const [passed, reason] = await run();
    return { check, status: passed ? 'pass' : 'fail', reason };
  } catch (error) {
    return { check, status: 'fail', reason: messageOf(error) };
  }
}

function describe(metadata: Record<string, unknown> | undefined): string {
  const encryption = metadata?.['encryption'] as { algorithm?: string; kmsKeyId?: string } | undefined;
  if (encryption === undefined) return 'the object';
  return `${encryption.algorithm}${encryption.kmsKeyId === undefined ? '' : ` with KMS key "${encryption.kmsKeyId}"`}, as configured`;
}

function adapterOf(service: StorageService): string {
  const described = (service as { toJSON?: () => unknown }).toJSON?.() as { adapter?: unknown } | undefined;
  if (typeof described?.adapter === 'string') return described.adapter;
  if ('primary' in service && 'mirrors' in service) return 'Mirror';
  return service.constructor.name.replace(/Service$/, '') || 'unknown';
}

/** attache's messages name settings, never values; anything else only by its class. */
export function messageOf(error: unknown): string {
  if (error instanceof AttacheError) return error.message;
  return error instanceof Error ? `${error.name}` : String(error);
}
