import { AttacheError, ConfigurationError } from '../core/errors.ts';
import type { ServiceRegistry } from './registry.ts';
import type { DiskUrlPort, StorageService } from './Service.ts';

/** What an adapter gets besides its settings: its own name, `Rails.root`, and the registry (for Mirror-like services). */
/** The other services of the same configuration, for adapters built on them (Mirror). */
export interface ServiceDirectory {
  /** The named service, built on first use. Throws ConfigurationError. */
  service(name: string): StorageService;
  /** The configured service names, in file order. */
  names(): string[];
}

export interface ServiceContext {
  name: string;
  /** What `Rails.root` means: the folder that holds `config/`. */
  appRoot: string;
  services: ServiceDirectory;
  /** Signed Disk URLs (the app's routes). */
  diskUrls?: DiskUrlPort;
  /**
   * Settings that were written in the file but left out because their `ENV['X']` is unset (Rails' nil):
   * dotted path (`kms_key_id`, `upload.ssekms_key_id`) → variable. An adapter that must not fall back
   * to a default for such a setting names the variable with ConfigurationError.unsetVariable.
   */
  unset?: ReadonlyMap<string, string>;
}

export type ServiceCreator = (settings: Record<string, unknown>, context: ServiceContext) => StorageService;

export interface AdapterDefinition {
  /** Every setting the adapter accepts besides `service`; when given, any other key is an error. */
  settings?: readonly string[];
  /** Settings that must be present and non-empty. */
  required?: readonly string[];
  /** Settings whose values name other services of the file (Mirror: `primary`, `mirrors`); their setting names are checked at boot too. */
  servicesIn?: readonly string[];
  create: ServiceCreator;
  load?: never;
}

/**
 * An adapter whose code (and vendor SDK) is imported only when a configuration uses it, so
 * `import 'attache'` stays light. `settings` and `required` are declared up front, so a typo is
 * found without loading anything. `ServiceRegistry#preload()` (called by `Attache.init`) loads it.
 */
export interface LazyAdapterDefinition {
  settings?: readonly string[];
  required?: readonly string[];
  servicesIn?: readonly string[];
  /** Imports the adapter's module; called at most once per process (the result is kept). */
  load(): Promise<AdapterDefinition>;
  create?: never;
}

export type AdapterEntry = AdapterDefinition | LazyAdapterDefinition;
export type AdapterFactory = AdapterEntry | ServiceCreator;

/** Adapter name (the `service:` value in storage.yml, e.g. "Disk") → how to build it. */
export class AdapterRegistry {
  private readonly adapters = new Map<string, AdapterEntry>();

  /** Adds or replaces the adapter `name`; returns this. Throws ConfigurationError for an empty name. */
  register(name: string, factory: AdapterFactory): this {
    if (name === '') throw new ConfigurationError('An adapter needs a non-empty name.');
    this.adapters.set(name, typeof factory === 'function' ? { create: factory } : factory);
    return this;
  }

  /** The adapter registered as `name` (possibly not loaded yet), or undefined. */
  get(name: string): AdapterEntry | undefined {
    return this.adapters.get(name);
  }

  /** The registered adapter names, in registration order. */
  names(): string[] {
    return [...this.adapters.keys()];
  }
}

/** The process-wide adapters: built-ins are registered here, and user code may add its own before init. */
export const globalAdapters: AdapterRegistry = new AdapterRegistry();

const loaded = new WeakMap<LazyAdapterDefinition, AdapterDefinition>();
const loading = new WeakMap<LazyAdapterDefinition, Promise<AdapterDefinition>>();

/** The adapter ready to build, or undefined while a lazy adapter has not been loaded. */
export function loadedAdapter(entry: AdapterEntry): AdapterDefinition | undefined {
  return entry.load === undefined ? entry : loaded.get(entry);
}

/** Loads a lazy adapter once (concurrent callers share the import). Throws ConfigurationError naming the adapter. */
export async function loadAdapter(name: string, entry: AdapterEntry): Promise<AdapterDefinition> {
  if (entry.load === undefined) return entry;
  const done = loaded.get(entry);
  if (done !== undefined) return done;
  let pending = loading.get(entry);
  if (pending === undefined) {
    pending = entry.load().then((definition) => {
      if (typeof definition?.create !== 'function') throw new ConfigurationError(`Adapter "${name}" loaded no create() function.`);
      loaded.set(entry, definition);
      return definition;
    });
    loading.set(entry, pending);
    pending.catch(() => loading.delete(entry)); // a failed import may be retried
  }
  try {
    return await pending;
  } catch (cause) {
    if (cause instanceof AttacheError) throw cause;
    throw new ConfigurationError(`Adapter "${name}" could not be loaded (${cause instanceof Error ? cause.name : typeof cause}).`, { cause });
  }
}
