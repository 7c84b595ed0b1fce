import path from 'node:path';
import { ConfigurationError } from '../core/errors.ts';

export interface InterpolationOptions {
  /** Where variables come from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** What `Rails.root` stands for. */
  appRoot: string;
}

interface Context {
  service: string;
  env: NodeJS.ProcessEnv;
  appRoot: string;
}

/** Marks a setting whose value is Rails' nil: the key (or list item) is dropped. */
const ABSENT: unique symbol = Symbol('absent');

// `${VAR}`, `${VAR:-default}` or an ERB output tag `<%= expr %>`.
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|<%=([\s\S]*?)-?%>/g;
const STR = String.raw`(?:'[^']*'|"[^"]*")`;
const ENV_INDEX = new RegExp(String.raw`^ENV\s*\[\s*(${STR})\s*\]$`);
const ENV_FETCH = new RegExp(
  String.raw`^ENV\.fetch\s*\(\s*(${STR})\s*(?:,\s*(${STR})\s*)?\)(?:\s*\{\s*(${STR})\s*\})?$`,
);
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
  const context: Context = { service: serviceName, env: options.env ?? process.env, appRoot: options.appRoot };
  const result = walk(block, context);
  return isMapping(result) ? result : {};
}

function walk(value: unknown, context: Context): unknown {
  if (typeof value === 'string') return interpolateString(value, context);
  if (Array.isArray(value)) {
    return value.map((item) => walk(item, context)).filter((item) => item !== ABSENT);
  }
  if (isMapping(value)) {
    const entries = Object.entries(value).map(([key, item]) => [key, walk(item, context)] as const);
    return Object.fromEntries(entries.filter(([, item]) => item !== ABSENT));
  }
  return value;
}

function interpolateString(text: string, context: Context): unknown {
  const matches = [...text.matchAll(PLACEHOLDER)];
  const only = matches[0];
  if (only === undefined) return text;
  if (matches.length === 1 && only[0] === text.trim()) {
    // Rails runs ERB before YAML, so a scalar that was one tag gets YAML's typing of the result.
    const value = evaluate(only[1], only[2], only[3], context);
    return value === ABSENT ? ABSENT : typed(value);
  }
  // One pass: substituted values are never scanned again, so a value holding `${...}` stays literal.
  return text.replace(PLACEHOLDER, (_tag, variable?: string, fallback?: string, expression?: string) => {
    const value = evaluate(variable, fallback, expression, context);
    return value === ABSENT ? '' : value;
  });
}

function evaluate(
  variable: string | undefined,
  fallback: string | undefined,
  expression: string | undefined,
  context: Context,
): string | typeof ABSENT {
  if (variable !== undefined) {
    const value = context.env[variable];
    if (fallback !== undefined && (value === undefined || value === '')) return fallback;
    if (value === undefined) throw ConfigurationError.unsetVariable(context.service, variable);
    return value;
  }
  return evaluateErb((expression ?? '').trim(), context);
}

function evaluateErb(expression: string, context: Context): string | typeof ABSENT {
  const index = ENV_INDEX.exec(expression);
  if (index) return context.env[unquote(index[1], expression, context)] ?? ABSENT;

  const fetch = ENV_FETCH.exec(expression);
  if (fetch) {
    const variable = unquote(fetch[1], expression, context);
    const value = context.env[variable];
    if (value !== undefined) return value;
    const fallback = fetch[2] ?? fetch[3];
    if (fallback !== undefined) return unquote(fallback, expression, context);
    throw ConfigurationError.unsetVariable(context.service, variable);
  }

  // Rails.env is the environment's name; in Node that is NODE_ENV (development when unset, as Rails).
  if (/^Rails\.env(\.to_s)?$/.test(expression)) return context.env['NODE_ENV'] || 'development';

  const root = ROOT_JOIN.exec(expression);
  if (root) {
    const parts = [...(root[1] ?? '').matchAll(new RegExp(STR, 'g'))].map((m) => unquote(m[0], expression, context));
    return path.join(context.appRoot, ...parts);
  }
  throw unsupported(expression, context);
}

/** The contents of a Ruby string literal; double quotes with `#{}` or escapes are code we do not run. */
function unquote(literal: string | undefined, expression: string, context: Context): string {
  if (literal === undefined) throw unsupported(expression, context);
  const body = literal.slice(1, -1);
  if (literal.startsWith('"') && /#\{|\\/.test(body)) throw unsupported(expression, context);
  return body;
}

function unsupported(expression: string, context: Context): ConfigurationError {
  const shown = expression.length > 80 ? `${expression.slice(0, 77)}...` : expression;
  return new ConfigurationError(
    `Service "${context.service}" uses the ERB expression <%= ${shown} %>, which attache does not support. ` +
      `Use ENV['VAR'], ENV.fetch('VAR'), \${VAR} or Rails.root.join(...) instead.`,
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
