import {
  GetBucketCorsCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  ListObjectsV2Command,
  type CORSRule,
  type ServerSideEncryptionRule,
} from '@aws-sdk/client-s3';
import { EncryptionError, type AttacheError } from '../../core/errors.ts';
import type { DoctorCheck, Probe, ProbeOutcome } from '../../operations/doctor.ts';
import type { StorageService } from '../Service.ts';
import { S3Failure, translateS3Error } from './errors.ts';
import { kmsKeyMatches } from './encryption.ts';
import type { S3Service } from './S3Service.ts';

// `attache doctor` for S3 and SecureS3: what only an S3 bucket can tell (read-only requests), around the generic probe.

type Configured = { algorithm: string; kmsKeyId?: string } | undefined;

interface Answer<T> {
  value?: T;
  /** The S3 error code of a failed request ('' for a network failure). */
  code?: string;
  error?: AttacheError;
}

const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'CredentialsProviderError']);

/** Every check of an S3 or SecureS3 service, in order; the probe and bucket checks are skipped when the bucket cannot be reached. */
export async function diagnoseS3(service: StorageService, probe: Probe): Promise<DoctorCheck[]> {
  const s3 = service as S3Service;
  const configured = (s3.toJSON()['encryption'] as Configured) ?? undefined;
  const checks = await accessChecks(s3);
  if (checks.some((c) => c.status === 'fail')) {
    return [...checks, { check: 'probe', status: 'skip', reason: 'not tried: the bucket cannot be reached' }];
  }
  const defaults = await ask(s3, 'read the bucket encryption', () => s3.client.send(new GetBucketEncryptionCommand({ Bucket: s3.bucket })));
  const rules = defaults.value?.ServerSideEncryptionConfiguration?.Rules ?? [];
  const outcome = await probe(s3);
  checks.push(...outcome.checks, encryptionCheck(s3, configured, outcome, blocksCustomerKeys(rules)), defaultEncryptionCheck(s3, defaults, rules));
  checks.push(await policyCheck(s3), await corsCheck(s3, configured));
  return checks;
}

async function ask<T>(s3: S3Service, action: string, call: () => Promise<T>): Promise<Answer<T>> {
  try {
    return { value: await call() };
  } catch (raw) {
    const error = translateS3Error(raw, { service: s3.name, action });
    return { error, code: error.cause instanceof S3Failure ? error.cause.code : '' };
  }
}

/** ListObjectsV2 of one key: tells bad credentials from a missing bucket from missing list permission. */
async function accessChecks(s3: S3Service): Promise<DoctorCheck[]> {
  const listed = await ask(s3, 'list the bucket', () => s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, MaxKeys: 1 })));
  const where = `bucket "${s3.bucket}"${s3.endpoint === undefined ? ` in ${s3.region}` : ` at ${s3.endpoint}`}`;
  if (listed.error === undefined) {
    return [{ check: 'credentials', status: 'pass', reason: 'the server accepted the credentials' }, { check: 'bucket', status: 'pass', reason: `${where} is reachable and listable` }];
  }
  const code = listed.code ?? '';
  if (CREDENTIAL_CODES.has(code)) {
    return [
      { check: 'credentials', status: 'fail', reason: `the server refused the credentials (${code})`, fix: 'Check access_key_id and secret_access_key (or the AWS credential chain: env, profile, role).' },
      { check: 'bucket', status: 'skip', reason: 'not checked: the credentials were refused' },
    ];
  }
  if (code === 'NoSuchBucket') {
    return [
      { check: 'credentials', status: 'pass', reason: 'the server accepted the credentials' },
      { check: 'bucket', status: 'fail', reason: `${where} does not exist`, fix: 'Create the bucket, or correct `bucket:` (and `region:`/`endpoint:`).' },
    ];
  }
  if (code === 'AccessDenied') {
    return [
      { check: 'credentials', status: 'pass', reason: 'the server accepted the credentials' },
      { check: 'bucket', status: 'warn', reason: `the credentials may not list ${where} (AccessDenied)`, fix: 'Grant s3:ListBucket: `attache sweep` needs it to find orphan objects.' },
    ];
  }
  return [
    { check: 'credentials', status: 'fail', reason: `cannot reach the server: ${listed.error.message}`, fix: 'Check `endpoint:`, `region:` and the network path to S3.' },
    { check: 'bucket', status: 'skip', reason: 'not checked: the server cannot be reached' },
  ];
}

/** The configured encryption against what the probe showed: KMS key usable, SSE-C accepted, or plain S3's warning. */
function encryptionCheck(s3: S3Service, configured: Configured, outcome: ProbeOutcome, blocked: boolean): DoctorCheck {
  if (configured === undefined) {
    return { check: 'encryption', status: 'warn', reason: 'plain S3: attache sends no encryption headers, so objects get only the bucket default', fix: 'Use `service: SecureS3` with `kms_key_id:` to have every write encrypted and checked.' };
  }
  if (configured.algorithm === 'SSE-C') {
    if (outcome.writeError === undefined) return { check: 'sse-c', status: 'pass', reason: 'the bucket accepts SSE-C writes with the configured customer key' };
    const why = blocked ? 'the bucket blocks SSE-C (its encryption configuration lists SSE-C in BlockedEncryptionTypes)' : 'the server refused the SSE-C write';
    return { check: 'sse-c', status: 'fail', reason: why, fix: 'Use SSE-KMS (`kms_key_id:`) instead, or allow SSE-C on the bucket (put-bucket-encryption without SSE-C in BlockedEncryptionTypes).' };
  }
  if (configured.kmsKeyId === undefined) return { check: 'kms key', status: 'skip', reason: `${configured.algorithm}: no KMS key is configured` };
  const key = `KMS key "${configured.kmsKeyId}"`;
  if (outcome.writeError instanceof EncryptionError) {
    return { check: 'kms key', status: 'fail', reason: `the server could not use ${key}: ${outcome.writeError.message}`, fix: 'Check `kms_key_id:`: the key must exist in the KMS the bucket uses, be enabled, and the credentials need kms:GenerateDataKey and kms:Decrypt on it.' };
  }
  if (outcome.writeError !== undefined) return { check: 'kms key', status: 'skip', reason: 'not checked: the probe write failed' };
  const recorded = (outcome.metadata?.['encryption'] as { kmsKeyId?: string } | undefined)?.kmsKeyId;
  if (!kmsKeyMatches(configured.kmsKeyId, recorded)) return { check: 'kms key', status: 'fail', reason: `the server encrypted the probe under "${recorded ?? 'no key'}", not ${key}` };
  return { check: 'kms key', status: 'pass', reason: `${key} encrypted the probe and decrypted it on read` };
}

function blocksCustomerKeys(rules: readonly ServerSideEncryptionRule[]): boolean {
  return rules.some((rule) => (rule.BlockedEncryptionTypes?.EncryptionType ?? []).some((type) => String(type) === 'SSE-C'));
}

function defaultEncryptionCheck(s3: S3Service, answer: Answer<unknown>, rules: readonly ServerSideEncryptionRule[]): DoctorCheck {
  const check = 'default encryption';
  const fix = `Set one: aws s3api put-bucket-encryption --bucket ${s3.bucket} --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"<key>"}}]}'`;
  if (answer.code === 'ServerSideEncryptionConfigurationNotFoundError') {
    return { check, status: 'warn', reason: 'the bucket has no default encryption: an object another client writes without SSE headers is stored unencrypted', fix };
  }
  if (answer.error !== undefined) return { check, status: 'warn', reason: `the server did not report it (${answer.code || answer.error.message})`, fix: 'Grant s3:GetEncryptionConfiguration to see it.' };
  const applied = rules.map((rule) => rule.ApplyServerSideEncryptionByDefault).find((d) => d !== undefined);
  if (applied === undefined) return { check, status: 'warn', reason: 'the bucket encryption configuration has no default rule', fix };
  const blocked = rules.flatMap((rule) => rule.BlockedEncryptionTypes?.EncryptionType ?? []).map(String);
  const key = applied.KMSMasterKeyID === undefined ? '' : ` with KMS key "${applied.KMSMasterKeyID}"`;
  return { check, status: 'pass', reason: `${applied.SSEAlgorithm}${key}${blocked.length > 0 ? `; blocked: ${blocked.join(', ')}` : ''}` };
}

interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** Whether the bucket policy denies a PutObject that carries no (or another) server-side encryption header. */
async function policyCheck(s3: S3Service): Promise<DoctorCheck> {
  const check = 'policy';
  const fix = `Add a Deny statement for s3:PutObject on arn:aws:s3:::${s3.bucket}/* with Condition {"Null":{"s3:x-amz-server-side-encryption":"true"}}, so nothing can store an unencrypted object.`;
  const answer = await ask(s3, 'read the bucket policy', () => s3.client.send(new GetBucketPolicyCommand({ Bucket: s3.bucket })));
  if (answer.code === 'NoSuchBucketPolicy') return { check, status: 'warn', reason: 'the bucket has no policy: nothing refuses an unencrypted PutObject from another client', fix };
  if (answer.error !== undefined) return { check, status: 'warn', reason: `the server did not report it (${answer.code || answer.error.message})`, fix: 'Grant s3:GetBucketPolicy to see it.' };
  let statements: PolicyStatement[] = [];
  try {
    const parsed = JSON.parse(answer.value?.Policy ?? '{}') as { Statement?: PolicyStatement | PolicyStatement[] };
    statements = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
  } catch {
    return { check, status: 'warn', reason: 'the bucket policy is not valid JSON', fix };
  }
  const denying = statements.find(deniesUnencryptedPut);
  if (denying === undefined) return { check, status: 'warn', reason: 'the bucket policy does not deny unencrypted PutObject', fix };
  return { check, status: 'pass', reason: `the bucket policy denies PutObject without server-side encryption${denying.Sid ? ` (statement "${denying.Sid}")` : ''}` };
}

function deniesUnencryptedPut(statement: PolicyStatement): boolean {
  if (statement.Effect !== 'Deny') return false;
  const actions = (Array.isArray(statement.Action) ? statement.Action : [statement.Action ?? '']).map((a) => a.toLowerCase());
  if (!actions.some((a) => a === 's3:putobject' || a === 's3:*' || a === '*')) return false;
  return Object.values(statement.Condition ?? {}).some((keys) => Object.keys(keys).some((key) => key.toLowerCase().startsWith('s3:x-amz-server-side-encryption')));
}

/** Whether a CORS rule lets a browser PUT with the headers attache's direct uploads send. */
async function corsCheck(s3: S3Service, configured: Configured): Promise<DoctorCheck> {
  const check = 'cors';
  const fix = 'Allow PUT from your app\'s origin with AllowedHeaders ["*"] and ExposeHeaders ["ETag"] (see examples/direct-upload/cors.ts); only browser direct uploads need it.';
  if (configured?.algorithm === 'SSE-C') return { check, status: 'skip', reason: 'SSE-C services have no browser direct uploads' };
  const answer = await ask(s3, 'read the bucket CORS rules', () => s3.client.send(new GetBucketCorsCommand({ Bucket: s3.bucket })));
  if (answer.code === 'NoSuchCORSConfiguration') return { check, status: 'warn', reason: 'no CORS rules: browsers cannot upload to the bucket directly (server-side uploads work)', fix };
  if (answer.error !== undefined) return { check, status: 'warn', reason: `the server did not report it (${answer.code || answer.error.message})`, fix };
  const needed = ['content-type', 'content-md5', ...(configured === undefined ? [] : ['x-amz-server-side-encryption'])];
  const rule = (answer.value?.CORSRules ?? []).find((r: CORSRule) => (r.AllowedMethods ?? []).includes('PUT'));
  if (rule === undefined) return { check, status: 'warn', reason: 'no CORS rule allows PUT: browser direct uploads will be refused', fix };
  const allowed = (rule.AllowedHeaders ?? []).map((h) => h.toLowerCase());
  const missing = allowed.includes('*') ? [] : needed.filter((h) => !allowed.some((a) => a === h || (a.endsWith('*') && h.startsWith(a.slice(0, -1)))));
  if (missing.length > 0) return { check, status: 'warn', reason: `the PUT rule does not allow the headers ${missing.join(', ')}`, fix };
  return { check, status: 'pass', reason: `direct uploads allowed (PUT) from ${(rule.AllowedOrigins ?? []).join(', ') || 'no origin'}` };
}
