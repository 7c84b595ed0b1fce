import type { ValueTransformer } from 'typeorm';

/** Rails keeps blob metadata as JSON inside a text column; this maps it to an object and back. */
export const jsonText: ValueTransformer = {
  to(value: Record<string, unknown> | undefined | null): string | null {
    return value == null ? null : JSON.stringify(value);
  },
  from(value: string | null): Record<string, unknown> {
    if (value == null || value === '') return {};
    try {
      const parsed: unknown = JSON.parse(value);
      return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  },
};

/** bigint columns come back from pg as strings; byte sizes fit a JS number. */
export const bigintNumber: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | number | null) => (value == null ? value : Number(value)),
};

/**
 * Rails writes created_at as UTC wall time into `timestamp without time zone`, while pg writes and
 * reads such columns in the process's local time. Shifting by the zone offset both ways stores UTC.
 */
export const utcTimestamp: ValueTransformer = {
  to: (value: Date | undefined) => (value instanceof Date ? new Date(value.getTime() + value.getTimezoneOffset() * 60_000) : value),
  from: (value: Date | string | null) => {
    if (value == null) return value;
    if (typeof value === 'string') return new Date(`${value.replace(' ', 'T')}Z`);
    return new Date(value.getTime() - value.getTimezoneOffset() * 60_000);
  },
};
