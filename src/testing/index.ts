// attache/testing: for your own tests, run with vitest. The storage service contract suite (run it
// against your adapter) and an in-memory service for app tests. Importing this registers the
// `Memory` adapter, so `service: Memory` works in a test storage.yml.
import { globalAdapters } from '../services/registry.ts';
import { memoryAdapter } from './MemoryService.ts';

globalAdapters.register('Memory', memoryAdapter);

export { serviceContract, type ContractOptions, type ServiceUnderTest } from './contract.ts';
export { MemoryService, memoryAdapter } from './MemoryService.ts';

/**
 * Services for `Attache.init({ services })` that keep everything in memory: one Memory service
 * per name (default `memory`). Name them as your storage.yml does, so attachments with
 * `service: 'archive'` still resolve. With several names, pass `service` to init to pick the default.
 */
export function memoryServices(...names: string[]): Record<string, { service: 'Memory' }> {
  const chosen = names.length > 0 ? names : ['memory'];
  return Object.fromEntries(chosen.map((name) => [name, { service: 'Memory' as const }]));
}
