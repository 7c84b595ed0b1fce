import type { AttachInput } from './input.ts';
import type { AttachOptions } from './prepare.ts';

/** Attach calls made on a record that has no id yet; they run when the record is inserted. */
export interface StagedChange {
  name: string;
  inputs: AttachInput[];
  options: AttachOptions;
}

const STAGED = new WeakMap<object, Map<string, StagedChange>>();

/** Stages inputs for `record.name`; a has-one replaces what was staged, a has-many appends. */
export function stage(record: object, name: string, inputs: AttachInput[], replace: boolean, options: AttachOptions = {}): void {
  const changes = STAGED.get(record) ?? new Map<string, StagedChange>();
  const previous = replace ? [] : (changes.get(name)?.inputs ?? []);
  changes.set(name, { name, inputs: [...previous, ...inputs], options: { ...changes.get(name)?.options, ...options } });
  STAGED.set(record, changes);
}

/** The staged change of `record.name`, if any. */
export function stagedChange(record: object, name: string): StagedChange | undefined {
  return STAGED.get(record)?.get(name);
}

/** Takes (and clears) every staged change of the record. */
export function takeStaged(record: object): StagedChange[] {
  const changes = STAGED.get(record);
  STAGED.delete(record);
  return changes ? [...changes.values()] : [];
}
