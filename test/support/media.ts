import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

/** A solid-colour image of `width` × `height` in `format`, made by sharp (no file is read, so no loader is involved). */
export async function makeImage(width: number, height: number, format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif', colour = '#c83232'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).toFormat(format).toBuffer();
}

/** A JPEG stored `width` × `height` whose EXIF orientation (6: turn 90° clockwise) makes it display `height` × `width`. */
export async function makeRotatedJpeg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#3264c8' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
}

/** A JPEG whose EXIF carries a GPS-like private field: attache must never copy it into a variant. */
export async function makeJpegWithExif(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 48, channels: 3, background: '#32c864' } }).jpeg().withExif({ IFD0: { Copyright: 'private location 52.52N 13.40E' } }).toBuffer();
}

/** A PNG whose header claims `side` × `side` pixels but which compresses to a few hundred KB: a decompression bomb. */
export async function makePixelBomb(side = 10_000): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: '#000000' } }).png({ compressionLevel: 9 }).toBuffer();
}

/** The first half of an image: a truncated upload. */
export function truncate(image: Buffer): Buffer {
  return image.subarray(0, Math.floor(image.length / 2));
}

/** The size (width, height) and format sharp reads from encoded image bytes. */
export async function imageInfo(data: Buffer): Promise<{ width: number; height: number; format: string; exif: boolean }> {
  const { width = 0, height = 0, format = '', exif } = await sharp(data).metadata();
  return { width, height, format, exif: exif !== undefined };
}

/**
 * A real PDF (PDF 1.4, one content stream and a correct xref per page) whose pages have the
 * given sizes in points; each page is a red rectangle on white.
 */
export function makePdf(pages: ReadonlyArray<{ width: number; height: number }>): Buffer {
  const objects: string[] = [];
  const kids = pages.map((_, i) => `${3 + i * 2} 0 R`).join(' ');
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  objects.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  for (const [i, page] of pages.entries()) {
    const content = `1 0 0 rg 10 10 ${page.width - 20} ${page.height - 20} re f`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${page.width} ${page.height}] /Contents ${4 + i * 2} 0 R /Resources << >> >>`);
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  }
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(Buffer.byteLength(body));
    body += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body);
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

const printed = new Set<string>();

/** Why `tools` cannot run here (undefined when they can); printed once, for `describe.skipIf`. */
export function toolsMissing(...tools: string[]): string | undefined {
  const absent = tools.filter((tool) => spawnSync(tool, [tool.startsWith('pdf') ? '-v' : '-version'], { stdio: 'ignore' }).error);
  if (absent.length === 0) return undefined;
  const reason = `${absent.join(', ')} not installed (apt-get install poppler-utils ffmpeg)`;
  if (!printed.has(reason)) {
    printed.add(reason);
    console.warn(`[attache] skipping tests that need ${reason}`);
  }
  return reason;
}

/** A short MP4 made by ffmpeg: `seconds` of a 320×240 test pattern (and a sine tone with `audio`), optionally marked as turned by 90°. */
export async function makeVideo(options: { seconds?: number; audio?: boolean; rotate?: number } = {}): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'attache-video-'));
  const out = path.join(dir, 'clip.mp4');
  try {
    const seconds = String(options.seconds ?? 1);
    const audio = options.audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-c:a', 'aac'] : [];
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', ...audio, '-t', seconds, '-c:v', 'mpeg4', '-pix_fmt', 'yuv420p', '-y', out], { stdio: 'ignore' });
    if (options.rotate === undefined) return await readFile(out);
    // ffmpeg 5 writes the rotation (a display matrix) only when the stream is copied.
    const turned = path.join(dir, 'turned.mp4');
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', out, '-c', 'copy', '-metadata:s:v:0', `rotate=${options.rotate}`, '-y', turned], { stdio: 'ignore' });
    return await readFile(turned);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A short MP3 tone made by ffmpeg. */
export async function makeAudio(seconds = 1): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'attache-audio-'));
  const out = path.join(dir, 'tone.mp3');
  try {
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', String(seconds), '-y', out], { stdio: 'ignore' });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
