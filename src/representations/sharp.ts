import type { Sharp, SharpConstructor, SharpOptions } from 'sharp';
import { ConfigurationError } from '../core/errors.ts';

type SharpModule = SharpConstructor;

/**
 * The libvips loaders attache lets decode user files: the common raster formats. Every other
 * loader (SVG through librsvg, the vips/matrix/csv/ppm/rad/fits formats, …) is blocked, for the
 * whole process, before the first file is opened (what Rails does with `Vips.block_untrusted`).
 */
export const TRUSTED_LOADERS: readonly string[] = ['VipsForeignLoadJpeg', 'VipsForeignLoadPng', 'VipsForeignLoadWebp', 'VipsForeignLoadNsgif', 'VipsForeignLoadTiff', 'VipsForeignLoadHeif'];

let loading: Promise<SharpModule> | undefined;

/**
 * Invariant: every sharp instance attache decodes with comes from here, after the loader
 * allowlist is in force. sharp is loaded on first use, so an app that never makes a variant never
 * loads libvips. Throws ConfigurationError when sharp's prebuilt binary cannot load.
 */
export async function openImage(input: string | Buffer, options: SharpOptions): Promise<Sharp> {
  const sharp = await loadSharp();
  return sharp(input, options);
}

/** sharp itself (for its strategy constants), with the loader allowlist in force. */
export function loadSharp(): Promise<SharpModule> {
  loading ??= import('sharp')
    .then(({ default: sharp }) => {
      sharp.block({ operation: ['VipsForeignLoad'] });
      sharp.unblock({ operation: [...TRUSTED_LOADERS] });
      return sharp;
    })
    .catch((error: unknown) => {
      loading = undefined;
      throw new ConfigurationError('sharp could not be loaded, so no variant can be made: install its prebuilt binary for this platform (npm install --include=optional sharp).', { cause: error });
    });
  return loading;
}
