import { inspect } from 'node:util';
import type { DataSource } from 'typeorm';
import { Blob } from './records/Blob.ts';
import { ArgumentError, ConfigurationError } from './core/errors.ts';
import type { AttacheEventMap, AttacheEventName } from './core/events.ts';
import { runChange } from './attached/attach-ops.ts';
import { AttachChange } from './attached/change.ts';
import { normalizeInput, type AttachInput } from './attached/input.ts';
import { createDirectUpload, type DirectUploadRequest, type DirectUploadResponse } from './attached/direct-upload.ts';
import { fetchHandler, nodeHandler, type HandlerOptions, type NodeHandler } from './http/handler.ts';
import type { RailsOptions } from './signing/rails/RailsMode.ts';
import { withAttached, type WithAttachedOptions } from './attached/with-attached.ts';
import { assertAccessorsVisible } from './attached/decorators.ts';
import { purgeUnattached } from './records/unattached.ts';
import { sweep, type SweepOptions, type SweepReport } from './records/sweep.ts';
import { doctor, type DoctorOptions, type DoctorReport } from './operations/doctor.ts';
import type { AttacheJob, EnqueueOptions, JobAttempt, JobQueue, JobWorker } from './jobs/queue.ts';
import type { Analyzer } from './representations/analyzer.ts';
import type { Previewer } from './representations/previewers.ts';
import type { RepresentationOptions } from './representations/representations.ts';
import { registerRuntime, unregisterRuntime } from './records/runtime.ts';
import { globalAdapters } from './services/registry.ts';
import type { StorageService } from './services/Service.ts';
import { Runtime } from './runtime.ts';
import { runMigrate } from './operations/migrate.ts';
import { runReencrypt } from './operations/reencrypt.ts';
import { runVerify } from './operations/verify.ts';
import type { MigrateOptions, MigrateReport, ReencryptOptions, ReencryptReport, VerifyOptions, VerifyReport } from './operations/types.ts';

export interface AttacheOptions {
  /** A TypeORM DataSource whose entities include `attacheEntities`. Initialized here if it is not yet. */
  dataSource: DataSource;
  /** Path of storage.yml (default `config/storage.yml`; `config/storage/<NODE_ENV>.yml` wins when present). */
  configFile?: string;
  /** Services given in code instead of a file: `{ local: { service: 'Disk', root: 'storage' } }`. */
  services?: Record<string, Record<string, unknown>>;
  /** The default service name (else ATTACHE_SERVICE, else the only service). */
  service?: string;
  /** Secret for signed ids and URLs: at least 32 characters (e.g. ATTACHE_SECRET). Required. */
  secret?: string;
  /** Origin in front of app-served URLs (Disk, proxy), e.g. `https://app.example.com`; default: path-only URLs. */
  baseUrl?: string;
  /** Path prefix of attache's HTTP routes; default `/attache`, or Rails' `/rails/active_storage` with `rails`. */
  mount?: string;
  /** Rails wire compatibility with a Rails app sharing the tables: Rails' signed ids, tokens and routes (README: Sharing with a Rails app). Off by default. */
  rails?: RailsOptions;
  /** Where background jobs go (default: in-process); e.g. `pgBossQueue(dataSource)` from attache/pg-boss. */
  queue?: JobQueue;
  /** Environment used for `${VAR}` / `ENV[...]` in the config and for ATTACHE_SERVICE (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Variants, previews and analysis: limits, tool paths, analyzers, previewers (see RepresentationOptions). */
  representations?: RepresentationOptions;
}

const RUNTIMES = new WeakMap<Attache, Runtime>();

/** @internal The runtime behind an Attache (for attache's own tests and tools; not part of the API). */
export function runtimeOf(attache: Attache): Runtime {
  const runtime = RUNTIMES.get(attache);
  if (!runtime) throw new ArgumentError('Not an initialized Attache.');
  return runtime;
}

/** The entry point: storage services from storage.yml bound to a TypeORM DataSource. */
export class Attache {
  /** Storage adapters known to every Attache; register your own before init (`Attache.adapters.register(name, definition)`). */
  static readonly adapters = globalAdapters;

  readonly #rt: Runtime;

  private constructor(runtime: Runtime) {
    this.#rt = runtime;
    RUNTIMES.set(this, runtime);
  }

  /** Loads the config, hooks into the DataSource and returns a ready Attache. Throws ConfigurationError. */
  static async init(options: AttacheOptions): Promise<Attache> {
    const { dataSource } = options;
    if (!dataSource.isInitialized) await dataSource.initialize();
    if (!dataSource.hasMetadata(Blob)) {
      throw new ConfigurationError('The DataSource does not map attache\'s entities: add `...attacheEntities` to its `entities`.');
    }
    assertAccessorsVisible(dataSource.entityMetadatas.map((metadata) => metadata.target));
    const rt = new Runtime(dataSource, options);
    void rt.registry.defaultName; // an unknown or ambiguous default fails at boot, not at first upload
    await rt.registry.preload(); // loads the S3 adapters (AWS SDK) the config uses; a typo in the default service fails here
    await rt.jobs.start();
    dataSource.subscribers.push(rt.subscriber, rt.jobs.hooks);
    registerRuntime(rt);
    return new Attache(rt);
  }

  /** The DataSource this Attache is bound to. */
  get dataSource(): DataSource {
    return this.#rt.dataSource;
  }

  /** The named service (default: the default service). Built on first use. Throws ConfigurationError. */
  service(name?: string): StorageService {
    return this.#rt.service(name);
  }

  /** The default service's name (init's `service`, else ATTACHE_SERVICE, else the only one). */
  get defaultService(): string {
    return this.#rt.registry.defaultName;
  }

  /** The configured service names, in file order. */
  get serviceNames(): string[] {
    return this.#rt.registry.names();
  }

  /**
   * The blob behind a signed id (attache's, or in Rails mode also Rails' `blob_id`), or null when
   * the id is tampered, expired, of another purpose, or the blob is gone. Throws PersistenceError.
   */
  findSigned(signedId: string): Promise<Blob | null> {
    return this.#rt.findSigned(signedId);
  }

  /** The blob behind a signed id. Throws InvalidSignatureError (with its reason), FileNotFoundError or PersistenceError. */
  findSignedOrFail(signedId: string): Promise<Blob> {
    return this.#rt.findSignedOrFail(signedId);
  }

  /**
   * Uploads a file and saves its blob without attaching it (Rails' create_and_upload!), on the
   * default service or `options.service`. Attach it later with `record.avatar.attach(blob)`.
   * Nothing is kept when the upload or the insert fails.
   */
  async createAndUpload(input: AttachInput, options: { service?: string } = {}): Promise<Blob> {
    const file = await normalizeInput(input);
    if (file.kind !== 'file') throw new ArgumentError('createAndUpload takes a new file, not a Blob or a signed id.');
    const change = new AttachChange(this.#rt, { service: this.#rt.service(options.service), limits: {} }, [file]);
    await runChange(this.#rt, change);
    return change.blobs[0]!;
  }

  /**
   * Starts a direct upload for `Entity#attachment`: the server picks the service and enforces the
   * attachment's limits, saves the blob row, and returns its signed id with the URL and headers the
   * client must PUT to. Attach with the signed id afterwards; it is verified then.
   */
  createDirectUpload(request: DirectUploadRequest): Promise<DirectUploadResponse> {
    return createDirectUpload(this.#rt, request);
  }

  /**
   * Loads the named attachments (default: all) of many records of one entity in one query;
   * afterwards their accessors answer without querying. With `{ variants: true }` last, their
   * stored variants and previews too, in three more queries. Returns the records.
   */
  withAttached<T extends object>(records: readonly T[], ...names: Array<string | WithAttachedOptions>): Promise<readonly T[]> {
    return withAttached(this.#rt, records, names);
  }

  /** The HTTP routes (Disk files, redirect, proxy, direct uploads) as a Node/Express/Connect handler: `(req, res, next?)`. */
  handler(options?: HandlerOptions): NodeHandler {
    return nodeHandler(this.#rt, options);
  }

  /** The same routes for Fetch-style runtimes (Hono, Next, Bun): resolves to a Response (404 when not ours). */
  fetch(request: Request, options?: HandlerOptions): Promise<Response> {
    return fetchHandler(this.#rt, options)(request);
  }

  /** The path prefix of attache's HTTP routes (`/attache`, or `/rails/active_storage` in Rails mode). */
  get mount(): string {
    return this.#rt.routes.mount;
  }

  /**
   * Purges blobs nothing is attached to that are older than `olderThan` seconds (abandoned direct
   * uploads, detached files). Run it from a scheduled job. Returns how many were purged.
   */
  purgeUnattached(options: { olderThan: number; batchSize?: number }): Promise<number> {
    return purgeUnattached(this.#rt, options);
  }

  /**
   * Finds what crashes and abandoned uploads left behind, older than `olderThan` seconds (default
   * 2 days): unattached blobs, stored objects no row names, Disk temp files and incomplete S3
   * multipart uploads. A dry run by default; `{ dryRun: false }` removes them. Returns the report.
   */
  sweep(options?: SweepOptions): Promise<SweepReport> {
    return sweep(this.#rt, this.#rt.registry.names(), options);
  }

  /**
   * Checks every configured service (or `options.service`) for real: config, credentials, bucket or
   * Disk root, a probe object written, read back, checked for its encryption and deleted, the KMS
   * key, and for S3 the bucket's default encryption, policy and CORS. Each check is pass, warn,
   * fail or skip with its reason and fix (`npx attache doctor`). Throws ConfigurationError for an unknown service.
   */
  doctor(options?: DoctorOptions): Promise<DoctorReport> {
    return doctor(this.#rt, options);
  }

  // ---- Operations (README: Operations); the CLI runs the same functions ----

  /**
   * Checks every blob (of `service`, or all): the object exists with the recorded size; on SecureS3
   * the server-reported encryption matches the config and the blob's metadata; `deep` also compares
   * the MD5. Reads only; resumable. Per-blob problems are in the report; throws ConfigurationError,
   * ArgumentError, PersistenceError, OperationAbortedError.
   */
  verifyBlobs(options?: VerifyOptions): Promise<VerifyReport> {
    return runVerify(this.#rt, options);
  }

  /**
   * Moves every blob of `from` to `to`: streams a copy, verifies it, switches the row in one UPDATE,
   * and deletes the source afterwards only with `deleteSource`. Safe while the app runs; killed and
   * rerun, it resumes and loses nothing. Throws as verifyBlobs does.
   */
  migrateBlobs(options: MigrateOptions): Promise<MigrateReport> {
    return runMigrate(this.#rt, options);
  }

  /**
   * Rewrites every object of a SecureS3 service under `toKey` (default: its configured KMS key), in
   * place where the server allows it, else by a verified streaming rewrite, and records the key in
   * each blob's metadata. Skips objects already under the key; resumable. Throws as verifyBlobs does.
   */
  reencryptBlobs(options: ReencryptOptions): Promise<ReencryptReport> {
    return runReencrypt(this.#rt, options);
  }

  /** The job queue (the in-process default, or the one given to init). */
  get queue(): JobQueue {
    return this.#rt.queue;
  }

  /**
   * Enqueues a job. With `{ transaction: manager.queryRunner }` the job exists if and only if that
   * transaction commits. Throws ArgumentError (not a job) or the queue's error.
   */
  enqueue(job: AttacheJob, options?: EnqueueOptions): Promise<void> {
    return this.#rt.enqueue(job, options);
  }

  /**
   * Runs one job, emitting job:started then job:completed or job:failed; what a job library's
   * worker calls. Idempotent. Throws ArgumentError for a value that is not a job, else the job's error.
   */
  perform(job: AttacheJob, attempt?: JobAttempt): Promise<void> {
    return this.#rt.jobs.perform(job, attempt);
  }

  /**
   * Takes jobs from the shared queue and runs up to `concurrency` (default 1) at once until
   * `stop()`. Throws ConfigurationError with the in-process default, which has nothing to share.
   */
  work(options?: { concurrency?: number }): Promise<JobWorker> {
    return this.#rt.jobs.work(options);
  }

  /** Waits for in-process background jobs and attache's own background cleanup to finish. */
  drain(): Promise<void> {
    return this.#rt.drain();
  }

  /** Adds an analyzer (tried before the built-in ones) for blobs attached from now on. */
  registerAnalyzer(analyzer: Analyzer): this {
    this.#rt.representations.registerAnalyzer(analyzer);
    return this;
  }

  /** Adds a previewer (tried before the built-in ones). */
  registerPreviewer(previewer: Previewer): this {
    this.#rt.representations.registerPreviewer(previewer);
    return this;
  }

  /** Listens to attache's events (see AttacheEventMap). Returns this. */
  on<K extends AttacheEventName>(name: K, listener: (...payload: AttacheEventMap[K]) => void): this {
    this.#rt.events.on(name, listener as never);
    return this;
  }

  /** Stops listening. Returns this. */
  off<K extends AttacheEventName>(name: K, listener: (...payload: AttacheEventMap[K]) => void): this {
    this.#rt.events.off(name, listener as never);
    return this;
  }

  /** What `JSON.stringify` and `inspect` show: service names only, never settings or secrets. */
  toJSON(): { services: string[]; defaultService: string } {
    return { services: this.serviceNames, defaultService: this.defaultService };
  }

  [inspect.custom](): string {
    return `Attache ${JSON.stringify(this.toJSON())}`;
  }

  /** Stops this Attache's workers, waits for background jobs, closes the queue, then detaches from the DataSource (which stays open). */
  async close(): Promise<void> {
    const rt = this.#rt;
    await rt.jobs.stopWorkers();
    await rt.drain();
    await rt.jobs.close();
    for (const subscriber of [rt.subscriber, rt.jobs.hooks]) {
      const index = rt.dataSource.subscribers.indexOf(subscriber);
      if (index >= 0) rt.dataSource.subscribers.splice(index, 1);
    }
    unregisterRuntime(rt);
  }
}
