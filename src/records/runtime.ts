import type { DataSource } from 'typeorm';
import type { Blob } from './Blob.ts';
import type { MessageVerifier } from '../signing/MessageVerifier.ts';
import type { RailsMode } from '../signing/rails/RailsMode.ts';
import type { StorageService } from '../services/Service.ts';
import type { Purger } from './purge.ts';
import type { AttacheJob, EnqueueOptions } from '../jobs/queue.ts';
import type { BackgroundTasks } from '../core/background.ts';
import type { BlobUrlOptions } from './blob-urls.ts';
import type { Transformations } from '../representations/transformations.ts';
import type { Variation } from '../representations/variation.ts';

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
  /** The app URL that makes a representation on first request and redirects to (or streams) its image. */
  representation(via: 'redirect' | 'proxy', signedId: string, variationKey: string, filename: string): string;
}

/**
 * A variant or a preview of a blob (Rails' VariantWithRecord and Preview). Every method makes and
 * stores the image first when it is not stored yet: once, across processes. They throw
 * InvariableError / UnpreviewableError / UnrepresentableError for a blob of the wrong kind,
 * ProcessingError when the file cannot be processed, FileNotFoundError when nothing is attached.
 */
export interface Representation {
  /** Makes and stores the image unless it is stored already. Resolves to this. */
  processed(): Promise<this>;
  /** Whether the image is stored already (never makes it). */
  isProcessed(): Promise<boolean>;
  /** The stored image's blob. */
  image(): Promise<Blob>;
  /** A signed service URL of the image (see Blob#url). */
  url(options?: BlobUrlOptions): Promise<string>;
  /** The image's bytes, verified against its checksum. */
  download(): Promise<Buffer>;
  /** The app URL that makes the image on first request and redirects to it (`{mount}/representations/redirect/…`); permanent unless `expiresIn` seconds. */
  redirectUrl(options?: { expiresIn?: number }): Promise<string>;
  /** The app URL that makes the image on first request and streams it through the app. */
  proxyUrl(options?: { expiresIn?: number }): Promise<string>;
}

/** What blobs and accessors ask of the representations module (src/representations implements it). */
export interface RepresentationPort {
  /** A variant of an image blob. Throws InvariableError for other blobs, ArgumentError for transformations outside the allowlist. */
  variant(blob: Blob, transformations: Transformations | Variation): Representation;
  /** A preview (first PDF page, a video frame), transformed. Throws UnpreviewableError, ArgumentError. */
  preview(blob: Blob, transformations: Transformations | Variation): Representation;
  /** A preview when the blob is previewable, else a variant. Throws UnrepresentableError, ArgumentError. */
  representation(blob: Blob, transformations: Transformations | Variation): Representation;
  /** The same, for a blob loaded on first use (an accessor's): the blob's kind is checked then. */
  later(kind: 'variant' | 'preview' | 'representation', load: () => Promise<Blob>, transformations: Transformations): Representation;
  /** Whether variants of the blob can be made (its content type is an image sharp decodes). */
  variable(blob: Blob): boolean;
  /** Whether a previewer accepts the blob and its tool is installed. */
  previewable(blob: Blob): boolean;
  /** The jobs an attach asks for (analysis, preprocessed variants); enqueued inside the attach's transaction. */
  jobsAfterAttach(attachment: string | undefined, blobs: readonly Blob[]): AttacheJob[];
  /** Loads the variant records, previews and images of `blobs` in a constant number of queries. Throws PersistenceError. */
  preload(blobs: readonly Blob[]): Promise<void>;
}

/** What records (and everything above them) need from an initialized Attache. */
export interface AttacheRuntime {
  readonly dataSource: DataSource;
  readonly purger: Purger;
  /** Enqueues a job; with `{ transaction }` it exists if and only if that transaction commits (see Jobs.enqueue). */
  enqueue(job: AttacheJob, options?: EnqueueOptions): Promise<void>;
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
  /** Variants, previews and analysis. */
  readonly representations: RepresentationPort;
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
