import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

/** A fresh temp dir for a Disk root; remove it with `rm`. */
export async function tempRoot(label = 'attache'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `${label}-`));
}

/** Every regular file below `root`, as paths relative to it (ignores empty dirs). */
export async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort();
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A stream that yields `bytes` bytes in chunks, then fails with `error` if given. */
export function chunkedStream(bytes: number, error?: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) {
        if (error) this.destroy(error);
        else this.push(null);
        return;
      }
      const n = Math.min(16 * 1024, bytes - sent);
      sent += n;
      this.push(Buffer.alloc(n, 0x61));
    },
  });
}

/** The example fixtures folder (ada.png, report.pdf). */
export const FIXTURES = path.resolve(import.meta.dirname, '../../examples/fixtures');
