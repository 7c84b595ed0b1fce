/**
 * Helpers for the benches: a generated source stream, a counting sink, a resident-set-size sampler
 * running on its own thread, CPU time of this process and of the S3 server, the machine's load,
 * medians and small formatting helpers.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

export const MIB = 1024 * 1024;

/** The chunk size of Node's file and socket streams, so the services see what a real upload gives them. */
const CHUNK = 64 * 1024;

/** One random MiB, repeated by every generated source (random, so nothing on the way can compress it). */
export const PATTERN = randomBytes(MIB);

/**
 * `size` bytes of PATTERN repeated, as fresh 64 KiB chunks pulled on demand (backpressure is honoured).
 * Every chunk is a new Buffer, as from a file or a socket: code that keeps chunks really holds their
 * memory, and the whole file is never in memory because of the source itself.
 */
export function generatedSource(size: number, pattern: Buffer = PATTERN): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - offset));
      for (let filled = 0; filled < chunk.length; ) {
        const at = (offset + filled) % pattern.length;
        filled += pattern.copy(chunk, filled, at, Math.min(pattern.length, at + chunk.length - filled));
      }
      offset += chunk.length;
      this.push(chunk);
    },
  });
}

/** Reads a stream to its end, keeping nothing; returns the byte count. */
export async function consume(stream: AsyncIterable<Uint8Array | string>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
  return bytes;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Whether `global.gc` is exposed (node --expose-gc). */
export const gcExposed = typeof gc === 'function';

/** Collects garbage (when exposed) and lets freed memory settle, so the next baseline is clean. */
export async function settle(): Promise<void> {
  gc?.();
  await sleep(10);
  gc?.();
  await sleep(30);
}

// Runs on its own thread, so a main thread busy hashing or copying a part cannot hide a peak.
// Slot 0: the highest RSS seen since the last reset (process-wide, so it counts every thread).
const SAMPLER = `
const { workerData, parentPort } = require('node:worker_threads');
const peak = new BigInt64Array(workerData.buffer);
const sample = () => {
  const rss = BigInt(process.memoryUsage.rss());
  let seen = Atomics.load(peak, 0);
  while (rss > seen) {
    const previous = Atomics.compareExchange(peak, 0, seen, rss);
    if (previous === seen) break;
    seen = previous;
  }
};
setInterval(sample, workerData.intervalMs);
parentPort.postMessage('ready');
`;

/** Samples process.memoryUsage().rss every `intervalMs` on a worker thread and reports peak − baseline. */
export class RssSampler {
  readonly #worker: Worker;
  readonly #peak: BigInt64Array;
  #baseline = 0;

  private constructor(worker: Worker, peak: BigInt64Array) {
    this.#worker = worker;
    this.#peak = peak;
  }

  static async start(intervalMs = 20): Promise<RssSampler> {
    const buffer = new SharedArrayBuffer(8);
    const worker = new Worker(SAMPLER, { eval: true, workerData: { buffer, intervalMs }, execArgv: [] });
    worker.unref();
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new RssSampler(worker, new BigInt64Array(buffer));
  }

  /** Starts a measurement: the baseline is the RSS now (call settle() first). */
  begin(): void {
    this.#baseline = process.memoryUsage.rss();
    Atomics.store(this.#peak, 0, BigInt(this.#baseline));
  }

  /** Ends a measurement: the peak RSS growth in bytes since begin(). */
  end(): number {
    const peak = Math.max(Number(Atomics.load(this.#peak, 0)), process.memoryUsage.rss());
    return Math.max(0, peak - this.#baseline);
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** Runs `operation`, returning its duration in milliseconds and the peak RSS growth during it. */
export async function measured(sampler: RssSampler, operation: () => Promise<void>): Promise<{ ms: number; rss: number }> {
  await settle();
  sampler.begin();
  const started = performance.now();
  await operation();
  const ms = performance.now() - started;
  return { ms, rss: sampler.end() };
}

export function mibPerSecond(bytes: number, ms: number): number {
  return bytes / MIB / (ms / 1000);
}

/** A right-aligned number with `digits` decimals. */
export function num(value: number, digits = 0, width = 8): string {
  return (Number.isFinite(value) ? value.toFixed(digits) : '—').padStart(width);
}

export function sizeLabel(bytes: number): string {
  return bytes >= MIB ? `${bytes / MIB} MiB` : `${bytes} B`;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median and range of a list, e.g. "0.97 (0.91–1.02)". */
export function spread(values: readonly number[], digits = 2): string {
  if (values.length === 0) return '—';
  return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
}

/** CPU time of this whole process (every thread: main, MD5 worker, SDK sockets) in milliseconds. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** CPU time (utime + stime) of another process from /proc/<pid>/stat, in milliseconds; undefined when unreadable. */
export function otherProcessCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = (() => {
  const answer = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(answer.stdout?.trim()) || 100;
})();

/** The pid of the local S3 server (radosgw), from pgrep; undefined when there is none. */
export function s3ServerPid(name = 'radosgw'): number | undefined {
  const answer = spawnSync('pgrep', ['-o', name], { encoding: 'utf8' });
  const pid = Number(answer.stdout?.trim().split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Cores, the 1-minute load and how many cores that leaves free (other load on the machine skews ratios). */
export function coreLoad(): { cores: number; load1: number; free: number; text: string } {
  const cores = availableParallelism();
  const load1 = loadavg()[0] ?? 0;
  const free = Math.max(0, cores - load1);
  return { cores, load1, free, text: `${cores} cores, 1-min load ${load1.toFixed(2)}, so ~${free.toFixed(1)} free` };
}
