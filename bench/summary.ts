/**
 * The rows every bench hands to `npm run bench`'s one summary table (bench/run.ts). A bench run
 * by run.ts writes its rows as JSON to the file named by BENCH_SUMMARY_FILE; run on its own, it
 * only prints its own report.
 */
import { appendFileSync } from 'node:fs';
import { median } from './measure.ts';

export interface SummaryRow {
  /** Which bench: storage, http, sql. */
  bench: string;
  /** What was compared, e.g. "64 MiB S3 upload". */
  case: string;
  /** The request path attache took (and raw's when it differs). */
  path: string;
  /** attache ÷ raw of each round (throughput); empty for a row that is a count. */
  ratios: number[];
  /** The goal for the median ratio, when there is one. */
  goal?: number;
  /** Peak RSS growth in MiB, median over rounds. */
  rss?: { raw: number; attache: number };
  /** CPU seconds per operation (median): this process and the S3 server, for each side. */
  cpu?: { attache: number; attacheServer?: number; raw: number; rawServer?: number };
  /** A value to print instead of ratios (e.g. a statement count). */
  value?: string;
  /** Free cores (cores − 1-min load) when the row started. */
  freeCores?: number;
}

/** Hands rows to run.ts when it started this bench. */
export function reportRows(rows: readonly SummaryRow[]): void {
  const file = process.env['BENCH_SUMMARY_FILE'];
  if (!file) return;
  for (const row of rows) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** Whether the median ratio reaches the goal: ✓, ✗ or blank when there is none. */
export function verdict(row: SummaryRow): string {
  if (row.goal === undefined || row.ratios.length === 0) return '';
  return median(row.ratios) >= row.goal ? '✓' : `✗ < ${row.goal}`;
}
