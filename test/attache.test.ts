import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attache, ConfigurationError, DiskService, type StorageService } from '../src/index.ts';
import { openTestDataSource, type TestDataSource } from './support/db.ts';
import { Project, User, usersTable } from './support/entities.ts';
import { removeDir, tempRoot } from './support/storage.ts';
import { runtimeOf } from '../src/attache.ts';

const SECRET = 'test-secret-that-is-long-enough-0123456789';
let db: TestDataSource;
let root: string;

beforeAll(async () => {
  db = await openTestDataSource({ entities: [User, Project], sql: [usersTable] });
  root = await tempRoot('init');
});
afterAll(async () => {
  await db.close();
  await removeDir(root);
});

/** Writes an app with config/storage.yml and returns the config file's path. */
function app(yaml: string): string {
  const dir = path.join(root, `app-${Math.random().toString(36).slice(2)}`);
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  writeFileSync(path.join(dir, 'config', 'storage.yml'), yaml);
  return path.join(dir, 'config', 'storage.yml');
}

const twoServices = `
local:
  service: Disk
  root: <%= Rails.root.join("storage") %>
amazon:
  service: Disk
  root: \${SECRET_ROOT}
`;

describe('Attache.init (checklist 23)', () => {
  it.each([
    ['an unknown default service, listing the names', { service: 'nope' }, /Unknown storage service "nope".*"local", "amazon"/],
    ['several services and none chosen, listing the names', {}, /"local", "amazon"/],
  ])('fails at init for %s', async (_label, extra, message) => {
    const init = Attache.init({ dataSource: db.dataSource, secret: SECRET, configFile: app(twoServices), env: {}, ...extra });
    await expect(init).rejects.toBeInstanceOf(ConfigurationError);
    await expect(Attache.init({ dataSource: db.dataSource, secret: SECRET, configFile: app(twoServices), env: {}, ...extra })).rejects.toThrow(message);
  });

  it('picks ATTACHE_SERVICE, builds services lazily, and names an unset variable only when its service is used', async () => {
    const attache = await Attache.init({ dataSource: db.dataSource, secret: SECRET, configFile: app(twoServices), env: { ATTACHE_SERVICE: 'local' } });
    try {
      expect(attache.service()).toBeInstanceOf(DiskService);
      expect(() => attache.service('amazon')).toThrow(/"amazon".*SECRET_ROOT/);
    } finally {
      await attache.close();
    }
  });

  it.each([
    ['an unknown adapter', 'x:\n  service: Nope\n', /unknown adapter "Nope".*"Disk"/],
    ['a missing root', 'x:\n  service: Disk\n', /"x" is missing the required setting "root"/],
  ])('names the service and the setting for %s', async (_label, yaml, message) => {
    const attache = await Attache.init({ dataSource: db.dataSource, secret: SECRET, configFile: app(yaml), env: {} });
    try {
      expect(() => attache.service()).toThrow(ConfigurationError);
      expect(() => attache.service()).toThrow(message);
    } finally {
      await attache.close();
    }
  });

  it('fails at init for an unknown setting of the default service (a typo is found at boot), and not for one of an unused service', async () => {
    const typo = 'x:\n  service: Disk\n  root: /tmp/x\n  kms_key_id: abc\n';
    await expect(Attache.init({ dataSource: db.dataSource, secret: SECRET, configFile: app(typo), env: {} })).rejects.toThrow(/"x" has unknown setting "kms_key_id"/);
    const unused = `${typo}y:\n  service: Disk\n  root: /tmp/y\n`;
    const attache = await Attache.init({ dataSource: db.dataSource, secret: SECRET, configFile: app(unused), env: {}, service: 'y' });
    try {
      expect(() => attache.service('x')).toThrow(/"x" has unknown setting "kms_key_id"/);
    } finally {
      await attache.close();
    }
  });

  it('never prints a secret from the environment in errors, JSON or inspect', async () => {
    const secret = 'hunter2-very-secret-and-long-enough-42';
    const yaml = `local:\n  service: Disk\n  root: /tmp/attache-\${TOKEN}\nbroken:\n  service: Disk\n  root: x\n  password: \${TOKEN}\n`;
    const attache = await Attache.init({ dataSource: db.dataSource, secret, configFile: app(yaml), env: { TOKEN: secret }, service: 'local' });
    try {
      let message = '';
      try {
        attache.service('broken');
      } catch (error) {
        message = String(error) + JSON.stringify(error);
      }
      expect(message).toMatch(/password/);
      for (const shown of [message, JSON.stringify(attache), inspect(attache, { depth: 5 }), JSON.stringify(runtimeOf(attache).registry), inspect(runtimeOf(attache).registry)]) {
        expect(shown).not.toContain(secret);
      }
    } finally {
      await attache.close();
    }
  });

  it.each([
    ['missing', undefined],
    ['short', 'too-short'],
  ])('refuses a %s secret at init', async (_label, secret) => {
    const init = Attache.init({ dataSource: db.dataSource, secret, services: { local: { service: 'Disk', root } } });
    await expect(init).rejects.toBeInstanceOf(ConfigurationError);
    await expect(Attache.init({ dataSource: db.dataSource, secret, services: { local: { service: 'Disk', root } } })).rejects.toThrow(/secret/);
  });

  it('registers an adapter after init and uses it for a service of this Attache', async () => {
    const attache = await Attache.init({ dataSource: db.dataSource, secret: SECRET, configFile: app('mem:\n  service: Memory\n  root: /tmp/mem\n'), env: {} });
    try {
      runtimeOf(attache).registry.register('Memory', { settings: ['root'], create: (settings, { name }) => new DiskService({ name, root: String(settings['root']) }) as StorageService });
      expect(attache.service().name).toBe('mem');
    } finally {
      await attache.close();
    }
  });

  it('refuses a DataSource without attache\'s entities', async () => {
    const { DataSource } = await import('typeorm');
    const bare = new DataSource({ type: 'postgres', url: db.dataSource.options.type === 'postgres' ? (db.dataSource.options.url as string) : '', entities: [] });
    await expect(Attache.init({ dataSource: bare, secret: SECRET, services: { local: { service: 'Disk', root } } })).rejects.toThrow(/attacheEntities/);
    if (bare.isInitialized) await bare.destroy();
  });
});
