import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Whether the machine's `ruby` (with Rails 6.1's ActiveStorage, for the cross-tests) can run here, and if not, why. */
export interface RubyStatus {
  ruby: boolean;
  activeStorage: string | null;
  reason: string;
}

export function rubyStatus(): RubyStatus {
  const probe = spawnSync('ruby', ['-e', 'require "active_storage"; require "active_record"; require "action_controller"; require "pg"; print ActiveStorage.version'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error) return { ruby: false, activeStorage: null, reason: `ruby is not available (${probe.error.message})` };
  if (probe.status !== 0) {
    const plain = spawnSync('ruby', ['-e', 'print 1'], { encoding: 'utf8' });
    return { ruby: plain.status === 0, activeStorage: null, reason: `Rails' gems do not load: ${probe.stderr.split('\n')[0]}` };
  }
  return { ruby: true, activeStorage: probe.stdout.trim(), reason: '' };
}

/** Evaluates each Ruby expression (each must give a String) in one `ruby` process; returns their bytes. */
export function rubyEach(expressions: readonly string[], prelude = ''): Buffer[] {
  const script = `STDOUT.binmode\n${prelude}\n${expressions.map((e) => `print [(${e})].pack("m0"), "\\n"`).join('\n')}`;
  const run = spawnSync('ruby', ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`ruby failed: ${run.stderr}`);
  return run.stdout.trimEnd().split('\n').map((line) => Buffer.from(line, 'base64'));
}

/**
 * A Rails 6.1 ActiveStorage booted the way its engine boots (test/signing/rails/rails61.rb), driven
 * over JSON lines: `call(op, args)` answers with what Ruby's own code returned.
 */
export class Rails61 {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending: Array<{ resolve: (value: unknown) => void; reject: (error: Error) => void }> = [];
  #stderr = '';
  #exited: string | null = null;

  /** `services` is the storage.yml both apps share (default: Disk `local` at `root`, `other` below it). */
  constructor(config: { secretKeyBase: string; root: string; databaseUrl: string; schema: string; services?: Record<string, Record<string, unknown>> }) {
    const script = fileURLToPath(new URL('./rails61.rb', import.meta.url));
    this.#child = spawn('ruby', [script], { env: { ...process.env, RAILS61_CONFIG: JSON.stringify(config) } });
    this.#child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#child.stdin.on('error', () => undefined); // a dead child is reported through 'exit'
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as { ok: unknown } | { error: string };
      const waiting = this.#pending.shift();
      if ('error' in answer) waiting?.reject(new Error(answer.error));
      else waiting?.resolve(answer.ok);
    });
    this.#child.on('exit', (code) => {
      this.#exited = `ruby exited (${code}): ${this.#stderr.slice(0, 2000)}`;
      for (const waiting of this.#pending.splice(0)) waiting.reject(new Error(this.#exited));
    });
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(this.#exited));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ resolve: resolve as (value: unknown) => void, reject });
      this.#child.stdin.write(`${JSON.stringify({ op, ...args })}\n`);
    });
  }

  /** Ends the Ruby process this object started (closing its stdin ends its loop). */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    await exited;
  }
}
