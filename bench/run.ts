/**
 * `npm run bench`: the storage bench (Disk, S3, SecureS3 at 64 and 512 MiB), the HTTP bench (proxy
 * and Disk routes against a plain fs server) and the SQL counts, one after another, each printing
 * its own report; then one summary table of every row. `npm run bench:all` (`--all`) also runs the
 * jobs and variants benches (their own reports; they have no rows in the summary).
 * Needs DATABASE_URL (else a throw-away PostgreSQL) and, for the S3 rows, the S3_* environment of
 * ../shared/s3 (`. /tmp/attache-rgw/cluster/env`); without it the S3 rows are skipped with a line saying so.
 * The load of the machine skews every ratio: the summary prints the free cores at each row's start.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { coreLoad, spread } from './measure.ts';
import { verdict, type SummaryRow } from './summary.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const all = process.argv.includes('--all');
const started = performance.now();
const dir = mkdtempSync(path.join(tmpdir(), 'attache-bench-run-'));
const summaryFile = path.join(dir, 'rows.jsonl');
const failures: string[] = [];

function run(script: string): void {
  console.log(`\n=== ${script} ${'='.repeat(Math.max(0, 70 - script.length))}`);
  const tsx = import.meta.resolve('tsx');
  const child = spawnSync(process.execPath, ['--import', tsx, path.join(here, script)], {
    stdio: 'inherit',
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env, BENCH_SUMMARY_FILE: summaryFile },
  });
  if (child.status !== 0) failures.push(`${script} exited with ${child.status ?? child.signal}`);
}

console.log(`attache bench: ${all ? 'storage, http, sql, jobs, variants' : 'storage, http, sql (npm run bench:all adds jobs and variants)'}`);
console.log(`load at start: ${coreLoad().text}`);
if (!process.env['S3_ENDPOINT']) console.log('S3_ENDPOINT is not set: the S3 and SecureS3 rows are SKIPPED (`. /tmp/attache-rgw/cluster/env` first).');
for (const script of ['storage.ts', 'http.ts', 'sql-count.ts', ...(all ? ['jobs.ts', 'variants.ts'] : [])]) run(script);

let rows: SummaryRow[] = [];
try {
  rows = readFileSync(summaryFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as SummaryRow);
} catch {
  // no bench wrote rows
}
rmSync(dir, { recursive: true, force: true });

console.log(`\n=== summary ${'='.repeat(63)}`);
const header = `${'bench'.padEnd(8)} ${'case'.padEnd(44)} ${'attache ÷ raw median (min–max)'.padEnd(31)} ${'RSS Δ raw/att'.padEnd(14)} ${'CPU s raw | att (srv)'.padEnd(24)} free goal`;
console.log(header);
console.log('-'.repeat(header.length + 4));
for (const row of rows) {
  const measure = row.value ?? `${spread(row.ratios)}${row.ratios.length > 0 ? ` n=${row.ratios.length}` : ''}`;
  const rss = row.rss ? `${row.rss.raw.toFixed(0)}/${row.rss.attache.toFixed(0)} MiB` : '';
  const srv = (v: number | undefined): string => (v === undefined ? '' : ` (${v.toFixed(2)})`);
  const cpu = row.cpu ? `${row.cpu.raw.toFixed(2)}${srv(row.cpu.rawServer)} | ${row.cpu.attache.toFixed(2)}${srv(row.cpu.attacheServer)}` : '';
  const free = row.freeCores === undefined ? '' : row.freeCores.toFixed(1);
  console.log(`${row.bench.padEnd(8)} ${row.case.padEnd(44)} ${measure.padEnd(31)} ${rss.padEnd(14)} ${cpu.padEnd(24)} ${free.padStart(4)} ${verdict(row)}`);
}
console.log('\nRatios: attache ÷ raw throughput of each alternating round. CPU s: per operation, this process (all threads), the S3 server in ( ).');
console.log(`load at end: ${coreLoad().text}; elapsed ${((performance.now() - started) / 60_000).toFixed(1)} min`);
for (const failure of failures) console.log(`FAILED: ${failure}`);
if (failures.length > 0) process.exitCode = 1;
