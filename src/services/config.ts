import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { ConfigurationError } from '../core/errors.ts';

/**
 * storage.yml as loaded: pure data, no services built and no variables interpolated yet.
 * Interpolation happens per service, on first use (see interpolate.ts and registry.ts).
 */
export interface LoadedConfig {
  /** The file read, or "(inline)" for programmatic config. */
  file: string;
  /** What `Rails.root` means: the parent of the `config/` folder holding the file. */
  appRoot: string;
  /** Service name → its raw block (always a mapping with a string `service:`). */
  services: Record<string, Record<string, unknown>>;
  /** Service name → setting path (`bucket`, `upload.cache_control`) → its line in the file, for messages. Absent for inline config. */
  lines?: Record<string, Record<string, number>>;
}

/** The storage.yml to load: `config/storage/<NODE_ENV>.yml` beside a `config/storage.yml` wins (Rails 6.1 rule). Throws ConfigurationError when neither exists. */
export function resolveConfigFile(configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const file = path.resolve(configFile ?? path.join('config', 'storage.yml'));
  const dir = path.dirname(file);
  if (path.basename(file) === 'storage.yml' && path.basename(dir) === 'config') {
    // Rails uses Rails.env, which defaults to development; NODE_ENV plays that part here.
    const environment = env.NODE_ENV || 'development';
    const perEnvironment = path.join(dir, 'storage', `${environment}.yml`);
    if (isFile(perEnvironment)) return perEnvironment;
  }
  if (!isFile(file)) throw new ConfigurationError(`Storage configuration file "${file}" not found.`);
  return file;
}

/** Reads and parses a storage.yml without interpolating anything. Throws ConfigurationError for unreadable files, bad YAML or malformed service blocks. */
export function loadConfig(file: string): LoadedConfig {
  const absolute = path.resolve(file);
  let source: string;
  try {
    source = readFileSync(absolute, 'utf8');
  } catch (cause) {
    throw new ConfigurationError(`Cannot read storage configuration file "${absolute}".`, { cause });
  }
  const { data, lines } = parseStorageYaml(source, absolute);
  return { ...buildConfig(data, absolute, appRootFor(absolute)), lines };
}

/** A LoadedConfig from services given in code (same validation as a file). Throws ConfigurationError for malformed blocks. */
export function configFromObject(services: Record<string, Record<string, unknown>>, appRoot: string = process.cwd()): LoadedConfig {
  return buildConfig(services, '(inline)', path.resolve(appRoot));
}

function appRootFor(file: string): string {
  const dir = path.dirname(file);
  if (path.basename(dir) === 'config') return path.dirname(dir);
  if (path.basename(dir) === 'storage' && path.basename(path.dirname(dir)) === 'config') {
    return path.dirname(path.dirname(dir));
  }
  return dir;
}

function buildConfig(data: unknown, file: string, appRoot: string): LoadedConfig {
  if (data === null || data === undefined) return { file, appRoot, services: {} };
  if (!isMapping(data)) {
    throw new ConfigurationError(`Storage configuration ${file} must be a mapping of service names to service blocks.`);
  }
  const entries: [string, Record<string, unknown>][] = [];
  for (const [name, block] of Object.entries(data)) {
    if (!isMapping(block)) {
      throw new ConfigurationError(`Service "${name}" in ${file} must be a mapping with a "service:" adapter name.`);
    }
    if (typeof block.service !== 'string' || block.service === '') {
      throw new ConfigurationError(`Service "${name}" in ${file} needs a "service:" setting naming its adapter (for example Disk or S3).`);
    }
    entries.push([name, { ...block }]);
  }
  // fromEntries defines properties, so a service named "__proto__" stays plain data.
  return { file, appRoot, services: Object.fromEntries(entries) };
}

// `<%= expr %>` output tags, `<%# %>` comments and `<% code %>` tags; `<%%` is ERB's literal escape.
const ERB_TAG = /<%(?!%)([=#-]?)([\s\S]*?)-?%>/g;
const CONTROL_FLOW = /^\s*(if|unless|else|elsif|end|case|when|while|until|for|begin)\b|\bdo\s*(\|[^|]*\|)?\s*$|^\s*\}\s*$/;

/**
 * Parses YAML holding Rails ERB. Output tags are swapped for YAML-safe placeholders before
 * parsing and put back after, so `[ <%= ... %> ]` or `"<%= ENV["X"] %>"` parse as Rails would;
 * they are evaluated later, per service. Other tags are stripped, except control flow,
 * which would silently merge branches. Returns the data and each setting's line.
 */
function parseStorageYaml(source: string, file: string): { data: unknown; lines: Record<string, Record<string, number>> } {
  const nonce = randomBytes(6).toString('hex');
  const tags: string[] = [];
  const prepared = source.replace(ERB_TAG, (tag, kind: string, code: string, offset: number) => {
    if (kind === '=') return `attache_erb_${nonce}_${tags.push(tag) - 1}_`;
    if (kind !== '#' && CONTROL_FLOW.test(code) && !inComment(source, offset)) {
      const line = source.slice(0, offset).split('\n').length;
      throw new ConfigurationError(
        `${file} line ${line} uses ERB control flow, which attache does not evaluate. ` +
          'Use config/storage/<NODE_ENV>.yml files or ENV variables instead.',
      );
    }
    return tag.replace(/[^\n]/g, ''); // keep the newlines so YAML line numbers still match the file
  });
  const placeholder = new RegExp(`attache_erb_${nonce}_(\\d+)_`, 'g');
  const fix = (text: string): string => text.replace(placeholder, (_, index: string) => tags[Number(index)] ?? '');
  const lineCounter = new LineCounter();
  // logLevel 'silent': the parser would otherwise print its warnings, source line (and secret) included, to stderr.
  const doc = parseDocument(prepared, { merge: true, logLevel: 'silent', prettyErrors: false, lineCounter });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    // Only the parser's code and position: its message quotes the source, which may hold secrets.
    const line = lineCounter.linePos(problem.pos[0]).line;
    const kind = doc.errors.length > 0 ? 'invalid YAML' : 'a YAML construct attache does not resolve (an unknown tag?)';
    throw new ConfigurationError(`Cannot parse storage configuration ${file}: line ${line} has ${kind} (${problem.code}).`);
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    throw new ConfigurationError(`Cannot parse storage configuration ${file} (${typeof code === 'string' ? code : 'invalid YAML'}).`);
  }
  return { data: restore(data, fix), lines: settingLines(doc.contents, lineCounter, fix) };
}

/** Service → setting path → line, from the document's top-level mapping (merged settings have no line of their own). */
function settingLines(root: YamlNode | null, counter: LineCounter, fix: (text: string) => string): Record<string, Record<string, number>> {
  const lines: Record<string, Record<string, number>> = {};
  if (!isMap(root)) return lines;
  for (const pair of root.items) {
    if (!isScalar(pair.key) || typeof pair.key.value !== 'string') continue;
    const found: Record<string, number> = {};
    collectLines(pair.value as YamlNode | null, '', counter, fix, found);
    define(lines, fix(pair.key.value), found);
  }
  return lines;
}

function collectLines(node: YamlNode | null, prefix: string, counter: LineCounter, fix: (text: string) => string, found: Record<string, number>): void {
  const entries: Array<[string, YamlNode | null, number | undefined]> = [];
  if (isMap(node)) {
    for (const pair of node.items) {
      if (isScalar(pair.key) && typeof pair.key.value === 'string') entries.push([fix(pair.key.value), pair.value as YamlNode | null, pair.key.range?.[0]]);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => entries.push([String(index), item as YamlNode | null, (item as YamlNode | null)?.range?.[0]]));
  }
  for (const [name, value, offset] of entries) {
    const path = `${prefix}${name}`;
    if (offset !== undefined) define(found, path, counter.linePos(offset).line);
    collectLines(value, `${path}.`, counter, fix, found);
  }
}

/** Sets an own property even for a name such as "__proto__". */
function define<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

function inComment(source: string, offset: number): boolean {
  const lineStart = source.lastIndexOf('\n', offset - 1) + 1;
  return /(^|\s)#/.test(source.slice(lineStart, offset));
}

function restore(value: unknown, fix: (text: string) => string): unknown {
  if (typeof value === 'string') return fix(value);
  if (Array.isArray(value)) return value.map((item) => restore(item, fix));
  if (isMapping(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [fix(key), restore(item, fix)]));
  }
  return value;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
