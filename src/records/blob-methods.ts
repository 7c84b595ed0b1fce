import type { Readable } from 'node:stream';
import type { Blob } from './Blob.ts';
import { ConfigurationError } from '../core/errors.ts';
import { downloadVerified, openAsFile, streamLater } from './blob-io.ts';
import { blobProxyUrl, blobRedirectUrl, blobUrl, type BlobUrlOptions } from './blob-urls.ts';
import { signBlobId, type SignedIdFormat } from './signed-ids.ts';
import { runtimeFor, type AttacheRuntime, type RepresentationPort } from './runtime.ts';

function runtimeOf(blob: Blob): AttacheRuntime {
  const rt = runtimeFor(blob.constructor);
  if (!rt) throw new ConfigurationError('No Attache is initialized for this Blob\'s DataSource.');
  return rt;
}

/** Blob behaviour that needs an initialized Attache; Blob's methods delegate here. */
export const blobMethods = {
  download: (blob: Blob): Promise<Buffer> => downloadVerified(runtimeOf(blob), blob),
  open: <T>(blob: Blob, fn: (file: string) => T | Promise<T>): Promise<T> => openAsFile(runtimeOf(blob), blob, fn),
  stream: (blob: Blob): Readable => streamLater(runtimeOf(blob), async () => blob),
  purge: async (blob: Blob): Promise<void> => {
    await runtimeOf(blob).purger.purge(blob, 'refuse');
  },
  url: (blob: Blob, options?: BlobUrlOptions): Promise<string> => blobUrl(runtimeOf(blob), blob, options),
  signedId: (blob: Blob, expiresIn?: number, format?: SignedIdFormat): string => signBlobId(runtimeOf(blob), blob, expiresIn, format),
  proxyUrl: (blob: Blob, options?: { expiresIn?: number; filename?: string }): string => blobProxyUrl(runtimeOf(blob), blob, options),
  redirectUrl: (blob: Blob, options?: { expiresIn?: number; filename?: string }): string => blobRedirectUrl(runtimeOf(blob), blob, options),
  purgeLater: async (blob: Blob): Promise<void> => {
    await runtimeOf(blob).enqueue({ type: 'purge', blobId: blob.id });
  },
  representations: (blob: Blob): RepresentationPort => runtimeOf(blob).representations,
};
