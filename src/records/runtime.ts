import type { DataSource } from 'typeorm';
import type { Blob } from './Blob.ts';
import type { MessageVerifier } from '../signing/MessageVerifier.ts';
import type { RailsMode } from '../signing/rails/RailsMode.ts';
import type { StorageService } from '../services/Service.ts';
import type { Purger } from './purge.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { BackgroundTasks } from '../core/background.ts';

/** What a multipart direct upload's completion token carries. */
export interface DirectUploadCompleteClaims {
  blobId: string;
  uploadId: string;
  partCount: number;
}

/** The app URLs records link to; the HTTP routes implement them (records never import http). */
export interface AppUrls {
  /** The app URL that streams a signed blob through the app. */
  proxy(signedId: string, filename: string): string;
  /** The app URL that redirects to a fresh service URL for a signed blob id. */
  redirect(signedId: string, filename: string): string;
  /** Where the client POSTs to complete a multipart direct upload. */
  directUploadComplete(claims: DirectUploadCompleteClaims, expiresIn: number): string;
}

/** What records (and everything above them) need from an initialized Attache. */
export interface AttacheRuntime {
  readonly dataSource: DataSource;
  readonly purger: Purger;
  readonly queue: JobQueue;
  /** The service named in storage.yml. Throws ConfigurationError listing the names. */
  service(name?: string): StorageService;
  /** The blob a signed id points at, or null when the signature is bad, expired or the blob gone. */
  findSigned(signedId: string): Promise<Blob | null>;
  /** The blob a signed id points at. Throws InvalidSignatureError or FileNotFoundError. */
  findSignedOrFail(signedId: string): Promise<Blob>;
  /** Signs ids and tokens. */
  readonly verifier: MessageVerifier;
  /** Rails wire compatibility (`Attache.init({ rails })`), or undefined when it is off. */
  readonly rails?: RailsMode | undefined;
  /** Attache's app routes (proxy, redirect, direct-upload completion). */
  readonly routes: AppUrls;
  /** Cleanup and after-commit work that the caller does not wait for (`attache.drain()` does). */
  readonly background: BackgroundTasks;
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
