import type { Blob } from '../records/Blob.ts';
import { database } from '../records/database.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import { storedImagesOf } from './image-records.ts';

/** What is known, without asking the database again, about one loaded Blob's stored images. */
interface Known {
  variants: Map<string, Blob>;
  /** Every stored variant is in `variants` (loaded by withAttached): a digest missing there is not stored. */
  complete: boolean;
  /** The preview image, null when known to be absent, undefined while unknown. */
  preview?: Blob | null;
}

const KNOWN = new WeakMap<Blob, Known>();

/** The stored variant image of `blob` under `digest`; null when known not to be stored; undefined when unknown (ask the database). */
export function knownVariant(blob: Blob, digest: string): Blob | null | undefined {
  const entry = KNOWN.get(blob);
  return entry?.variants.get(digest) ?? (entry?.complete ? null : undefined);
}

/** The preview image of `blob`; null when known not to be stored; undefined when unknown. */
export function knownPreview(blob: Blob): Blob | null | undefined {
  return KNOWN.get(blob)?.preview;
}

/** Remembers a stored variant image (found or just made) on the loaded Blob. */
export function rememberVariant(blob: Blob, digest: string, image: Blob): void {
  known(blob).variants.set(digest, image);
}

/** Remembers a stored preview image on the loaded Blob. */
export function rememberPreview(blob: Blob, image: Blob): void {
  known(blob).preview = image;
}

/**
 * `withAttached(…, { variants: true })`: the preview images and variant images of `blobs` (and
 * the variant images of those previews) in three queries, remembered on the Blob instances, so
 * their representations answer without querying. Throws PersistenceError.
 */
export async function preloadImages(rt: AttacheRuntime, blobs: readonly Blob[]): Promise<void> {
  if (blobs.length === 0) return;
  const stored = await database(`load the variants of ${blobs.length} blobs`, () => storedImagesOf(rt.dataSource.manager, [...new Set(blobs.map((b) => b.id))]));
  for (const blob of blobs) {
    const entry = Object.assign(known(blob), { complete: true, preview: stored.previews.get(blob.id) ?? null });
    for (const [digest, image] of stored.variants.get(blob.id) ?? []) entry.variants.set(digest, image);
    if (!entry.preview) continue;
    const preview = Object.assign(known(entry.preview), { complete: true });
    for (const [digest, image] of stored.variants.get(entry.preview.id) ?? []) preview.variants.set(digest, image);
  }
}

function known(blob: Blob): Known {
  let entry = KNOWN.get(blob);
  if (!entry) {
    entry = { variants: new Map(), complete: false };
    KNOWN.set(blob, entry);
  }
  return entry;
}
