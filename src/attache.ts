import { inspect } from 'node:util';
import type { DataSource } from 'typeorm';
import { Blob } from './records/Blob.ts';
import { ArgumentError, ConfigurationError, FileNotFoundError, InvalidSignatureError } from './core/errors.ts';
import { BackgroundTasks } from './core/background.ts';
import { AttacheEvents, type AttacheEventMap, type AttacheEventName } from './core/events.ts';
import { runChange } from './attached/attach-ops.ts';
import { AttachChange } from './attached/change.ts';
import { normalizeInput, type AttachInput } from './attached/input.ts';
import { findSignedBlob } from './records/signed-ids.ts';
import { createDirectUpload, type DirectUploadRequest, type DirectUploadResponse } from './attached/direct-upload.ts';
import { fetchHandler, nodeHandler, type HandlerOptions, type NodeHandler } from './http/handler.ts';
import { Routes } from './http/routes.ts';
import { MessageVerifier } from './signing/MessageVerifier.ts';
import { RailsMode, type RailsOptions } from './signing/rails/RailsMode.ts';
import { RailsRoutes } from './http/rails/RailsRoutes.ts';
import { withAttached, type WithAttachedOptions } from './attached/with-attached.ts';
import { assertAccessorsVisible } from './attached/decorators.ts';
import { Purger } from './records/purge.ts';
import { purgeUnattached } from './records/unattached.ts';
import { sweep, type SweepOptions, type SweepReport } from './records/sweep.ts';
import type { AttacheJob, EnqueueOptions, JobAttempt, JobQueue, JobWorker } from './jobs/queue.ts';
import type { JobContext } from './jobs/dispatch.ts';
import { Jobs } from './jobs/jobs.ts';
import { mirrorBlob } from './records/mirror.ts';
import { Representations, type RepresentationOptions } from './representations/representations.ts';
import { performAnalyze, performPreprocess } from './representations/jobs.ts';
import { registerRuntime, unregisterRuntime, type AttacheRuntime } from './records/runtime.ts';
import { AttacheSubscriber } from './attached/subscriber.ts';
import './services/builtins.ts';
import { configFromObject, loadConfig, resolveConfigFile } from './services/config.ts';
import { globalAdapters, ServiceRegistry } from './services/registry.ts';
import type { StorageService } from './services/Service.ts';

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

/** ActiveStorage.routes_prefix's default: where a Rails app's links point. */
const RAILS_ROUTES_PREFIX = '/rails/active_storage';

/** The entry point: storage services from storage.yml bound to a TypeORM DataSource. */
export class Attache implements AttacheRuntime {
  /** Storage adapters known to every Attache; register your own before or after init. */
  static readonly adapters = globalAdapters;

  readonly registry: ServiceRegistry;
  readonly verifier: MessageVerifier;
  /** Rails mode (`init({ rails })`), or undefined when it is off. */
  readonly rails: RailsMode | undefined;
  readonly routes: Routes;
  readonly purger: Purger;
  readonly background: BackgroundTasks;
  readonly representations: Representations;
  private readonly events = new AttacheEvents();
  private readonly subscriber: AttacheSubscriber;
  private readonly jobs: Jobs;

  private constructor(readonly dataSource: DataSource, options: AttacheOptions) {
    const env = options.env ?? process.env;
    this.verifier = new MessageVerifier(options.secret);
    this.rails = options.rails === undefined ? undefined : new RailsMode(options.rails);
    this.routes = this.rails
      ? new RailsRoutes(this.verifier, this.rails, { baseUrl: options.baseUrl, mount: options.mount ?? RAILS_ROUTES_PREFIX })
      : new Routes(this.verifier, { baseUrl: options.baseUrl, mount: options.mount });
    const config = options.services ? configFromObject(options.services) : loadConfig(resolveConfigFile(options.configFile, env));
    this.registry = new ServiceRegistry(config, { env, defaultService: options.service, diskUrls: this.routes });
    this.purger = new Purger(dataSource, (name) => this.service(name));
    this.background = new BackgroundTasks((action, error) => this.reportBackgroundFailure(action, error));
    const context: JobContext = {
      purgeBlob: (blobId) => this.purger.purgeById(blobId),
      mirrorBlob: (blobId) => mirrorBlob(dataSource, (name) => this.service(name), blobId),
      service: (name) => this.service(name),
      analyzeBlob: (job) => performAnalyze(this, job),
      preprocessBlob: (job) => performPreprocess(this, job),
    };
    this.jobs = new Jobs({ queue: options.queue, events: this.events, context, background: this.background, env });
    this.representations = new Representations(this, options.representations ?? {}, {
      analysisSkipped: (event) => this.events.emit('analysis:skipped', event),
      preprocessFailed: (event) => this.events.emit('preprocess:failed', event),
    });
    this.subscriber = new AttacheSubscriber(this);
  }

  /** Loads the config, hooks into the DataSource and returns a ready Attache. Throws ConfigurationError. */
  static async init(options: AttacheOptions): Promise<Attache> {
    const { dataSource } = options;
    if (!dataSource.isInitialized) await dataSource.initialize();
    if (!dataSource.hasMetadata(Blob)) {
      throw new ConfigurationError('The DataSource does not map attache\'s entities: add `...attacheEntities` to its `entities`.');
    }
    assertAccessorsVisible(dataSource.entityMetadatas.map((metadata) => metadata.target));
    const attache = new Attache(dataSource, options);
    void attache.registry.defaultName; // an unknown or ambiguous default fails at boot, not at first upload
    await attache.registry.preload(); // loads the S3 adapters (AWS SDK) the config uses; a typo in the default service fails here
    await attache.jobs.start();
    dataSource.subscribers.push(attache.subscriber, attache.jobs.hooks);
    registerRuntime(attache);
    return attache;
  }

  /** The named service (default: the default service). Built on first use. Throws ConfigurationError. */
  service(name?: string): StorageService {
    return this.registry.service(name);
  }

  /**
   * The blob behind a signed id (attache's, or in Rails mode also Rails' `blob_id`), or null when
   * the id is tampered, expired, of another purpose, or the blob is gone.
   */
  async findSigned(signedId: string): Promise<Blob | null> {
    try {
      return await this.findSignedOrFail(signedId);
    } catch (error) {
      if (error instanceof InvalidSignatureError || error instanceof FileNotFoundError) return null;
      throw error;
    }
  }

  /** The blob behind a signed id. Throws InvalidSignatureError (with its reason) or FileNotFoundError. */
  async findSignedOrFail(signedId: string): Promise<Blob> {
    return (await findSignedBlob(this, signedId)).blob;
  }

  /**
   * Uploads a file and saves its blob without attaching it (Rails' create_and_upload!), on the
   * default service or `options.service`. Attach it later with `record.avatar.attach(blob)`.
   * Nothing is kept when the upload or the insert fails.
   */
  async createAndUpload(input: AttachInput, options: { service?: string } = {}): Promise<Blob> {
    const file = await normalizeInput(input);
    if (file.kind !== 'file') throw new ArgumentError('createAndUpload takes a new file, not a Blob or a signed id.');
    const change = new AttachChange(this, { service: this.service(options.service), limits: {} }, [file]);
    await runChange(this, change);
    return change.blobs[0]!;
  }

  /**
   * Starts a direct upload for `Entity#attachment`: the server picks the service and enforces the
   * attachment's limits, saves the blob row, and returns its signed id with the URL and headers the
   * client must PUT to. Attach with the signed id afterwards; it is verified then.
   */
  createDirectUpload(request: DirectUploadRequest): Promise<DirectUploadResponse> {
    return createDirectUpload(this, request);
  }

  /**
   * Loads the named attachments (default: all) of many records of one entity in one query;
   * afterwards their accessors answer without querying. With `{ variants: true }` last, their
   * stored variants and previews too, in three more queries. Returns the records.
   */
  withAttached<T extends object>(records: readonly T[], ...names: Array<string | WithAttachedOptions>): Promise<readonly T[]> {
    return withAttached(this, records, names);
  }

  /** The HTTP routes (Disk files, redirect, proxy) as a Node/Express/Connect handler: `(req, res, next?)`. */
  handler(options?: HandlerOptions): NodeHandler {
    return nodeHandler(this, options);
  }

  /** The same routes for Fetch-style runtimes (Hono, Next, Bun): resolves to a Response (404 when not ours). */
  fetch(request: Request, options?: HandlerOptions): Promise<Response> {
    return fetchHandler(this, options)(request);
  }

  /**
   * Purges blobs nothing is attached to that are older than `olderThan` seconds (abandoned direct
   * uploads, detached files). Run it from a scheduled job. Returns how many were purged.
   */
  purgeUnattached(options: { olderThan: number; batchSize?: number }): Promise<number> {
    return purgeUnattached(this, options);
  }

  /**
   * Finds what crashes and abandoned uploads left behind, older than `olderThan` seconds (default
   * 2 days): unattached blobs, stored objects no row names, Disk temp files and incomplete S3
   * multipart uploads. A dry run by default; `{ dryRun: false }` removes them. Returns the report.
   */
  sweep(options?: SweepOptions): Promise<SweepReport> {
    return sweep(this, this.registry.names(), options);
  }

  /** The job queue (the in-process default, or the one given to init). */
  get queue(): JobQueue {
    return this.jobs.queue;
  }

  /**
   * Enqueues a job. With `{ transaction: manager.queryRunner }` the job exists if and only if that
   * transaction commits. Throws ArgumentError (not a job) or the queue's error.
   */
  enqueue(job: AttacheJob, options?: EnqueueOptions): Promise<void> {
    return this.jobs.enqueue(job, options);
  }

  /**
   * Runs one job, emitting job:started then job:completed or job:failed; what a job library's
   * worker calls. Idempotent. Throws ArgumentError for a value that is not a job, else the job's error.
   */
  perform(job: AttacheJob, attempt?: JobAttempt): Promise<void> {
    return this.jobs.perform(job, attempt);
  }

  /**
   * Takes jobs from the shared queue and runs up to `concurrency` (default 1) at once until
   * `stop()`. Throws ConfigurationError with the in-process default, which has nothing to share.
   */
  work(options?: { concurrency?: number }): Promise<JobWorker> {
    return this.jobs.work(options);
  }

  /** Waits for in-process background jobs and attache's own background cleanup to finish. */
  async drain(): Promise<void> {
    do {
      await this.background.drain();
      await this.jobs.drain();
    } while (this.background.busy);
  }

  /** Listens to attache's events (see AttacheEventMap). Returns this. */
  on<K extends AttacheEventName>(name: K, listener: (...payload: AttacheEventMap[K]) => void): this {
    this.events.on(name, listener as never);
    return this;
  }

  /** Stops listening. Returns this. */
  off<K extends AttacheEventName>(name: K, listener: (...payload: AttacheEventMap[K]) => void): this {
    this.events.off(name, listener as never);
    return this;
  }

  private reportBackgroundFailure(action: string, error: Error): void {
    if (this.events.listenerCount('background:failed') > 0) this.events.emit('background:failed', { action, error: error as never });
    else console.warn(`[attache] could not ${action}: ${error.message}`);
  }

  /** What `JSON.stringify` and `inspect` show: service names only, never settings or secrets. */
  toJSON(): { services: string[]; defaultService: string } {
    return { services: this.registry.names(), defaultService: this.registry.defaultName };
  }

  [inspect.custom](): string {
    return `Attache ${JSON.stringify(this.toJSON())}`;
  }

  /** Stops this Attache's workers, waits for background jobs, closes the queue, then detaches from the DataSource (which stays open). */
  async close(): Promise<void> {
    await this.jobs.stopWorkers();
    await this.drain();
    await this.jobs.close();
    for (const subscriber of [this.subscriber, this.jobs.hooks]) {
      const index = this.dataSource.subscribers.indexOf(subscriber);
      if (index >= 0) this.dataSource.subscribers.splice(index, 1);
    }
    unregisterRuntime(this);
  }
}
