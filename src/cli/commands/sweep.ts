import type { SweepReport } from '../../records/sweep.ts';
import { parseDuration } from '../duration.ts';
import { openApp, outputMode, withCommonOptions, type CommonOptions } from '../context.ts';
import { EXIT } from '../exit.ts';
import { formatBytes, table } from '../format.ts';
import { printReport } from '../output.ts';
import { createSpinner } from '../progress.ts';
import type { Register } from '../program.ts';

interface SweepCommandOptions extends CommonOptions {
  olderThan: string;
  apply?: boolean;
  service?: string[];
}

/** Items listed per kind in the human report (--json lists all). */
const LISTED = 20;

export const registerSweep: Register = (program, action) => {
  withCommonOptions(program.command('sweep'))
    .description('find unattached blobs, objects without rows, temp files and incomplete multipart uploads; a dry run unless --apply')
    .option('--older-than <duration>', 'only what is older than this: 2d, 12h, 30m, 45s', '2d')
    .option('--apply', 'remove what is found (default: only report)', false)
    .option('--service <name...>', 'only list these services\' storage (unattached blobs are found in every service)')
    .action(action(sweepCommand));
};

async function sweepCommand(options: SweepCommandOptions): Promise<number> {
  const olderThan = parseDuration(options.olderThan);
  const mode = outputMode(options);
  const app = await openApp(options);
  try {
    const dryRun = options.apply !== true;
    const spinner = createSpinner(`attache sweep${dryRun ? ' (dry run)' : ''}: looking for leftovers older than ${options.olderThan}`, mode);
    const report = await app.attache.sweep({ olderThan, dryRun, ...(options.service && { services: options.service }) });
    const found = report.unattachedBlobs.length + report.orphanObjects.length + report.pendingWrites.length;
    const verb = dryRun ? 'found' : 'removed';
    spinner.finish(`sweep: ${verb} ${found} leftover(s), ${report.failures.length} failure(s)${dryRun && found > 0 ? ' (dry run: run with --apply to remove them)' : ''}`, report.failures.length === 0);
    printReport(mode, report, () => human(report));
    return report.failures.length === 0 ? EXIT.ok : EXIT.problems;
  } finally {
    await app.close();
  }
}

function human(report: SweepReport): string {
  const sum = (items: ReadonlyArray<{ byteSize: number }>) => formatBytes(items.reduce((total, item) => total + item.byteSize, 0));
  const lines = [
    `${report.dryRun ? 'Dry run' : 'Applied'}; cutoff ${report.cutoff.toISOString()}`,
    '',
    table(['kind', report.dryRun ? 'found' : 'removed', 'bytes'], [
      ['unattached blobs', String(report.unattachedBlobs.length), sum(report.unattachedBlobs)],
      ['orphan objects', String(report.orphanObjects.length), sum(report.orphanObjects)],
      ['unfinished writes', String(report.pendingWrites.length), '-'],
    ]),
  ];
  const list = (title: string, headers: string[], rows: string[][]) => {
    if (rows.length === 0) return;
    lines.push('', `${title}${rows.length > LISTED ? ` (first ${LISTED} of ${rows.length}; --json lists all)` : ''}:`, table(headers, rows.slice(0, LISTED)));
  };
  list('Unattached blobs', ['service', 'id', 'key', 'bytes', 'created'], report.unattachedBlobs.map((b) => [b.service, b.id, b.key, String(b.byteSize), b.createdAt.toISOString()]));
  list('Orphan objects', ['service', 'key', 'bytes', 'modified'], report.orphanObjects.map((o) => [o.service, o.key, String(o.byteSize), o.lastModified.toISOString()]));
  list('Unfinished writes', ['service', 'kind', 'id', 'started'], report.pendingWrites.map((w) => [w.service, w.kind, w.key ?? w.id, w.startedAt.toISOString()]));
  list('Skipped', ['service', 'reason'], report.skipped.map((s) => [s.service, s.reason]));
  list('Failures', ['service', 'action', 'error'], report.failures.map((f) => [f.service ?? '-', f.action, f.error.message]));
  return lines.join('\n');
}
