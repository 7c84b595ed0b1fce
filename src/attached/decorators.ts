import { ArgumentError, ConfigurationError } from '../core/errors.ts';
import { AttachedMany } from './AttachedMany.ts';
import { AttachedOne } from './AttachedOne.ts';
import type { Attached } from './Attached.ts';
import { defineAttachment, definitionsOf, type AttachmentDefinition, type AttachmentOptions } from './definitions.ts';

const ACCESSORS = new WeakMap<object, Map<string, Attached>>();

/** The accessor object of `record.name`, created once per record instance. */
export function accessorOf(record: object, definition: AttachmentDefinition): Attached {
  const accessors = ACCESSORS.get(record) ?? new Map<string, Attached>();
  ACCESSORS.set(record, accessors);
  let accessor = accessors.get(definition.name);
  if (!accessor) {
    accessor = definition.kind === 'one' ? new AttachedOne(record, definition) : new AttachedMany(record, definition);
    accessors.set(definition.name, accessor);
  }
  return accessor;
}

function attachmentDecorator(kind: 'one' | 'many', options: AttachmentOptions): PropertyDecorator {
  return (prototype, property) => {
    if (typeof property !== 'string') throw new ArgumentError('Attachment names must be strings.');
    const definition = defineAttachment(prototype.constructor, property, kind, options);
    Object.defineProperty(prototype, property, {
      configurable: true,
      enumerable: false,
      get(this: object) {
        return accessorOf(this, definition);
      },
      set(value: unknown) {
        // Field initializers under legacy semantics assign undefined; anything else is a mistake worth saying so.
        if (value !== undefined) throw new ArgumentError(`Use "await record.${property}.attach(file)" to attach; ${property} cannot be assigned.`);
      },
    });
  };
}

/**
 * Declares a single attachment: `@hasOneAttached() declare avatar: AttachedOne`.
 * Options: service, dependent ('purge_later' by default), maxByteSize, contentTypes.
 */
export function hasOneAttached<R = any>(options: AttachmentOptions<R> = {}): PropertyDecorator {
  return attachmentDecorator('one', options as AttachmentOptions);
}

/** Declares a collection of attachments: `@hasManyAttached() declare documents: AttachedMany`. */
export function hasManyAttached<R = any>(options: AttachmentOptions<R> = {}): PropertyDecorator {
  return attachmentDecorator('many', options as AttachmentOptions);
}

/**
 * Fails at boot, not at first use, when an entity declares an attachment as a class field that
 * hides its accessor: with define semantics (useDefineForClassFields, the default for ES2022+
 * targets, esbuild and swc), `avatar!: AttachedOne` makes every new record own an `avatar`
 * property set to undefined. `declare avatar: AttachedOne` emits no field. Throws ConfigurationError.
 */
export function assertAccessorsVisible(targets: readonly unknown[]): void {
  for (const target of targets) {
    if (typeof target !== 'function') continue;
    const definitions = definitionsOf(target);
    if (definitions.size === 0) continue;
    let probe: object;
    try {
      probe = Reflect.construct(target, []) as object;
    } catch {
      continue; // a constructor that needs arguments: records are then built by TypeORM without field initializers
    }
    for (const definition of definitions.values()) {
      if (!Object.hasOwn(probe, definition.name)) continue;
      const decorator = definition.kind === 'one' ? 'hasOneAttached' : 'hasManyAttached';
      const type = definition.kind === 'one' ? 'AttachedOne' : 'AttachedMany';
      throw new ConfigurationError(
        `${target.name}.${definition.name} is a class field, which hides the attachment: write ` +
          `\`@${decorator}() declare ${definition.name}: ${type};\` (or set useDefineForClassFields: false).`,
      );
    }
  }
}
