import { inspect } from 'node:util';
import { AttacheError, ConfigurationError } from '../core/errors.ts';
import type { LoadedConfig } from './config.ts';
import { interpolateService } from './interpolate.ts';
import type { DiskUrlPort, StorageService } from './Service.ts';

/** What an adapter gets besides its settings: its own name, `Rails.root`, and the registry (for Mirror-like services). */
export interface ServiceContext {
  name: string;
  appRoot: string;
  services: ServiceRegistry;
  /** Signed Disk URLs (the app's routes). */
  diskUrls?: DiskUrlPort;
}

export type ServiceCreator = (settings: Record<string, unknown>, context: ServiceContext) => StorageService;

export interface AdapterDefinition {
  /** Every setting the adapter accepts besides `service`; when given, any other key is an error. */
  settings?: readonly string[];
  /** Settings that must be present and non-empty. */
  required?: readonly string[];
  create: ServiceCreator;
}

export type AdapterFactory = AdapterDefinition | ServiceCreator;

/** Adapter name (the `service:` value in storage.yml, e.g. "Disk") → how to build it. */
export class AdapterRegistry {
  private readonly adapters = new Map<string, AdapterDefinition>();

  /** Adds or replaces the adapter `name`; returns this. Throws ConfigurationError for an empty name. */
  register(name: string, factory: AdapterFactory): this {
    if (name === '') throw new ConfigurationError('An adapter needs a non-empty name.');
    this.adapters.set(name, typeof factory === 'function' ? { create: factory } : factory);
    return this;
  }

  /** The adapter registered as `name`, or undefined. */
  get(name: string): AdapterDefinition | undefined {
    return this.adapters.get(name);
  }

  /** The registered adapter names, in registration order. */
  names(): string[] {
    return [...this.adapters.keys()];
  }
}

/** The process-wide adapters: built-ins are registered here, and user code may add its own before init. */
export const globalAdapters: AdapterRegistry = new AdapterRegistry();

export interface ServiceRegistryOptions {
  /** Where variables come from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Adapters looked up before globalAdapters. */
  adapters?: AdapterRegistry;
  /** The service used when none is named; beats env.ATTACHE_SERVICE. */
  defaultService?: string;
  /** Passed to adapters in their context. */
  diskUrls?: DiskUrlPort;
}

/**
 * The configured services, each built on first use and then memoized.
 * Only building a service interpolates its block, so one service's unset variable never
 * stops another from working.
 */
export class ServiceRegistry {
  private readonly config: LoadedConfig;
  private readonly env: NodeJS.ProcessEnv;
  private readonly explicitDefault: string | undefined;
  private readonly lookups: readonly AdapterRegistry[];
  private readonly localAdapters = new AdapterRegistry();
  private readonly built = new Map<string, StorageService>();
  private readonly building = new Set<string>();
  private resolvedDefault: string | undefined;
  private readonly diskUrls: DiskUrlPort | undefined;

  constructor(config: LoadedConfig, options: ServiceRegistryOptions = {}) {
    this.config = config;
    this.diskUrls = options.diskUrls;
    this.env = options.env ?? process.env;
    this.explicitDefault = options.defaultService;
    this.lookups = [this.localAdapters, ...(options.adapters ? [options.adapters] : []), globalAdapters];
  }

  /** Registers an adapter for this registry only (beats options.adapters and globalAdapters); returns this. */
  register(adapterName: string, factory: AdapterFactory): this {
    this.localAdapters.register(adapterName, factory);
    return this;
  }

  /**
   * The default service's name: options.defaultService, else env.ATTACHE_SERVICE, else the only
   * service. Throws ConfigurationError listing the names when that is unknown or ambiguous. Builds nothing.
   */
  get defaultName(): string {
    this.resolvedDefault ??= this.resolveDefault();
    return this.resolvedDefault;
  }

  /** The service `name` (default: defaultName), built on first call and memoized. Throws ConfigurationError; a failed build is retried next call. */
  service(name?: string): StorageService {
    const serviceName = name ?? this.defaultName;
    const existing = this.built.get(serviceName);
    if (existing) return existing;
    if (this.building.has(serviceName)) {
      throw new ConfigurationError(`Service "${serviceName}" depends on itself (via ${[...this.building].join(' → ')}).`);
    }
    this.building.add(serviceName);
    try {
      const service = this.build(serviceName);
      this.built.set(serviceName, service);
      return service;
    } finally {
      this.building.delete(serviceName);
    }
  }

  /** The configured service names, in file order. */
  names(): string[] {
    return Object.keys(this.config.services);
  }

  /** Whether `name` is configured (it may still fail to build). */
  has(name: string): boolean {
    return Object.hasOwn(this.config.services, name);
  }

  /** The adapter names this registry can use: local, then options.adapters, then global. */
  adapterNames(): string[] {
    return [...new Set(this.lookups.flatMap((adapters) => adapters.names()))];
  }

  /** Names only: settings may hold secrets. */
  toJSON(): { file: string; services: string[]; built: string[] } {
    return { file: this.config.file, services: this.names(), built: [...this.built.keys()] };
  }

  [inspect.custom](): string {
    return `ServiceRegistry ${inspect(this.toJSON())}`;
  }

  private resolveDefault(): string {
    const chosen = this.explicitDefault ?? (this.env.ATTACHE_SERVICE || undefined);
    const names = this.names();
    if (chosen !== undefined) {
      if (!this.has(chosen)) throw ConfigurationError.unknownService(chosen, names);
      return chosen;
    }
    const [only, ...others] = names;
    if (only !== undefined && others.length === 0) return only;
    if (only === undefined) throw new ConfigurationError(`No storage services are configured in ${this.config.file}.`);
    throw new ConfigurationError(
      `Several storage services are configured (${names.map((n) => `"${n}"`).join(', ')}); ` +
        'choose the default with ATTACHE_SERVICE or the defaultService option.',
    );
  }

  private build(name: string): StorageService {
    const block = this.has(name) ? this.config.services[name] : undefined;
    if (block === undefined) throw ConfigurationError.unknownService(name, this.names());
    const { service: adapterName, ...settings } = interpolateService(name, block, {
      env: this.env,
      appRoot: this.config.appRoot,
    });
    if (typeof adapterName !== 'string') throw ConfigurationError.missingSetting(name, 'service');
    const adapter = this.adapter(adapterName);
    if (adapter === undefined) throw ConfigurationError.unknownAdapter(name, adapterName, this.adapterNames());
    validateSettings(name, adapter, settings);
    try {
      return adapter.create(settings, { name, appRoot: this.config.appRoot, services: this, diskUrls: this.diskUrls });
    } catch (cause) {
      if (cause instanceof AttacheError) throw cause;
      // The cause's message may echo a setting value, so only its class is named here.
      const kind = cause instanceof Error ? cause.name : typeof cause;
      throw new ConfigurationError(`Service "${name}" (adapter "${adapterName}") could not be created: ${kind}.`, { cause });
    }
  }

  private adapter(name: string): AdapterDefinition | undefined {
    for (const adapters of this.lookups) {
      const found = adapters.get(name);
      if (found) return found;
    }
    return undefined;
  }
}

function validateSettings(service: string, adapter: AdapterDefinition, settings: Record<string, unknown>): void {
  if (adapter.settings) {
    for (const key of Object.keys(settings)) {
      if (!adapter.settings.includes(key)) throw ConfigurationError.unknownSetting(service, key, adapter.settings);
    }
  }
  for (const key of adapter.required ?? []) {
    const value = settings[key];
    if (value === undefined || value === null || value === '') throw ConfigurationError.missingSetting(service, key);
  }
}
