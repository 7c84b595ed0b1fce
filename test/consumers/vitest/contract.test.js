// A third party's tests with vitest: the shipped contract suite against a service (here the
// built-in Disk, in a temporary directory, and the in-memory service), as for their own adapter.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DiskService } from 'attache';
import { MemoryService, serviceContract } from 'attache/testing';

serviceContract('DiskService', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'contract-'));
  return { service: new DiskService({ name: 'disk', root }), cleanup: () => rm(root, { recursive: true, force: true }) };
});

serviceContract('MemoryService', async () => ({ service: new MemoryService('memory'), cleanup: async () => {} }));
