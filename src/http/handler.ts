/**
 * attache's HTTP routes (`GET|HEAD|PUT {mount}/disk/…`, `{mount}/blobs/redirect/…`,
 * `{mount}/blobs/proxy/…`) behind two adapters over one implementation (dispatch.ts):
 * `nodeHandler` for node:http, Connect and Express, `fetchHandler` for Fetch-style runtimes.
 */
export type { HandlerOptions } from './core.ts';
export { nodeHandler, type NodeHandler } from './node.ts';
export { fetchHandler } from './fetch.ts';
