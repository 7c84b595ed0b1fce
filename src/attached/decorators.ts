import { ArgumentError } from '../core/errors.ts';
import { AttachedMany } from './AttachedMany.ts';
import { AttachedOne } from './AttachedOne.ts';
import type { Attached } from './Attached.ts';
import { defineAttachment, type AttachmentDefinition, type AttachmentOptions } from './definitions.ts';

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
        // Field initializers assign undefined; anything else is a mistake worth saying so.
        if (value !== undefined) throw new ArgumentError(`Use "await record.${property}.attach(file)" to attach; ${property} cannot be assigned.`);
      },
    });
  };
}

/**
 * Declares a single attachment: `@hasOneAttached() avatar!: AttachedOne`.
 * Options: service, dependent ('purge_later' by default), maxByteSize, contentTypes.
 */
export function hasOneAttached<R = any>(options: AttachmentOptions<R> = {}): PropertyDecorator {
  return attachmentDecorator('one', options as AttachmentOptions);
}

/** Declares a collection of attachments: `@hasManyAttached() documents!: AttachedMany`. */
export function hasManyAttached<R = any>(options: AttachmentOptions<R> = {}): PropertyDecorator {
  return attachmentDecorator('many', options as AttachmentOptions);
}
