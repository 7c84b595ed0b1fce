import path from 'node:path';
import { ConfigurationError } from '../core/errors.ts';

export interface InterpolationOptions {
  /** Where variables come from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** What `Rails.root` stands for. */
  appRoot: string;
  /** Setting path → line in the file (LoadedConfig.lines), so errors can point at the line. */
  lines?: Readonly<Record<string, number>>;
}

/** The interpolated block, and which settings were left out because their `ENV['X']` is unset (path → variable). */
export interface Interpolated {
  settings: Record<string, unknown>;
  unset: ReadonlyMap<string, string>;
}

interface Context {
  service: string;
  env: NodeJS.ProcessEnv;
  appRoot: string;
  lines: Readonly<Record<string, number>>;
  unset: Map<string, string>;
  /** The setting being interpolated, as a dotted path (`upload.cache_control`, `mirrors.0`). */
  path: string;
}

/** What an unset `ENV['X']` evaluates to (Rails' nil); walk() drops the setting and remembers the variable. */
class Absent {
  constructor(readonly variable: string) {}
}

// `${VAR}`, `${VAR:-default}` or an ERB output tag `<%= expr %>`.
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|<%=([\s\S]*?)-?%>/g;
const STR = String.raw`(?:'[^']*'|"[^"]*")`;
const ENV_INDEX = new RegExp(String.raw`^ENV\s*\[\s*(${STR})\s*\]$`);
const ENV_FETCH = new RegExp(
  String.raw`^ENV\.fetch\s*\(\s*(${STR})\s*(?:,\s*(${STR})\s*)?\)(?:\s*\{\s*(${STR})\s*\})?$`,
);
// ActiveSupport's numeric helpers as storage.yml uses them: `<%= 1.day.to_i %>` (the Rails guide's cache_control), `<%= 100.megabytes %>`.
const NUMERIC = /^(\d{1,12})\.(seconds?|minutes?|hours?|days?|weeks?|bytes?|kilobytes?|megabytes?|gigabytes?)(?:\.to_i)?$/;
const UNITS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86_400, week: 604_800, byte: 1, kilobyte: 1024, megabyte: 1024 ** 2, gigabyte: 1024 ** 3 };
const ROOT_JOIN = new RegExp(String.raw`^Rails\.root(?:\.join\s*\(\s*(${STR}(?:\s*,\s*${STR})*)?\s*\))?$`);

/**
 * The service block with every `${VAR}`, `${VAR:-default}` and supported `<%= %>` tag replaced,
 * in strings at any depth. Throws ConfigurationError naming the variable (never its value) and
 * the service for an unset required variable or an unsupported ERB expression.
 *
 * Unset variables follow Ruby: `ENV['X']` yields nil, so a setting that is only that tag is
 * dropped (and inside a longer string it becomes ""), while `ENV.fetch('X')` raises in Rails
 * and `${X}` has no Rails meaning to mimic, so both are errors here.
 */
export function interpolateService(
  serviceName: string,
  block: Record<string, unknown>,
  options: InterpolationOptions,
): Record<string, unknown> {
  return interpolateDetailed(serviceName, block, options).settings;
}

/** interpolateService, also reporting the settings dropped as Rails' nil (so a later "missing setting" can name the variable). */
export function interpolateDetailed(serviceName: string, block: Record<string, unknown>, options: InterpolationOptions): Interpolated {
  const unset = new Map<string, string>();
  const context: Context = { service: serviceName, env: options.env ?? process.env, appRoot: options.appRoot, lines: options.lines ?? {}, unset, path: '' };
  const result = walk(block, context);
  return { settings: isMapping(result) ? result : {}, unset };
}

function walk(value: unknown, context: Context): unknown {
  if (typeof value === 'string') return interpolateString(value, context);
  const at = (name: string): Context => ({ ...context, path: context.path === '' ? name : `${context.path}.${name}` });
  if (Array.isArray(value)) {
    return value.map((item, index) => dropped(walk(item, at(String(index))), at(String(index)))).filter((item) => item !== DROPPED);
  }
  if (isMapping(value)) {
    const entries = Object.entries(value).map(([key, item]) => [key, dropped(walk(item, at(key)), at(key))] as const);
    return Object.fromEntries(entries.filter(([, item]) => item !== DROPPED));
  }
  return value;
}

const DROPPED: unique symbol = Symbol('dropped');

/** Rails' nil (a value that was only an unset `ENV['X']`): the key or list item is dropped, and remembered. */
function dropped(value: unknown, context: Context): unknown {
  if (!(value instanceof Absent)) return value;
  context.unset.set(context.path, value.variable);
  return DROPPED;
}

function interpolateString(text: string, context: Context): unknown {
  const matches = [...text.matchAll(PLACEHOLDER)];
  const only = matches[0];
  if (only === undefined) return text;
  if (matches.length === 1 && only[0] === text.trim()) {
    // Rails runs ERB before YAML, so a scalar that was one tag gets YAML's typing of the result.
    const value = evaluate(only[1], only[2], only[3], context);
    return value instanceof Absent ? value : typed(value);
  }
  // One pass: substituted values are never scanned again, so a value holding `${...}` stays literal.
  return text.replace(PLACEHOLDER, (_tag, variable?: string, fallback?: string, expression?: string) => {
    const value = evaluate(variable, fallback, expression, context);
    return value instanceof Absent ? '' : value;
  });
}

function evaluate(
  variable: string | undefined,
  fallback: string | undefined,
  expression: string | undefined,
  context: Context,
): string | Absent {
  if (variable !== undefined) {
    const value = context.env[variable];
    if (fallback !== undefined && (value === undefined || value === '')) return fallback;
    if (value === undefined) throw unsetVariable(variable, context);
    return value;
  }
  return evaluateErb((expression ?? '').trim(), context);
}

function evaluateErb(expression: string, context: Context): string | Absent {
  const index = ENV_INDEX.exec(expression);
  if (index) {
    const variable = unquote(index[1], context);
    return context.env[variable] ?? new Absent(variable);
  }

  const fetch = ENV_FETCH.exec(expression);
  if (fetch) {
    const variable = unquote(fetch[1], context);
    const value = context.env[variable];
    if (value !== undefined) return value;
    const fallback = fetch[2] ?? fetch[3];
    if (fallback !== undefined) return unquote(fallback, context);
    throw unsetVariable(variable, context);
  }

  const numeric = NUMERIC.exec(expression);
  if (numeric) return String(Number(numeric[1]) * (UNITS[numeric[2]!.replace(/s$/, '')] ?? Number.NaN));

  // Rails.env is the environment's name; in Node that is NODE_ENV (development when unset, as Rails).
  if (/^Rails\.env(\.to_s)?$/.test(expression)) return context.env['NODE_ENV'] || 'development';

  const root = ROOT_JOIN.exec(expression);
  if (root) {
    const parts = [...(root[1] ?? '').matchAll(new RegExp(STR, 'g'))].map((m) => unquote(m[0], context));
    return path.join(context.appRoot, ...parts);
  }
  throw unsupported(context);
}

/** The contents of a Ruby string literal; double quotes with `#{}` or escapes are code we do not run. */
function unquote(literal: string | undefined, context: Context): string {
  if (literal === undefined) throw unsupported(context);
  const body = literal.slice(1, -1);
  if (literal.startsWith('"') && /#\{|\\/.test(body)) throw unsupported(context);
  return body;
}

function unsetVariable(variable: string, context: Context): ConfigurationError {
  return ConfigurationError.unsetVariable(context.service, variable, context.path || undefined);
}

/** Names the service, the setting and its line, never the expression: its text may hold a secret. */
function unsupported(context: Context): ConfigurationError {
  const line = context.lines[context.path];
  const where = `${context.path ? ` setting "${context.path}"` : ''}${line === undefined ? '' : ` (line ${line})`}`;
  return new ConfigurationError(
    `Service "${context.service}"${where} uses an ERB expression that attache does not support. ` +
      `Use ENV['VAR'], ENV.fetch('VAR'), \${VAR} or Rails.root.join(...) instead.`,
    { setting: context.path || undefined },
  );
}

function typed(value: string): unknown {
  if (/^[-+]?(0|[1-9]\d*)$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(value)) return Number(value);
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return value;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
