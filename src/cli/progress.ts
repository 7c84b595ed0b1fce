import { progress as clackProgress, spinner as clackSpinner, type ProgressResult, type SpinnerResult } from '@clack/prompts';
import type { Writable } from 'node:stream';
import { formatBytes, formatSeconds } from './format.ts';

/** What an operation reports as it goes (OperationProgress has these fields). */
export interface ProgressSnapshot {
  done: number;
  total: number;
  bytes: number;
  totalBytes: number;
  failed: number;
}

/** Where the CLI writes: a progress bar when stdout is a terminal, lines otherwise; with --json only the report goes to stdout. */
export interface OutputMode {
  json: boolean;
  tty: boolean;
  stdout: Writable;
  stderr: Writable;
}

export interface Progress {
  update(snapshot: ProgressSnapshot): void;
  /** Ends the bar (or prints the last line) with `message`. */
  finish(message: string, ok: boolean): void;
}

const CANCEL_MESSAGE = 'Stopping: finishing the blobs in flight and saving the checkpoint (Ctrl-C again quits at once)';
const LINE_INTERVAL_MS = 1000;

/** `120/300 blobs · 12.0 MiB/30.0 MiB · 2.1 MiB/s · ETA 9s · 0 failed`. */
export function describeProgress(snapshot: ProgressSnapshot, elapsedSeconds: number): string {
  const { done, total, bytes, totalBytes, failed } = snapshot;
  const parts = [`${done}/${total} blobs`, `${formatBytes(bytes)}/${formatBytes(totalBytes)}`];
  const seconds = Math.max(elapsedSeconds, 0.001);
  const byteRate = bytes / seconds;
  parts.push(byteRate > 0 ? `${formatBytes(byteRate)}/s` : `${(done / seconds).toFixed(1)} blobs/s`);
  const remaining = totalBytes > 0 && byteRate > 0 ? (totalBytes - bytes) / byteRate : done > 0 ? ((total - done) * seconds) / done : undefined;
  parts.push(remaining === undefined ? 'ETA -' : `ETA ${formatSeconds(remaining)}`);
  parts.push(`${failed} failed`);
  return parts.join(' · ');
}

/** A progress bar (clack) on a terminal, a line a second otherwise (on stderr with --json). */
export function createProgress(label: string, mode: OutputMode): Progress {
  return mode.tty && !mode.json ? new BarProgress(label, mode.stdout) : new LineProgress(label, mode.json ? mode.stderr : mode.stdout);
}

class BarProgress implements Progress {
  #bar: ProgressResult | undefined;
  #done = 0;
  readonly #started = performance.now();

  constructor(private readonly label: string, private readonly output: Writable) {}

  update(snapshot: ProgressSnapshot): void {
    const message = `${this.label} ${describeProgress(snapshot, (performance.now() - this.#started) / 1000)}`;
    if (this.#bar === undefined) {
      this.#bar = clackProgress({ max: Math.max(1, snapshot.total), output: this.output, cancelMessage: CANCEL_MESSAGE, withGuide: false });
      this.#bar.start(message);
      keepCtrlCASignal();
    }
    this.#bar.advance(snapshot.done - this.#done, message);
    this.#done = snapshot.done;
  }

  finish(message: string, ok: boolean): void {
    if (this.#bar === undefined) return void this.output.write(`${message}\n`);
    if (ok) this.#bar.stop(message);
    else this.#bar.error(message);
  }
}

class LineProgress implements Progress {
  #last = 0;
  #snapshot: ProgressSnapshot | undefined;
  readonly #started = performance.now();

  constructor(private readonly label: string, private readonly output: Writable) {}

  update(snapshot: ProgressSnapshot): void {
    this.#snapshot = snapshot;
    const now = performance.now();
    if (now - this.#last < LINE_INTERVAL_MS && snapshot.done < snapshot.total) return;
    this.#last = now;
    this.output.write(`${this.label} ${describeProgress(snapshot, (now - this.#started) / 1000)}\n`);
  }

  finish(message: string): void {
    this.output.write(`${message}\n`);
  }
}

/** A spinner (clack) on a terminal for steps without counts (doctor, sweep); a start line otherwise. */
export interface Spinner {
  message(text: string): void;
  finish(message: string, ok: boolean): void;
}

export function createSpinner(label: string, mode: OutputMode): Spinner {
  if (!mode.tty || mode.json) {
    const output = mode.json ? mode.stderr : mode.stdout;
    output.write(`${label}\n`);
    return { message: () => undefined, finish: (message) => void output.write(`${message}\n`) };
  }
  const spin: SpinnerResult = clackSpinner({ output: mode.stdout, cancelMessage: CANCEL_MESSAGE, withGuide: false });
  spin.start(label);
  keepCtrlCASignal();
  return {
    message: (text) => spin.message(text),
    finish: (message, ok) => (ok ? spin.stop(message) : spin.error(message)),
  };
}

/**
 * clack's spinner puts stdin in raw mode, where Ctrl-C is a key it answers with process.exit(0):
 * no checkpoint, and exit code 0 after an interrupted run. Back in cooked mode the terminal turns
 * Ctrl-C into SIGINT again, which Interrupt handles (finish in flight, checkpoint, exit 130).
 */
function keepCtrlCASignal(): void {
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
}
