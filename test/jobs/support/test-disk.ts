import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageAccessError } from '../../../src/core/errors.ts';
import { diskAdapter } from '../../../src/services/disk/adapter.ts';
import { globalAdapters, type ServiceContext } from '../../../src/services/registry.ts';
import type { StorageService } from '../../../src/services/Service.ts';

/**
 * `TestDisk`: a real Disk whose deletes can be made slow or stuck, so a job can be caught in the
 * middle, in a real worker process:
 *   stall_file    while this file exists, delete waits (and says so by creating `<stall_file>.entered`);
 *   slow_ms       every delete first waits this long;
 *   fail_deletes  every delete (and deletePrefixed) fails with StorageAccessError.
 */
export function registerTestDisk(): void {
  globalAdapters.register('TestDisk', {
    settings: ['root', 'stall_file', 'slow_ms', 'fail_deletes'],
    required: ['root'],
    create(settings: Record<string, unknown>, context: ServiceContext): StorageService {
      const disk = diskAdapter.create({ root: settings.root }, context);
      const stallFile = typeof settings.stall_file === 'string' ? settings.stall_file : undefined;
      const slowMs = Number(settings.slow_ms ?? 0);
      const remove = async (key: string): Promise<void> => {
        if (settings.fail_deletes === true) throw new StorageAccessError('The test disk refuses every delete.');
        if (slowMs > 0) await sleep(slowMs);
        if (stallFile && existsSync(stallFile)) {
          await writeFile(`${stallFile}.entered`, String(process.pid));
          while (existsSync(stallFile)) await sleep(25);
        }
        await disk.delete(key);
      };
      const removePrefixed = async (prefix: string): Promise<void> => {
        if (settings.fail_deletes === true) throw new StorageAccessError('The test disk refuses every delete.');
        await disk.deletePrefixed(prefix);
      };
      return new Proxy(disk, {
        get(target, property) {
          if (property === 'delete') return remove;
          if (property === 'deletePrefixed') return removePrefixed;
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  });
}
