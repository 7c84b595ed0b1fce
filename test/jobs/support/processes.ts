import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { inject } from 'vitest';
import type { PgBossQueueOptions } from '../../../src/jobs/pg-boss/index.ts';
import type { JobsFixture } from './fixture.ts';

/** One line a worker process printed (see worker-process.ts). */
export interface WorkerEvent {
  pid: number;
  event: string;
  id?: string;
  attempt?: number;
  job?: { type: string; blobId?: string };
  error?: string;
  willRetry?: boolean;
  action?: string;
}

export interface WorkerProcess {
  child: ChildProcess;
  events: WorkerEvent[];
  /** Resolves with the first event (past or future) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (event: WorkerEvent) => boolean, timeoutMs?: number): Promise<WorkerEvent>;
  /** The exit code (null when killed by a signal) and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const SCRIPT = path.resolve(import.meta.dirname, 'worker-process.ts');

export interface WorkerSpawnOptions {
  concurrency?: number;
  local?: Record<string, unknown>;
  boss?: PgBossQueueOptions;
  script?: string;
  env?: Record<string, string>;
}

/** Starts a real worker process on the fixture's schemas and Disk roots. */
export function spawnWorker(f: JobsFixture, options: WorkerSpawnOptions = {}): WorkerProcess {
  const { NODE_OPTIONS: _, ...parentEnv } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', options.script ?? SCRIPT], {
    env: {
      ...parentEnv,
      DATABASE_URL: inject('databaseUrl'),
      TEST_SCHEMA: f.db.schema,
      BOSS_SCHEMA: f.bossSchema,
      ROOTS: JSON.stringify(f.roots),
      CONCURRENCY: String(options.concurrency ?? 1),
      LOCAL_SETTINGS: JSON.stringify(options.local ?? {}),
      BOSS_OPTIONS: JSON.stringify(options.boss ?? {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: WorkerEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as WorkerEvent);
    } catch {
      events.push({ pid: child.pid ?? 0, event: 'output', error: line });
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => {
    for (const wake of waiters) wake();
  });
  const waitFor = (predicate: (event: WorkerEvent) => boolean, timeoutMs = 20_000) =>
    new Promise<WorkerEvent>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`worker ${child.pid}: no matching event in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
      const check = () => {
        const found = events.find(predicate);
        if (found) done(undefined, found);
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`worker ${child.pid} exited before the event; stderr: ${stderr.slice(-2000)}`));
      };
      const done = (error?: Error, event?: WorkerEvent) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (error) reject(error);
        else resolve(event!);
      };
      waiters.add(check);
      check();
    });
  return { child, events, waitFor, exited, stderr: () => stderr };
}

/** Polls `condition` every 100 ms until it holds; throws after `timeoutMs`. */
export async function eventually(condition: () => Promise<boolean>, timeoutMs = 30_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
