import { InvalidArgumentError, type Command } from 'commander';
import { OperationAbortedError } from '../../core/errors.ts';
import type { BlobProblem, MigrateReport, OperationOptions, OperationProgress, ReencryptReport, VerifyReport } from '../../operations/types.ts';
import type { Attache } from '../../attache.ts';
import { openApp, outputMode, withCommonOptions, type CommonOptions } from '../context.ts';
import { EXIT } from '../exit.ts';
import { formatBytes, table } from '../format.ts';
import { Interrupt } from '../interrupt.ts';
import { printReport } from '../output.ts';
import { createProgress, describeProgress } from '../progress.ts';
import type { Register } from '../program.ts';

interface RunOptions extends CommonOptions {
  concurrency?: number;
  batchSize?: number;
  checkpoint?: string | boolean;
}

type Report = VerifyReport | MigrateReport | ReencryptReport;

/** Failures listed in the human report (--json lists all). */
const LISTED = 50;

/** A positive whole number option. */
function positive(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1.`);
    return n;
  };
}

function withRunOptions(command: Command): Command {
  return withCommonOptions(command)
    .option('--concurrency <n>', 'blobs handled at once (default 4)', positive('--concurrency'))
    .option('--batch-size <n>', 'blobs read per query; the checkpoint advances once per batch (default 100)', positive('--batch-size'))
    .option('--checkpoint <file>', 'the checkpoint file to resume from and save to (default: one under the temp dir, per operation, services and database)')
    .option('--no-checkpoint', 'neither resume nor save a checkpoint');
}

export const registerOperations: Register = (program, action) => {
  withRunOptions(program.command('verify'))
    .description('check every blob\'s object: it exists with its recorded size; on SecureS3 its encryption matches the config and the blob; --deep also compares the MD5')
    .option('--service <name>', 'only this service\'s blobs')
    .option('--deep', 'download every object and compare its MD5 with the blob\'s checksum', false)
    .option('--sample <n>', 'check only this many blobs, picked at random', positive('--sample'))
    .action(action((o: RunOptions & { service?: string; deep?: boolean; sample?: number }) =>
      runCommand('verify', o, (attache, base) => attache.verifyBlobs({ ...base, service: o.service, deep: o.deep, ...(o.sample !== undefined && { sample: o.sample }) }))));
  withRunOptions(program.command('migrate'))
    .description('copy every blob of one service to another (streamed, verified, encrypted as the target encrypts), switch each row, and delete the source only with --delete-source')
    .requiredOption('--from <service>', 'the service the blobs leave')
    .requiredOption('--to <service>', 'the service they move to')
    .option('--delete-source', 'delete each source object once its row points at the target', false)
    .option('--dry-run', 'change nothing; report what would move', false)
    .action(action((o: RunOptions & { from: string; to: string; deleteSource?: boolean; dryRun?: boolean }) =>
      runCommand('migrate', o, (attache, base) => attache.migrateBlobs({ ...base, from: o.from, to: o.to, deleteSource: o.deleteSource, dryRun: o.dryRun }))));
  withRunOptions(program.command('reencrypt'))
    .description('rewrite every object of a SecureS3 service under a KMS key (default: the configured one) and record it in each blob\'s metadata; skips objects already under it')
    .requiredOption('--service <name>', 'the SecureS3 service')
    .option('--to-key <key>', 'the KMS key id or ARN to rewrite under (default: the service\'s kms_key_id)')
    .action(action((o: RunOptions & { service: string; toKey?: string }) =>
      runCommand('reencrypt', o, (attache, base) => attache.reencryptBlobs({ ...base, service: o.service, ...(o.toKey !== undefined && { toKey: o.toKey }) }))));
};

/**
 * Runs one operation with a progress bar (or lines), Ctrl-C handling and the report. Exit 0 when the
 * report is ok, 1 when blobs had problems, 130 (143) when interrupted: the blobs in flight were
 * finished and the checkpoint kept, so the same command resumes.
 */
async function runCommand(name: OperationProgress['operation'], options: RunOptions, operate: (attache: Attache, base: OperationOptions) => Promise<Report>): Promise<number> {
  const mode = outputMode(options);
  const app = await openApp(options);
  const progress = createProgress(`${name}:`, mode);
  const interrupt = new Interrupt((signal) => {
    if (!mode.tty || mode.json) mode.stderr.write(`${signal}: stopping after the blobs in flight (again to quit at once)\n`);
  });
  let last: OperationProgress | undefined;
  const started = performance.now();
  try {
    const base: OperationOptions = {
      signal: interrupt.signal,
      onProgress: (p) => progress.update((last = p)),
      ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
      ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
      ...(typeof options.checkpoint === 'string' || options.checkpoint === false ? { checkpoint: options.checkpoint } : {}),
    };
    const report = await operate(app.attache, base);
    progress.finish(`${name}: ${summary(name, report)}`, report.ok);
    printReport(mode, report, () => human(name, report, last, (performance.now() - started) / 1000));
    return interrupt.exitCode(report.ok ? EXIT.ok : EXIT.problems);
  } catch (error) {
    if (!(error instanceof OperationAbortedError)) throw error;
    const where = last ? describeProgress(last, (performance.now() - started) / 1000) : 'nothing done yet';
    const message = `${name}: interrupted at ${where}. The checkpoint is kept: run the same command again to resume.`;
    progress.finish(message, false);
    if (mode.json) printReport(mode, { ok: false, interrupted: true, progress: last ?? null }, () => '');
    else mode.stderr.write(`${message}\n`);
    return interrupt.exitCode(EXIT.sigint);
  } finally {
    interrupt.dispose();
    await app.close();
  }
}

function summary(name: OperationProgress['operation'], report: Report): string {
  const failed = `${report.failures.length} failed`;
  if (name === 'verify') {
    const r = report as VerifyReport;
    return `${r.checked} checked, ${r.skipped} skipped, ${failed}${r.resumedFrom ? ` (resumed after blob ${r.resumedFrom})` : ''}`;
  }
  if (name === 'migrate') {
    const r = report as MigrateReport;
    return `${r.dryRun ? 'dry run: would move' : 'moved'} ${r.moved}, ${r.alreadyOnTarget} already on target, ${r.deletedSources} sources deleted, ${failed}`;
  }
  const r = report as ReencryptReport;
  return `${r.rewritten} rewritten (${r.inPlace} in place, ${r.streamed} streamed), ${r.alreadyUnderKey} already under the key, ${failed}`;
}

function human(name: OperationProgress['operation'], report: Report, last: OperationProgress | undefined, seconds: number): string {
  const lines = [`${name} ${report.ok ? 'ok' : 'found problems'}: ${summary(name, report)}`];
  if (last) lines.push(`${last.total} blobs, ${formatBytes(last.totalBytes)} in ${seconds.toFixed(1)} s`);
  if (report.failures.length > 0) {
    const shown = report.failures.slice(0, LISTED);
    lines.push('', `Problems${report.failures.length > LISTED ? ` (first ${LISTED} of ${report.failures.length}; --json lists all)` : ''}:`);
    lines.push(table(['blob', 'service', 'key', 'problem', 'detail'], shown.map((p: BlobProblem) => [p.blobId, p.service, p.key, p.problem, p.detail])));
  }
  return lines.join('\n');
}

