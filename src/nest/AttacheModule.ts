import { Global, Inject, Module, type BeforeApplicationShutdown, type DynamicModule, type FactoryProvider, type ModuleMetadata, type Provider } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { Attache, type AttacheOptions } from '../attache.ts';
import { ConfigurationError } from '../core/errors.ts';
import type { HandlerOptions, NodeHandler } from '../http/handler.ts';

export interface AttacheModuleOptions extends Omit<AttacheOptions, 'dataSource'> {
  /** Default: the DataSource that @nestjs/typeorm provides (`TypeOrmModule.forRoot`). */
  dataSource?: DataSource;
  /** Options of `attache.handler()`: authorize, authorizeDirectUpload, maxRangeBytes, onError. */
  handler?: HandlerOptions;
  /** `false` leaves the HTTP routes unmounted, to mount `attache.handler()` yourself. Default true. */
  routes?: boolean;
}

export interface AttacheModuleAsyncOptions {
  /** Modules whose providers `inject` names (e.g. ConfigModule). */
  imports?: ModuleMetadata['imports'];
  /** What `useFactory` receives, in order: e.g. `[DataSource, ConfigService]`. */
  inject?: FactoryProvider['inject'];
  useFactory: (...args: never[]) => AttacheModuleOptions | Promise<AttacheModuleOptions>;
}

/** The token of the resolved AttacheModuleOptions. */
export const ATTACHE_MODULE_OPTIONS = 'ATTACHE_MODULE_OPTIONS';
const ATTACHE_ROUTES = 'ATTACHE_ROUTES';

/**
 * Provides `Attache` (inject it by its class) to the whole app, mounts its HTTP routes and closes
 * it, draining background jobs, when the app shuts down.
 */
@Global()
@Module({})
export class AttacheModule implements BeforeApplicationShutdown {
  constructor(@Inject(Attache) private readonly attache: Attache) {}

  /** The module with fixed options; the DataSource defaults to @nestjs/typeorm's. */
  static forRoot(options: AttacheModuleOptions = {}): DynamicModule {
    return attacheModule([], { provide: ATTACHE_MODULE_OPTIONS, useValue: options });
  }

  /** The module with options from a factory, e.g. `inject: [DataSource, ConfigService]`. */
  static forRootAsync(options: AttacheModuleAsyncOptions): DynamicModule {
    const useFactory = options.useFactory as (...args: unknown[]) => AttacheModuleOptions | Promise<AttacheModuleOptions>;
    return attacheModule(options.imports ?? [], { provide: ATTACHE_MODULE_OPTIONS, useFactory, inject: options.inject ?? [] });
  }

  // Before Nest's shutdown hooks run, so @nestjs/typeorm has not destroyed the DataSource the jobs need.
  async beforeApplicationShutdown(): Promise<void> {
    await this.attache.close();
  }
}

function attacheModule(imports: NonNullable<ModuleMetadata['imports']>, optionsProvider: Provider): DynamicModule {
  return {
    module: AttacheModule,
    global: true,
    imports,
    providers: [
      optionsProvider,
      {
        provide: Attache,
        inject: [ATTACHE_MODULE_OPTIONS, { token: DataSource, optional: true }],
        useFactory: (options: AttacheModuleOptions, dataSource?: DataSource) => createAttache(options, dataSource),
      },
      {
        provide: ATTACHE_ROUTES,
        inject: [Attache, ATTACHE_MODULE_OPTIONS, { token: HttpAdapterHost, optional: true }],
        useFactory: mountRoutes,
      },
    ],
    exports: [Attache, ATTACHE_MODULE_OPTIONS],
  };
}

async function createAttache(options: AttacheModuleOptions, injected: DataSource | undefined): Promise<Attache> {
  const { dataSource = injected, handler: _handler, routes: _routes, ...rest } = options;
  if (!dataSource) {
    throw new ConfigurationError('AttacheModule has no DataSource: import TypeOrmModule.forRoot(...) in your app, or pass `dataSource` in the options.');
  }
  return Attache.init({ ...rest, dataSource });
}

/**
 * Mounts attache's routes on the HTTP adapter while the module's providers are created, so they
 * run before Nest's JSON and urlencoded parsers (registered at app.init) could consume a direct
 * upload's body. Paths outside `mount` pass through to Nest untouched.
 */
function mountRoutes(attache: Attache, options: AttacheModuleOptions, host: HttpAdapterHost | undefined): boolean {
  const adapter = host?.httpAdapter;
  if (options.routes === false || !adapter) return false;
  const handler: NodeHandler = attache.handler(options.handler);
  adapter.use(handler);
  return true;
}
