import { inspect } from 'node:util';
import { AttacheError, ConfigurationError } from '../core/errors.ts';
import {
  AdapterRegistry,
  globalAdapters,
  loadAdapter,
  loadedAdapter,
  type AdapterDefinition,
  type AdapterEntry,
  type AdapterFactory,
} from './adapters.ts';
import type { LoadedConfig } from './config.ts';
import { interpolateDetailed } from './interpolate.ts';
import type { DiskUrlPort, StorageService } from './Service.ts';

export {
  AdapterRegistry,
  globalAdapters,
  type AdapterDefinition,
  type AdapterEntry,
  type AdapterFactory,
  type LazyAdapterDefinition,
  type ServiceContext,
  type ServiceCreator,
} from './adapters.ts';

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

  /**
   * Loads every lazy adapter (S3, SecureS3: the AWS SDK) that a configured service uses, then checks
   * the setting names of the default service, and of the services it names (a Mirror's), against
   * their adapters, so a typo fails at boot. Reads no variable: values are checked when a service is
   * built. `Attache.init` awaits it. Throws ConfigurationError. Idempotent.
   */
  async preload(): Promise<void> {
    const wanted = new Map<string, AdapterEntry>();
    for (const name of this.names()) {
      const adapterName = this.config.services[name]?.['service'];
      // A `service:` that is itself interpolated is only known when built: load every lazy adapter then.
      const names = typeof adapterName === 'string' && !hasPlaceholder(adapterName) ? [adapterName] : this.adapterNames();
      for (const each of names) {
        const entry = this.adapter(each);
        if (entry !== undefined) wanted.set(each, entry);
      }
    }
    for (const [adapterName, entry] of wanted) await loadAdapter(adapterName, entry);
    const first = this.explicitDefault ?? (this.env.ATTACHE_SERVICE || undefined) ?? (this.names().length === 1 ? this.names()[0] : undefined);
    if (first !== undefined && this.has(first)) this.checkNames(first, new Set());
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
    const { settings: all, unset } = interpolateDetailed(name, block, { env: this.env, appRoot: this.config.appRoot, lines: this.config.lines?.[name] });
    const { service: adapterName, ...settings } = all;
    if (typeof adapterName !== 'string') throw ConfigurationError.missingSetting(name, 'service');
    const entry = this.adapter(adapterName);
    if (entry === undefined) throw ConfigurationError.unknownAdapter(name, adapterName, this.adapterNames());
    const adapter = loadedAdapter(entry);
    if (adapter === undefined) {
      throw new ConfigurationError(`Service "${name}" uses adapter "${adapterName}", which is loaded on first use: await registry.preload() (Attache.init does) before building it.`);
    }
    try {
      validateSettings(name, adapter, settings);
      return adapter.create(settings, { name, appRoot: this.config.appRoot, services: this, diskUrls: this.diskUrls, unset });
    } catch (cause) {
      throw explain(cause, name, adapterName, unset);
    }
  }

  private adapter(name: string): AdapterEntry | undefined {
    for (const adapters of this.lookups) {
      const found = adapters.get(name);
      if (found) return found;
    }
    return undefined;
  }

  /** Unknown setting names of `name` and of the services it names, before anything is interpolated. */
  private checkNames(name: string, seen: Set<string>): void {
    if (seen.has(name)) return;
    seen.add(name);
    const block = this.config.services[name] ?? {};
    const adapterName = block['service'];
    const entry = typeof adapterName === 'string' ? this.adapter(adapterName) : undefined;
    const allowed = entry?.settings;
    if (allowed === undefined) return; // an adapter registered later, or one that takes anything
    for (const key of Object.keys(block)) {
      if (key !== 'service' && !hasPlaceholder(key) && !allowed.includes(key)) throw ConfigurationError.unknownSetting(name, key, allowed);
    }
    for (const setting of entry?.servicesIn ?? []) {
      const value = block[setting];
      for (const other of Array.isArray(value) ? value : [value]) {
        if (typeof other === 'string' && this.has(other)) this.checkNames(other, seen);
      }
    }
  }
}

/**
 * A build failure as the user should read it: a missing setting whose `ENV['X']` was unset names X;
 * another attache error passes unchanged; anything else names only its class, as its message may echo a value.
 */
function explain(cause: unknown, service: string, adapterName: string, unset: ReadonlyMap<string, string>): AttacheError {
  if (cause instanceof ConfigurationError && cause.setting !== undefined) {
    const variable = unset.get(cause.setting);
    if (variable !== undefined) return ConfigurationError.unsetVariable(service, variable, cause.setting);
  }
  if (cause instanceof AttacheError) return cause;
  const kind = cause instanceof Error ? cause.name : typeof cause;
  return new ConfigurationError(`Service "${service}" (adapter "${adapterName}") could not be created: ${kind}.`, { cause });
}

function hasPlaceholder(text: string): boolean {
  return text.includes('<%') || text.includes('${');
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
