import { ArgumentError } from '../core/errors.ts';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `--older-than`'s value in seconds: `2d`, `12h`, `30m`, `45s`, `1w`, or a bare number of seconds. Throws ArgumentError. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw]?)$/.exec(text.trim());
  if (!match) throw new ArgumentError(`"${text}" is not a duration: use a number with s, m, h, d or w (for example 2d, 12h, 30m).`);
  return Math.round(Number(match[1]) * UNIT_SECONDS[match[2] || 's']!);
}
