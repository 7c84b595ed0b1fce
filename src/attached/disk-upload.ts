import type { EntityManager } from 'typeorm';
import { Blob } from '../records/Blob.ts';
import { database } from '../records/database.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import type { DiskService } from '../services/disk/DiskService.ts';
import type { UploadBody } from '../services/Service.ts';

/** What a Disk direct-upload token promises about the object. */
export interface ExpectedUpload {
  key: string;
  byteSize: number;
  checksum: string;
  contentType?: string;
}

/**
 * Stores the body of a Disk direct-upload PUT, but only while its blob row waits for it: the
 * bytes are verified into a temp file first, then moved into place under the blob row's lock
 * (the lock a purge takes too), so a PUT replayed after the blob was purged, or arriving after a
 * failed early attach removed it, leaves no file without a row. Returns false (nothing stored)
 * when no row on this service names this key with this size and checksum. Throws IntegrityError
 * / FileTooLargeError (bytes other than signed), StorageAccessError, PersistenceError.
 */
export async function receiveDiskUpload(rt: AttacheRuntime, service: DiskService, expected: ExpectedUpload, body: UploadBody): Promise<boolean> {
  if (!(await waitingRow(rt.dataSource.manager, service, expected, false))) return false;
  const staged = await service.stageUpload(expected.key, body, { checksum: expected.checksum, byteSize: expected.byteSize, contentType: expected.contentType });
  try {
    const placed = await database('store a direct upload', () =>
      rt.dataSource.transaction(async (manager) => {
        if (!(await waitingRow(manager, service, expected, true))) return false;
        await staged.commit();
        return true;
      }),
    );
    if (!placed) await staged.discard();
    return placed;
  } catch (error) {
    await staged.discard().catch(() => undefined);
    throw error;
  }
}

/** Whether a blob row waits for these bytes; `lock` holds it FOR UPDATE until the transaction ends. */
async function waitingRow(manager: EntityManager, service: DiskService, expected: ExpectedUpload, lock: boolean): Promise<boolean> {
  const repository = manager.getRepository(Blob);
  const row = await database('find a direct upload\'s blob', () =>
    repository.findOne({ where: { key: expected.key, serviceName: service.name }, ...(lock && { lock: { mode: 'pessimistic_write' as const } }) }),
  );
  return row !== null && row.byteSize === expected.byteSize && row.checksum === expected.checksum;
}
