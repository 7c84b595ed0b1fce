import { ProcessingError } from '../core/errors.ts';
import { mediaTypeOf, type Analyzer, type ProcessingContext } from './analyzer.ts';

/**
 * The demuxers ffprobe and ffmpeg may use on user files (Rails' ffmpeg_allowed_formats): no HLS,
 * concat or image-sequence demuxers, which can be made to read other files or URLs.
 */
export const FFMPEG_FORMATS = 'mov,matroska,avi,mpeg,mpegts,flv,asf,ogg,mp3,wav,flac,aac,aiff,caf';

/** The arguments that open `file` in ffprobe/ffmpeg: allowed demuxers only, the file protocol only. */
export function ffmpegInput(file: string): string[] {
  return ['-format_whitelist', FFMPEG_FORMATS, '-protocol_whitelist', 'file', '-i', `file:${file}`];
}

interface Probe {
  streams?: Array<Record<string, unknown>>;
  format?: Record<string, unknown>;
}

async function probe(file: string, context: ProcessingContext): Promise<Probe> {
  const { stdout } = await context.tools.run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', ...ffmpegInput(file)], { maxOutput: 4 * 1024 * 1024 });
  try {
    const parsed: unknown = JSON.parse(stdout.toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Probe) : {};
  } catch (error) {
    throw new ProcessingError('tool_failed', 'ffprobe answered with something other than JSON.', { cause: error });
  }
}

function stream(result: Probe, type: 'video' | 'audio'): Record<string, unknown> | undefined {
  return result.streams?.find((s) => s['codec_type'] === type);
}

function number(value: unknown): number | undefined {
  const n = typeof value === 'string' || typeof value === 'number' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** The video's rotation: a `rotate` tag (older muxers) or the display matrix side data (Rails 7.1). */
function angleOf(video: Record<string, unknown>): number | undefined {
  const tags = video['tags'] as Record<string, unknown> | undefined;
  const sideData = video['side_data_list'] as Array<Record<string, unknown>> | undefined;
  const angle = number(tags?.['rotate']) ?? number(sideData?.[0]?.['rotation']);
  return angle === undefined ? undefined : Math.trunc(angle);
}

function aspectRatio(video: Record<string, unknown>): [number, number] | undefined {
  const descriptor = video['display_aspect_ratio'];
  if (typeof descriptor !== 'string') return undefined;
  const [numerator, denominator] = descriptor.split(':', 2).map((term) => Number.parseInt(term, 10));
  return numerator && denominator ? [numerator, denominator] : undefined;
}

/**
 * Rails 7.1's VideoAnalyzer through ffprobe: width and height as displayed (the display aspect
 * ratio applied; swapped when the video is turned by 90 or 270 degrees), duration in seconds,
 * angle, display_aspect_ratio, and whether there are audio and video streams.
 */
export const videoAnalyzer: Analyzer = {
  name: 'video',
  accept: (blob) => mediaTypeOf(blob).startsWith('video/'),
  async metadata(file, _blob, context) {
    const result = await probe(file, context);
    const video = stream(result, 'video') ?? {};
    const encodedWidth = number(video['width']);
    const encodedHeight = number(video['height']);
    const angle = angleOf(video);
    const ratio = aspectRatio(video);
    const computedHeight = encodedWidth !== undefined && ratio ? (encodedWidth * ratio[1]) / ratio[0] : undefined;
    const rotated = angle !== undefined && [90, 270, -90, -270].includes(angle);
    const metadata = {
      width: rotated ? (computedHeight ?? encodedHeight) : encodedWidth,
      height: rotated ? encodedWidth : (computedHeight ?? encodedHeight),
      duration: number(video['duration']) ?? number(result.format?.['duration']),
      angle,
      display_aspect_ratio: ratio,
      audio: stream(result, 'audio') !== undefined,
      video: stream(result, 'video') !== undefined,
    };
    return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined));
  },
};

/** Rails 7.1's AudioAnalyzer through ffprobe: duration (seconds), bit_rate (bits/s) and sample_rate (Hz). */
export const audioAnalyzer: Analyzer = {
  name: 'audio',
  accept: (blob) => mediaTypeOf(blob).startsWith('audio/'),
  async metadata(file, _blob, context) {
    const audio = stream(await probe(file, context), 'audio') ?? {};
    const metadata = { duration: number(audio['duration']), bit_rate: integer(audio['bit_rate']), sample_rate: integer(audio['sample_rate']) };
    return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined));
  },
};

function integer(value: unknown): number | undefined {
  const n = number(value);
  return n === undefined ? undefined : Math.trunc(n);
}
