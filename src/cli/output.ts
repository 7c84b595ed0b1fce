import { AttacheError } from '../core/errors.ts';
import type { OutputMode } from './progress.ts';

/** A report as JSON: errors as their name, code and message (never their cause: it may be a vendor object). */
export function toJson(report: unknown): string {
  return JSON.stringify(
    report,
    (_key, value: unknown) => {
      if (value instanceof Error) return { name: value.name, ...(value instanceof AttacheError && { code: value.code }), message: value.message };
      if (typeof value === 'bigint') return value.toString();
      return value;
    },
    2,
  );
}

/** Prints the report: one JSON document with --json, else the human text. */
export function printReport(mode: OutputMode, report: unknown, human: () => string): void {
  mode.stdout.write(mode.json ? `${toJson(report)}\n` : `${human()}\n`);
}
