import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AttacheError } from './errors.ts';

/**
 * Bodies shorter than this are hashed on the calling thread: posting to a worker costs more than
 * it saves for a few MiB (measured: 1 MiB got slower through a worker).
 */
export const INLINE_MD5_LIMIT = 4 * 1024 * 1024;

/** What every MD5 hasher of attache offers: feed bytes in order, then the base64 digest (Rails' checksum format). */
export interface Md5Hasher {
  /** Adds bytes. A chunk backed by a SharedArrayBuffer is read in place: keep it unchanged until `settled()` resolves. */
  update(chunk: Uint8Array): void;
  /** Resolves once every chunk given so far has been read, so shared chunks may be reused. */
  settled(): Promise<void>;
  /** The base64 MD5 of every byte given. Call once; the hasher is spent afterwards. */
  digest(): Promise<string>;
  /** Drops the hash without a digest (on a failed upload). Idempotent. */
  destroy(): void;
}

// The worker's code is plain CommonJS evaluated from this string (`eval: true`), so there is no
// worker file to resolve: the same code runs from src (tsx, vitest) and from dist.
// Messages in order per session: u (update), s (settled: answered once prior updates are done), d (digest), x (drop).
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.op === 'u') {
      let hash = sessions.get(m.id);
      if (hash === undefined) sessions.set(m.id, (hash = createHash('md5')));
      hash.update(m.chunk);
    } else if (m.op === 's') {
      parentPort.postMessage({ id: m.id, seq: m.seq });
    } else if (m.op === 'd') {
      const hash = sessions.get(m.id) ?? createHash('md5');
      sessions.delete(m.id);
      parentPort.postMessage({ id: m.id, seq: m.seq, digest: hash.digest('base64') });
    } else if (m.op === 'x') {
      sessions.delete(m.id);
    }
  } catch (error) {
    sessions.delete(m.id);
    parentPort.postMessage({ id: m.id, seq: m.seq, error: String(error && error.message || error) });
  }
});
`;

interface Reply {
  id: number;
  seq: number;
  digest?: string;
  error?: string;
}

interface Waiter {
  resolve(value: string | undefined): void;
  reject(error: Error): void;
}

/** One long-lived worker hashing many sessions; it holds the process open only while a session is open. */
class PooledWorker {
  readonly worker: Worker;
  readonly waiters = new Map<number, Map<number, Waiter>>();
  sessions = 0;
  dead = false;

  constructor(onDeath: (worker: PooledWorker) => void) {
    this.worker = new Worker(WORKER_CODE, { eval: true, name: 'attache-md5' });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => this.#answer(reply));
    const die = (error: Error): void => {
      if (this.dead) return;
      this.dead = true;
      onDeath(this);
      const failure = new AttacheError('The MD5 worker thread stopped before it answered.', { cause: error });
      for (const session of this.waiters.values()) for (const waiter of session.values()) waiter.reject(failure);
      this.waiters.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  open(): void {
    if (this.sessions++ === 0) this.worker.ref();
  }

  close(id: number): void {
    this.waiters.delete(id);
    if (--this.sessions === 0) this.worker.unref();
  }

  wait(id: number, seq: number, waiter: Waiter): void {
    let session = this.waiters.get(id);
    if (session === undefined) this.waiters.set(id, (session = new Map()));
    session.set(seq, waiter);
  }

  #answer(reply: Reply): void {
    const session = this.waiters.get(reply.id);
    const waiter = session?.get(reply.seq);
    if (waiter === undefined) return;
    session!.delete(reply.seq);
    if (reply.error !== undefined) waiter.reject(new AttacheError(`The MD5 worker thread failed: ${reply.error}`));
    else waiter.resolve(reply.digest);
  }
}

const POOL_SIZE = Math.min(2, Math.max(1, availableParallelism() - 1));
const pool: PooledWorker[] = [];
let nextSession = 1;

/** The least busy worker, starting one while the pool is not full. */
function pickWorker(): PooledWorker {
  const idle = pool.find((worker) => worker.sessions === 0);
  if (idle !== undefined) return idle;
  if (pool.length < POOL_SIZE) {
    const worker = new PooledWorker((dead) => pool.splice(pool.indexOf(dead) >>> 0, 1));
    pool.push(worker);
    return worker;
  }
  return pool.reduce((a, b) => (b.sessions < a.sessions ? b : a));
}

/** MD5 computed on a worker thread; chunks are transferred or copied to it; digest is base64. */
export class OffThreadMd5 implements Md5Hasher {
  readonly #worker: PooledWorker;
  readonly #id = nextSession++;
  #seq = 0;
  #open = true;

  constructor() {
    this.#worker = pickWorker();
    this.#worker.open();
  }

  /** Copies the chunk to the worker, or shares it when it lives in a SharedArrayBuffer (then keep it unchanged until `settled()`). */
  update(chunk: Uint8Array): void {
    if (!this.#open) throw new AttacheError('The MD5 hash was already digested or destroyed.');
    if (chunk.byteLength === 0) return;
    if (chunk.buffer instanceof SharedArrayBuffer) {
      this.#worker.worker.postMessage({ op: 'u', id: this.#id, chunk });
      return;
    }
    // A view is copied exactly (posting it would clone its whole underlying buffer); the copy is moved, not cloned again.
    const copy = new Uint8Array(chunk);
    this.#worker.worker.postMessage({ op: 'u', id: this.#id, chunk: copy }, [copy.buffer]);
  }

  async settled(): Promise<void> {
    if (!this.#open) return;
    await this.#ask('s');
  }

  async digest(): Promise<string> {
    if (!this.#open) throw new AttacheError('The MD5 hash was already digested or destroyed.');
    try {
      return (await this.#ask('d')) as string;
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    if (!this.#open) return;
    this.#open = false;
    if (!this.#worker.dead) this.#worker.worker.postMessage({ op: 'x', id: this.#id });
    this.#worker.close(this.#id);
  }

  #ask(op: 's' | 'd'): Promise<string | undefined> {
    const worker = this.#worker;
    if (worker.dead) return Promise.reject(new AttacheError('The MD5 worker thread stopped before it answered.'));
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      worker.wait(this.#id, seq, { resolve, reject });
      worker.worker.postMessage({ op, id: this.#id, seq });
    });
  }
}

/** MD5 on the calling thread (node:crypto), behind the same interface. */
export class InlineMd5 implements Md5Hasher {
  #hash: Hash | undefined = createHash('md5');

  update(chunk: Uint8Array): void {
    if (this.#hash === undefined) throw new AttacheError('The MD5 hash was already digested or destroyed.');
    this.#hash.update(chunk);
  }

  async settled(): Promise<void> {}

  async digest(): Promise<string> {
    if (this.#hash === undefined) throw new AttacheError('The MD5 hash was already digested or destroyed.');
    const digest = this.#hash.digest('base64');
    this.#hash = undefined;
    return digest;
  }

  destroy(): void {
    this.#hash = undefined;
  }
}

/** The hasher for a body of `expectedBytes`: inline below INLINE_MD5_LIMIT, on a pooled worker above it or when the size is unknown. */
export function md5Hasher(expectedBytes?: number): Md5Hasher {
  return expectedBytes !== undefined && expectedBytes < INLINE_MD5_LIMIT ? new InlineMd5() : new OffThreadMd5();
}
