import { ArgumentError } from '../core/errors.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import type { StorageService } from '../services/Service.ts';
import { validateNamedVariant, type NamedVariant, type Transformations } from '../representations/transformations.ts';

export type Dependent = 'purge' | 'purge_later' | false;

export interface AttachmentOptions<R = any> {
  /** The storage.yml service for this attachment, or a function of the record. Default: the default service. */
  service?: string | ((record: R) => string);
  /** What happens to blobs when the record is removed or the attachment replaced. Default 'purge_later'. */
  dependent?: Dependent;
  /** Largest accepted file, in bytes. */
  maxByteSize?: number;
  /** Accepted content types (exact `type/subtype`, or `type/*`). */
  contentTypes?: readonly string[];
  /** Named variants: `{ thumb: { resizeToLimit: [100, 100] }, card: { resizeToFill: [400, 300], preprocessed: true } }`; checked against the allowlist when the class is declared. */
  variants?: Readonly<Record<string, NamedVariant>>;
}

/** A named variant as declared: its checked transformations, and whether it is made right after attach. */
export interface DeclaredVariant {
  readonly transformations: Transformations;
  readonly preprocessed: boolean;
}

export interface AttachmentDefinition extends AttachmentOptions<object> {
  readonly name: string;
  readonly kind: 'one' | 'many';
  readonly dependent: Dependent;
  readonly target: Function;
  readonly namedVariants: ReadonlyMap<string, DeclaredVariant>;
}

const DEFINITIONS = new Map<Function, Map<string, AttachmentDefinition>>();

/** Records a definition; fails at class declaration for a bad option, as MikroORM does. */
export function defineAttachment(target: Function, name: string, kind: 'one' | 'many', options: AttachmentOptions<object>): AttachmentDefinition {
  const dependent = options.dependent ?? 'purge_later';
  if (dependent !== 'purge' && dependent !== 'purge_later' && dependent !== false) {
    throw new ArgumentError(`${target.name}.${name}: dependent must be 'purge', 'purge_later' or false.`);
  }
  if (options.maxByteSize !== undefined && !(Number.isSafeInteger(options.maxByteSize) && options.maxByteSize >= 0)) {
    throw new ArgumentError(`${target.name}.${name}: maxByteSize must be a non-negative integer.`);
  }
  const definition: AttachmentDefinition = { ...options, name, kind, dependent, target, namedVariants: declaredVariants(target, name, options.variants) };
  const own = DEFINITIONS.get(target) ?? new Map<string, AttachmentDefinition>();
  own.set(name, definition);
  DEFINITIONS.set(target, own);
  return definition;
}

function declaredVariants(target: Function, name: string, variants: unknown): ReadonlyMap<string, DeclaredVariant> {
  if (variants === undefined) return new Map();
  if (variants === null || typeof variants !== 'object' || Array.isArray(variants)) throw new ArgumentError(`${target.name}.${name}: variants must be an object of named variants.`);
  return new Map(Object.entries(variants).map(([variant, declared]) => [variant, validateNamedVariant(declared, `${target.name}.${name} variant "${variant}"`)]));
}

/** The named variant `variant` of a definition. Throws ArgumentError naming the declared ones. */
export function namedVariant(definition: AttachmentDefinition, variant: string): DeclaredVariant {
  const found = definition.namedVariants.get(variant);
  if (!found) {
    const known = [...definition.namedVariants.keys()].join(', ') || '(none)';
    throw new ArgumentError(`${definition.target.name}.${definition.name} has no variant "${variant}". Declared: ${known}.`);
  }
  return found;
}

/** Every attachment declared on the class or its ancestors, by name. */
export function definitionsOf(target: Function): Map<string, AttachmentDefinition> {
  const result = new Map<string, AttachmentDefinition>();
  const chain: Function[] = [];
  for (let c: unknown = target; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) chain.unshift(c as Function);
  for (const c of chain) for (const [name, def] of DEFINITIONS.get(c) ?? []) result.set(name, def);
  return result;
}

/** The definition of `Record#name`, or an ArgumentError naming the known attachments. */
export function definitionOf(target: Function, name: string): AttachmentDefinition {
  const definition = definitionsOf(target).get(name);
  if (!definition) {
    const known = [...definitionsOf(target).keys()].join(', ') || '(none)';
    throw new ArgumentError(`${target.name} has no attachment "${name}". Known: ${known}.`);
  }
  return definition;
}

/** Whether a content type is allowed by a definition's `contentTypes`. */
export function contentTypeAllowed(definition: AttachmentOptions, contentType: string): boolean {
  const allowed = definition.contentTypes;
  if (!allowed || allowed.length === 0) return true;
  return allowed.some((pattern) => (pattern.endsWith('/*') ? contentType.startsWith(pattern.slice(0, -1)) : pattern === contentType));
}

/** The service new files of this attachment go to: its `service` option (a name or a function of the record), or the default. */
export function serviceFor(rt: AttacheRuntime, definition: AttachmentDefinition, record: object): StorageService {
  const { service } = definition;
  return rt.service(typeof service === 'function' ? service(record) : service);
}
