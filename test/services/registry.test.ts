import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, StorageAccessError } from '../../src/core/errors.ts';
import type { StorageService } from '../../src/services/Service.ts';
import { mirrorAdapter } from '../../src/services/mirror/MirrorService.ts';
import { configFromObject, loadConfig, type LoadedConfig } from '../../src/services/config.ts';
import {
  AdapterRegistry,
  globalAdapters,
  ServiceRegistry,
  type AdapterDefinition,
  type AdapterEntry,
  type ServiceContext,
} from '../../src/services/registry.ts';

/** A stand-in service: records how it was built; every storage verb throws. */
class FakeService implements StorageService {
  constructor(
    readonly name: string,
    readonly settings: Record<string, unknown>,
    readonly context: ServiceContext,
  ) {}
  upload(): never { throw new Error('fake'); }
  download(): never { throw new Error('fake'); }
  downloadRange(): never { throw new Error('fake'); }
  delete(): never { throw new Error('fake'); }
  deletePrefixed(): never { throw new Error('fake'); }
  exists(): never { throw new Error('fake'); }
  url(): never { throw new Error('fake'); }
  urlForDirectUpload(): never { throw new Error('fake'); }
  headersForDirectUpload(): never { throw new Error('fake'); }
  compose(): never { throw new Error('fake'); }
  listObjects(): never { throw new Error('fake'); }
  listPendingWrites(): never { throw new Error('fake'); }
  discardPendingWrite(): never { throw new Error('fake'); }
}

const SECRET = 'sup3r-s3cret-value';

const STORAGE_YML = `# Rails-style storage.yml for the registry tests
local:
  service: Disk
  root: <%= Rails.root.join("storage") %>

amazon:
  service: S3
  bucket: <%= ENV['S3_BUCKET_NAME'] %>
  secret_access_key: \${AWS_SECRET}
  region: \${AWS_REGION:-us-east-1}

encrypted:
  service: S3
  bucket: secure
  secret_access_key: \${AWS_SECRET}
  kms_key_id: <%= ENV.fetch('KMS_KEY') %>

custom:
  service: Custom

bare:
  service: S3
`;

let dir: string;
let config: LoadedConfig;
let created: string[];
let adapters: AdapterRegistry;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'attache-registry-')));
  mkdirSync(path.join(dir, 'config'));
  writeFileSync(path.join(dir, 'config/storage.yml'), STORAGE_YML);
  config = loadConfig(path.join(dir, 'config/storage.yml'));
  created = [];
  const fake = (name: string, settings: Record<string, unknown>, context: ServiceContext) => {
    created.push(name);
    return new FakeService(name, settings, context);
  };
  adapters = new AdapterRegistry()
    .register('Disk', { settings: ['root', 'public'], required: ['root'], create: (s, c) => fake(c.name, s, c) })
    .register('S3', { settings: ['bucket', 'region', 'secret_access_key'], required: ['bucket'], create: (s, c) => fake(c.name, s, c) });
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function registry(env: NodeJS.ProcessEnv = {}, defaultService?: string): ServiceRegistry {
  return new ServiceRegistry(config, { env: { AWS_SECRET: SECRET, S3_BUCKET_NAME: 'photos', ...env }, adapters, defaultService });
}

function fake(service: StorageService): FakeService {
  if (!(service instanceof FakeService)) throw new Error('expected a FakeService');
  return service;
}

describe('ServiceRegistry.service', () => {
  it('builds a service from interpolated settings without the service key', () => {
    const local = fake(registry().service('local'));
    expect(local.settings).toEqual({ root: path.join(dir, 'storage') });
    expect(local.context.name).toBe('local');
    expect(local.context.appRoot).toBe(dir);
    expect(fake(registry().service('amazon')).settings).toEqual({ bucket: 'photos', secret_access_key: SECRET, region: 'us-east-1' });
  });

  it('memoizes: the same instance twice, built once', () => {
    const services = registry();
    expect(services.service('local')).toBe(services.service('local'));
    expect(created).toEqual(['local']);
  });

  it('is lazy: a service with an unset variable only fails when it is built', () => {
    const services = registry({ AWS_SECRET: undefined });
    expect(services.service('local')).toBeInstanceOf(FakeService);
    expect(() => services.service('amazon')).toThrow(ConfigurationError);
    expect(() => services.service('amazon')).toThrow('Service "amazon" needs the environment variable AWS_SECRET');
    expect(created).toEqual(['local']);
  });

  it('retries a failed build once the cause is fixed', () => {
    const services = registry();
    expect(() => services.service('custom')).toThrow(/unknown adapter "Custom"/);
    services.register('Custom', (settings, context) => new FakeService(context.name, settings, context));
    expect(fake(services.service('custom')).settings).toEqual({});
  });

  it('gives plain function factories every setting, unvalidated', () => {
    const services = registry({ KMS_KEY: 'arn:key' });
    services.register('S3', (settings, context) => new FakeService(context.name, settings, context));
    expect(fake(services.service('encrypted')).settings).toEqual({ bucket: 'secure', secret_access_key: SECRET, kms_key_id: 'arn:key' });
  });

  it.each([
    ['an unknown service', 'nope', {}, /Unknown storage service "nope"\. Configured services: "local", "amazon", "encrypted", "custom", "bare"/],
    ['an unknown adapter', 'custom', {}, /Service "custom" uses unknown adapter "Custom"\. Registered adapters: "Disk", "S3"/],
    ['a setting the adapter does not list', 'encrypted', { KMS_KEY: 'arn:key' }, /Service "encrypted" has unknown setting "kms_key_id"/],
    ['a required setting that is only an unset ENV[...]', 'amazon', { S3_BUCKET_NAME: undefined }, /Service "amazon" needs the environment variable S3_BUCKET_NAME for its setting "bucket"/],
    ['a required setting that is not there', 'bare', {}, /Service "bare" is missing the required setting "bucket"/],
    ['an unset ENV.fetch variable', 'encrypted', {}, /Service "encrypted" needs the environment variable KMS_KEY/],
  ])('throws ConfigurationError for %s', (_label, name, env, message) => {
    expect(() => registry(env).service(name)).toThrow(ConfigurationError);
    expect(() => registry(env).service(name)).toThrow(message);
  });

  it('never puts a secret value in an error message', () => {
    const services = registry({ KMS_KEY: SECRET });
    for (const name of ['encrypted', 'custom', 'nope']) {
      expect(() => services.service(name)).toThrow(ConfigurationError);
      expect(() => services.service(name)).not.toThrow(SECRET);
    }
  });

  it('wraps a non-attache error from create, naming the service but not the message', () => {
    const services = registry().register('Disk', () => {
      throw new TypeError(`bad root ${SECRET}`);
    });
    const error = (() => {
      try {
        services.service('local');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/Service "local" \(adapter "Disk"\) could not be created: TypeError/);
    expect((error as Error).message).not.toContain(SECRET);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('passes attache errors from create through unchanged', () => {
    const thrown = new StorageAccessError('no access');
    const services = registry().register('Disk', () => {
      throw thrown;
    });
    expect(() => services.service('local')).toThrow(thrown);
  });

  it('lets a service build others through the context, and reports cycles', () => {
    const services = registry().register('Custom', (_settings, context) => {
      context.services.service('local');
      return context.services.service('custom');
    });
    expect(() => services.service('custom')).toThrow(/Service "custom" depends on itself/);
    expect(created).toEqual(['local']);
  });
});

describe('errors point at the file', () => {
  it('names the setting and its line for an unsupported ERB expression, never the expression', () => {
    writeFileSync(path.join(dir, 'config/storage.yml'), 'odd:\n  service: S3\n  bucket: b\n  upload:\n    cache_control: <%= "s3cr3t" * 2 %>\n');
    const services = new ServiceRegistry(loadConfig(path.join(dir, 'config/storage.yml')), { env: {}, adapters });
    expect(() => services.service('odd')).toThrow(/Service "odd" setting "upload\.cache_control" \(line 5\) uses an ERB expression/);
    expect(() => services.service('odd')).not.toThrow(/s3cr3t/);
  });
});

describe('lazy adapters and preload()', () => {
  function lazy(tag: string, loads: string[]): AdapterEntry {
    return {
      settings: ['bucket'],
      required: ['bucket'],
      load: async () => {
        loads.push(tag);
        return { settings: ['bucket'], required: ['bucket'], create: (settings, context) => new FakeService(`${context.name}:${tag}`, settings, context) };
      },
    };
  }

  it('refuses to build a lazy adapter before preload, then builds it; the module loads once', async () => {
    const loads: string[] = [];
    const yml = configFromObject({ a: { service: 'Lazy', bucket: 'x' }, b: { service: 'Lazy', bucket: 'y' } }, dir);
    const services = new ServiceRegistry(yml, { env: {}, defaultService: 'a' }).register('Lazy', lazy('loaded', loads));
    expect(() => services.service('a')).toThrow(ConfigurationError);
    expect(() => services.service('a')).toThrow(/adapter "Lazy", which is loaded on first use: await registry\.preload\(\)/);
    await Promise.all([services.preload(), services.preload()]);
    expect(services.service('a').name).toBe('a:loaded');
    expect(services.service('b').name).toBe('b:loaded');
    expect(loads).toEqual(['loaded']);
  });

  it('checks the setting names of the default service and of the services a Mirror names, and no others', async () => {
    const loads: string[] = [];
    const blocks = {
      main: { service: 'Lazy', bucket: 'x', buckte: 'typo' },
      mirrored: { service: 'Mirror', primary: 'main', mirrors: ['other'] },
      other: { service: 'Lazy', bucket: 'y' },
      unused: { service: 'Lazy', bucket: 'z', unknown_thing: true },
    };
    const entry = lazy('l', loads);
    const registryFor = (defaultService: string) => new ServiceRegistry(configFromObject(blocks, dir), { env: {}, defaultService }).register('Lazy', entry).register('Mirror', mirrorAdapter);
    await expect(registryFor('mirrored').preload()).rejects.toThrow(/Service "main" has unknown setting "buckte"/);
    await expect(registryFor('other').preload()).resolves.toBeUndefined();
    expect(loads).toEqual(['l']);
  });

  it('skips adapters that are not registered yet (they may be registered after init)', async () => {
    const services = new ServiceRegistry(configFromObject({ x: { service: 'Later', anything: 1 } }, dir), { env: {} });
    await expect(services.preload()).resolves.toBeUndefined();
    services.register('Later', (settings, context) => new FakeService(context.name, settings, context));
    expect(fake(services.service('x')).settings).toEqual({ anything: 1 });
  });

  it('gives a ConfigurationError when a lazy adapter fails to load, and retries later', async () => {
    let fail = true;
    const flaky: AdapterEntry = {
      load: async () => {
        if (fail) throw new Error('Cannot find module');
        return { create: (settings, context) => new FakeService(context.name, settings, context) };
      },
    };
    const services = new ServiceRegistry(configFromObject({ x: { service: 'Flaky' } }, dir), { env: {} }).register('Flaky', flaky);
    await expect(services.preload()).rejects.toThrow(/Adapter "Flaky" could not be loaded \(Error\)/);
    fail = false;
    await services.preload();
    expect(services.service('x').name).toBe('x');
  });
});

describe('adapter lookup', () => {
  const definition = (tag: string): AdapterDefinition => ({
    create: (settings, context) => new FakeService(`${context.name}:${tag}`, settings, context),
  });

  it('prefers local, then options.adapters, then globalAdapters', () => {
    globalAdapters.register('RegistryTestGlobal', definition('global'));
    const yml = configFromObject({ a: { service: 'RegistryTestGlobal' }, b: { service: 'S3', bucket: 'x' } }, dir);
    const services = new ServiceRegistry(yml, { env: {}, adapters });
    expect(services.service('a').name).toBe('a:global');
    expect(services.adapterNames()).toEqual(expect.arrayContaining(['Disk', 'S3', 'RegistryTestGlobal']));
    const local = new ServiceRegistry(yml, { env: {}, adapters }).register('S3', definition('local'));
    expect(local.service('b').name).toBe('b:local');
  });

  it('normalizes function factories to definitions', () => {
    const registered = new AdapterRegistry().register('F', (s, c) => new FakeService(c.name, s, c));
    expect(registered.names()).toEqual(['F']);
    expect(typeof registered.get('F')?.create).toBe('function');
    expect(registered.get('missing')).toBeUndefined();
  });
});

describe('ServiceRegistry.defaultName', () => {
  it.each([
    ['the explicit option over ATTACHE_SERVICE', 'custom', { ATTACHE_SERVICE: 'amazon' }, 'custom'],
    ['ATTACHE_SERVICE when no option', undefined, { ATTACHE_SERVICE: 'amazon' }, 'amazon'],
  ])('uses %s', (_label, explicit, env, expected) => {
    expect(registry(env, explicit).defaultName).toBe(expected);
    expect(created).toEqual([]);
  });

  it('uses the only service, and service() with no name builds it', () => {
    const services = new ServiceRegistry(configFromObject({ only: { service: 'Disk', root: 'r' } }, dir), { env: {}, adapters });
    expect(services.defaultName).toBe('only');
    expect(services.service().name).toBe('only');
  });

  it.each([
    ['several services and no choice', undefined, {}, /Several storage services .*"local", "amazon", "encrypted", "custom", "bare".*ATTACHE_SERVICE/],
    ['an unknown explicit default', 'nope', {}, /Unknown storage service "nope"\. Configured services: "local", "amazon"/],
    ['an unknown ATTACHE_SERVICE', undefined, { ATTACHE_SERVICE: 'nope' }, /Unknown storage service "nope"\. Configured services: "local"/],
  ])('throws ConfigurationError listing the names for %s', (_label, explicit, env, message) => {
    expect(() => registry(env, explicit).defaultName).toThrow(ConfigurationError);
    expect(() => registry(env, explicit).service()).toThrow(message);
    expect(created).toEqual([]);
  });

  it('reports an empty configuration', () => {
    const empty = new ServiceRegistry(configFromObject({}, dir), { env: {} });
    expect(() => empty.defaultName).toThrow(/No storage services are configured/);
  });
});

describe('introspection', () => {
  it('lists names and never prints settings', () => {
    const services = registry({ KMS_KEY: 'k' });
    services.service('amazon');
    expect(services.names()).toEqual(['local', 'amazon', 'encrypted', 'custom', 'bare']);
    expect(services.has('amazon')).toBe(true);
    expect(services.has('toString')).toBe(false);
    expect(services.toJSON()).toEqual({ file: path.join(dir, 'config/storage.yml'), services: services.names(), built: ['amazon'] });
    expect(JSON.stringify(services)).not.toContain(SECRET);
    expect(inspect(services, { depth: 10 })).not.toContain(SECRET);
    expect(inspect(services)).not.toContain('photos');
  });
});
