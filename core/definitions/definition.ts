import type { DefinitionKind } from './specs.ts';

/** Marks objects made by the builders so the loader can pick them out of a module's exports. */
export const DEFINITION_MARK = Symbol.for('flywheel.definition');

/**
 * What a builder returns: the user's input, with references to other definitions turned into names.
 * Nothing is checked here; validateProject checks everything at once and names file, object and field.
 */
export interface Definition<K extends DefinitionKind = DefinitionKind, I = unknown> {
  readonly [DEFINITION_MARK]: true;
  readonly kind: K;
  readonly name: string;
  readonly input: I;
}

export function makeDefinition<K extends DefinitionKind, I>(kind: K, name: string, input: I): Definition<K, I> {
  return { [DEFINITION_MARK]: true, kind, name, input };
}

export function isDefinition(value: unknown): value is Definition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DEFINITION_MARK] === true;
}

/** A reference to another definition: the object itself (typed) or its name. */
export type Ref<D extends Definition> = D | string;

/**
 * The name a reference stands for. A definition whose own name is not a string (a mistake reported on
 * it) is kept as the object, so validation sees that the reference's problem is that definition's and
 * does not report it twice.
 */
export function refName(ref: Ref<Definition> | undefined): string | undefined {
  if (ref === undefined) return undefined;
  if (typeof ref === 'string') return ref;
  return typeof ref.name === 'string' ? ref.name : (ref as unknown as string);
}
