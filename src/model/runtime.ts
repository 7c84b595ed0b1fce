import type { DataSource } from 'typeorm';
import type { Blob } from '../entities/Blob.ts';
import type { Routes } from '../http/routes.ts';
import type { MessageVerifier } from '../signing/MessageVerifier.ts';
import type { StorageService } from '../services/Service.ts';
import type { AttachmentDefinition } from './definitions.ts';
import type { Purger } from './purge.ts';
import type { JobQueue } from './queue.ts';

/** What the model layer needs from an initialized Attache (kept narrow to avoid import cycles). */
export interface AttacheRuntime {
  readonly dataSource: DataSource;
  readonly purger: Purger;
  readonly queue: JobQueue;
  /** The service named in storage.yml. Throws ConfigurationError listing the names. */
  service(name?: string): StorageService;
  /** The service an attachment of this record stores new files on. */
  serviceFor(definition: AttachmentDefinition, record: object): StorageService;
  /** The blob a signed id points at, or null when the signature is bad, expired or the blob gone. */
  findSigned(signedId: string): Promise<Blob | null>;
  /** The blob a signed id points at. Throws InvalidSignatureError or FileNotFoundError. */
  findSignedOrFail(signedId: string): Promise<Blob>;
  /** Signs ids and tokens. */
  readonly verifier: MessageVerifier;
  /** Attache's app routes (proxy, redirect, Disk). */
  readonly routes: Routes;
}

const runtimes: AttacheRuntime[] = [];

/** Makes an initialized Attache findable from entities and accessors. */
export function registerRuntime(runtime: AttacheRuntime): void {
  runtimes.push(runtime);
}

/** Forgets a runtime (on shutdown). */
export function unregisterRuntime(runtime: AttacheRuntime): void {
  const index = runtimes.indexOf(runtime);
  if (index >= 0) runtimes.splice(index, 1);
}

/** The newest runtime whose DataSource maps `target`, or null. */
export function runtimeFor(target: Function): AttacheRuntime | null {
  for (let i = runtimes.length - 1; i >= 0; i--) {
    const runtime = runtimes[i]!;
    if (runtime.dataSource.isInitialized && runtime.dataSource.hasMetadata(target)) return runtime;
  }
  return null;
}
