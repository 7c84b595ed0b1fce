import { mediaTypeOf, type Analyzer } from './analyzer.ts';

/**
 * A PDF analyzer (Rails has none): `pages`, and `width` and `height` of the first page in points,
 * which is its size in pixels at 72 dpi, the size of its preview; a page turned by 90 or 270
 * degrees has them swapped. Through poppler's `pdfinfo`.
 */
export const pdfAnalyzer: Analyzer = {
  name: 'pdf',
  accept: (blob) => mediaTypeOf(blob) === 'application/pdf',
  async metadata(file, _blob, context) {
    const { stdout } = await context.tools.run('pdfinfo', ['-enc', 'UTF-8', file], { maxOutput: 1024 * 1024 });
    const info = stdout.toString('utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(info)?.[1]?.trim();
    const pages = Number.parseInt(field('Pages') ?? '', 10);
    const size = /^([\d.]+) x ([\d.]+) pts/.exec(field('Page size') ?? '');
    const rotation = Number.parseInt(field('Page rot') ?? '0', 10);
    const metadata: Record<string, number> = {};
    if (Number.isSafeInteger(pages)) metadata['pages'] = pages;
    if (size) {
      const [width, height] = [Math.round(Number(size[1])), Math.round(Number(size[2]))];
      const turned = Math.abs(rotation) % 180 === 90;
      metadata['width'] = turned ? height : width;
      metadata['height'] = turned ? width : height;
    }
    return metadata;
  },
};
