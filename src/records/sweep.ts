import { In } from 'typeorm';
import { ArgumentError, AttacheError } from '../core/errors.ts';
import type { StorageService, StoredObject } from '../services/Service.ts';
import { Attachment } from './Attachment.ts';
import { Blob } from './Blob.ts';
import { asPersistenceError, database } from './database.ts';
import type { AttacheRuntime } from './runtime.ts';

export interface SweepOptions {
  /** Only what is older than this many seconds is swept. Default 2 days: longer than any upload, multipart direct uploads (24 h) included. */
  olderThan?: number;
  /** Only report (the default). Pass `false` to remove what is found. */
  dryRun?: boolean;
  /** The services whose storage is listed (default: every configured one). */
  services?: readonly string[];
}

export interface SweepReport {
  dryRun: boolean;
  /** Nothing newer than this was considered. */
  cutoff: Date;
  /** Blob rows nothing is attached to (abandoned direct uploads, detached files, reserved keys of crashed uploads), purged with their objects. */
  unattachedBlobs: Array<{ id: string; key: string; service: string; byteSize: number; createdAt: Date }>;
  /** Stored objects that no blob row names (an upload whose rows never committed). */
  orphanObjects: Array<{ service: string; key: string; byteSize: number; lastModified: Date }>;
  /** Writes that never finished: Disk temp files, S3 incomplete multipart uploads. */
  pendingWrites: Array<{ service: string; kind: string; id: string; key?: string; startedAt: Date }>;
  /** Services that cannot be listed (they lack listObjects / listPendingWrites). */
  skipped: Array<{ service: string; reason: string }>;
  /** What could not be checked or removed; the sweep went on past it. */
  failures: Array<{ service?: string; action: string; error: AttacheError }>;
}

const DEFAULT_OLDER_THAN = 2 * 24 * 3600;
const BATCH = 500;

/**
 * Finds (and, unless a dry run, removes) what attache may leave behind after crashes and
 * abandoned uploads. An object counts as an orphan only when no blob row of any service has its
 * key, so services sharing a bucket or root never sweep each other's files; the storage a service
 * lists must hold only ActiveStorage objects (Rails' own layout), as ActiveStorage assumes too.
 */
export async function sweep(rt: AttacheRuntime, serviceNames: readonly string[], options: SweepOptions = {}): Promise<SweepReport> {
  const olderThan = options.olderThan ?? DEFAULT_OLDER_THAN;
  if (!Number.isFinite(olderThan) || olderThan < 0) throw new ArgumentError('olderThan must be a number of seconds (≥ 0).');
  const report: SweepReport = {
    dryRun: options.dryRun !== false,
    cutoff: new Date(Date.now() - olderThan * 1000),
    unattachedBlobs: [],
    orphanObjects: [],
    pendingWrites: [],
    skipped: [],
    failures: [],
  };
  await sweepUnattached(rt, report);
  for (const name of options.services ?? serviceNames) {
    const service = serviceOrFailure(rt, name, report);
    if (!service || isComposite(service)) continue;
    await sweepObjects(rt, service, report);
    await sweepPendingWrites(service, report);
  }
  return report;
}

async function sweepUnattached(rt: AttacheRuntime, report: SweepReport): Promise<void> {
  let lastId = '0';
  for (;;) {
    const batch = await database('find unattached blobs', () =>
      rt.dataSource
        .getRepository(Blob)
        .createQueryBuilder('blob')
        .where('blob.created_at < :cutoff', { cutoff: report.cutoff.toISOString() })
        .andWhere('blob.id > :lastId', { lastId })
        .andWhere((qb) => `NOT EXISTS ${qb.subQuery().select('1').from(Attachment, 'a').where('a.blob_id = blob.id').getQuery()}`)
        .orderBy('blob.id', 'ASC')
        .limit(BATCH)
        .getMany(),
    );
    for (const blob of batch) {
      if (!report.dryRun && !(await attempt(report, blob.serviceName, 'purge an unattached blob', () => rt.purger.purge(blob, 'skip')))) continue;
      report.unattachedBlobs.push({ id: blob.id, key: blob.key, service: blob.serviceName, byteSize: blob.byteSize, createdAt: blob.createdAt });
    }
    if (batch.length < BATCH) return;
    lastId = batch.at(-1)!.id;
  }
}

async function sweepObjects(rt: AttacheRuntime, service: StorageService, report: SweepReport): Promise<void> {
  if (!service.listObjects) return void report.skipped.push({ service: service.name, reason: 'the service cannot list its objects' });
  let batch: StoredObject[] = [];
  const flush = async (): Promise<void> => {
    for (const object of await orphansOf(rt, batch)) {
      if (!report.dryRun && !(await attempt(report, service.name, 'delete an orphan object', () => deleteIfStillOrphan(rt, service, object.key)))) continue;
      report.orphanObjects.push({ service: service.name, ...object });
    }
    batch = [];
  };
  const listed = await attempt(report, service.name, 'list the stored objects', async () => {
    for await (const object of service.listObjects!()) {
      if (object.lastModified >= report.cutoff) continue;
      batch.push(object);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
  });
  if (!listed) batch = [];
}

/** The objects of `batch` that no blob row names, directly or as one of its legacy `variants/<key>/` files. */
async function orphansOf(rt: AttacheRuntime, batch: readonly StoredObject[]): Promise<StoredObject[]> {
  if (batch.length === 0) return [];
  const owners = batch.map((object) => ownerKey(object.key));
  const known = await database('look up blob keys', () => rt.dataSource.getRepository(Blob).find({ where: { key: In([...new Set(owners)]) }, select: { key: true } }));
  const keys = new Set(known.map((b) => b.key));
  return batch.filter((_, i) => !keys.has(owners[i]!));
}

/** Legacy (untracked) variants live at `variants/<blob key>/<digest>` and belong to that blob. */
function ownerKey(key: string): string {
  const match = /^variants\/([^/]+)\//.exec(key);
  return match ? match[1]! : key;
}

async function deleteIfStillOrphan(rt: AttacheRuntime, service: StorageService, key: string): Promise<boolean> {
  const owned = await database('look up a blob key', () => rt.dataSource.getRepository(Blob).existsBy({ key: ownerKey(key) }));
  if (!owned) await service.delete(key);
  return !owned;
}

async function sweepPendingWrites(service: StorageService, report: SweepReport): Promise<void> {
  if (!service.listPendingWrites || !service.discardPendingWrite) return void report.skipped.push({ service: service.name, reason: 'the service cannot list unfinished writes' });
  await attempt(report, service.name, 'list unfinished writes', async () => {
    for await (const write of service.listPendingWrites!()) {
      if (write.startedAt >= report.cutoff) continue;
      if (!report.dryRun && !(await attempt(report, service.name, 'discard an unfinished write', () => service.discardPendingWrite!(write)))) continue;
      report.pendingWrites.push({ service: service.name, ...write });
    }
  });
}

/** Runs a step; a failure is recorded in the report and false returned, so the sweep goes on. */
async function attempt(report: SweepReport, service: string | undefined, action: string, step: () => Promise<unknown>): Promise<boolean> {
  try {
    const result = await step();
    return result !== false;
  } catch (error) {
    report.failures.push({ service, action, error: error instanceof AttacheError ? error : asPersistenceError(error, action) });
    return false;
  }
}

function serviceOrFailure(rt: AttacheRuntime, name: string, report: SweepReport): StorageService | undefined {
  try {
    return rt.service(name);
  } catch (error) {
    report.failures.push({ service: name, action: 'build the service', error: error instanceof AttacheError ? error : asPersistenceError(error, 'build the service') });
    return undefined;
  }
}

/** A Mirror stores nothing itself: its primary and mirrors are configured services, swept by name. */
function isComposite(service: StorageService): boolean {
  return 'primary' in service && 'mirrors' in service;
}
