import { mediaTypeOf, type Analyzer } from './analyzer.ts';
import { isVariable } from './formats.ts';
import { processingError } from './image-processor.ts';
import { openImage } from './sharp.ts';

/** EXIF orientations that turn the image by 90 or 270 degrees (5 to 8): width and height swap. */
const QUARTER_TURNS = new Set([5, 6, 7, 8]);

/**
 * Rails' ImageAnalyzer with sharp: `{ width, height }` as the image is displayed, i.e. with its
 * EXIF orientation applied. Only the header is read, so a decompression bomb reports its size
 * without being decoded. Images sharp does not decode here (SVG, BMP, …) are left to no analyzer.
 */
export const imageAnalyzer: Analyzer = {
  name: 'image',
  accept: (blob) => isVariable(mediaTypeOf(blob)),
  async metadata(file) {
    try {
      const image = await openImage(file, { limitInputPixels: false, failOn: 'warning' });
      const { width, height, orientation } = await image.metadata();
      if (!width || !height) return {};
      return QUARTER_TURNS.has(orientation ?? 1) ? { width: height, height: width } : { width, height };
    } catch (error) {
      throw processingError(error);
    }
  },
};
