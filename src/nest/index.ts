// attache/nest: AttacheModule for NestJS 11 (provides Attache, mounts its routes, closes it on shutdown).
export { AttacheModule, ATTACHE_MODULE_OPTIONS, type AttacheModuleAsyncOptions, type AttacheModuleOptions } from './AttacheModule.ts';
