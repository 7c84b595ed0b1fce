import type { DataSource } from 'typeorm';
import { FileNotFoundError, InvalidSignatureError } from './core/errors.ts';
import { BackgroundTasks } from './core/background.ts';
import { AttacheEvents } from './core/events.ts';
import type { Blob } from './records/Blob.ts';
import { findSignedBlob } from './records/signed-ids.ts';
import { Routes } from './http/routes.ts';
import type { HttpRuntime } from './http/core.ts';
import { MessageVerifier } from './signing/MessageVerifier.ts';
import { RailsMode } from './signing/rails/RailsMode.ts';
import { RailsRoutes } from './http/rails/RailsRoutes.ts';
import { Purger } from './records/purge.ts';
import type { AttacheJob, EnqueueOptions, JobQueue } from './jobs/queue.ts';
import type { JobContext } from './jobs/dispatch.ts';
import { Jobs } from './jobs/jobs.ts';
import { mirrorBlob } from './records/mirror.ts';
import { Representations } from './representations/representations.ts';
import { performAnalyze, performPreprocess } from './representations/jobs.ts';
import { AttacheSubscriber } from './attached/subscriber.ts';
import './services/builtins.ts';
import { configFromObject, loadConfig, resolveConfigFile } from './services/config.ts';
import { ServiceRegistry } from './services/registry.ts';
import type { StorageService } from './services/Service.ts';
import type { AttacheOptions } from './attache.ts';

/** ActiveStorage.routes_prefix's default: where a Rails app's links point. */
const RAILS_ROUTES_PREFIX = '/rails/active_storage';

/**
 * What an initialized Attache is made of: the registry, signing, routes, purger, jobs and
 * representations every layer reaches through the AttacheRuntime port. Internal: the public
 * `Attache` is a facade over it, so none of these objects is part of the package's API.
 */
export class Runtime implements HttpRuntime {
  readonly registry: ServiceRegistry;
  readonly verifier: MessageVerifier;
  readonly rails: RailsMode | undefined;
  readonly routes: Routes;
  readonly purger: Purger;
  readonly background: BackgroundTasks;
  readonly representations: Representations;
  readonly events = new AttacheEvents();
  readonly subscriber: AttacheSubscriber;
  readonly jobs: Jobs;

  constructor(readonly dataSource: DataSource, options: AttacheOptions) {
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

  service(name?: string): StorageService {
    return this.registry.service(name);
  }

  async findSigned(signedId: string): Promise<Blob | null> {
    try {
      return await this.findSignedOrFail(signedId);
    } catch (error) {
      if (error instanceof InvalidSignatureError || error instanceof FileNotFoundError) return null;
      throw error;
    }
  }

  async findSignedOrFail(signedId: string): Promise<Blob> {
    return (await findSignedBlob(this, signedId)).blob;
  }

  get queue(): JobQueue {
    return this.jobs.queue;
  }

  enqueue(job: AttacheJob, options?: EnqueueOptions): Promise<void> {
    return this.jobs.enqueue(job, options);
  }

  /** Background jobs and attache's own background cleanup, until both are idle. */
  async drain(): Promise<void> {
    do {
      await this.background.drain();
      await this.jobs.drain();
    } while (this.background.busy);
  }

  private reportBackgroundFailure(action: string, error: Error): void {
    if (this.events.listenerCount('background:failed') > 0) this.events.emit('background:failed', { action, error: error as never });
    else console.warn(`[attache] could not ${action}: ${error.message}`);
  }
}
