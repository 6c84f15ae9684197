import type { ValueType } from '../types.ts';
import { makeDefinition, type Definition } from './definition.ts';

export interface EntityInput {
  name: string;
  /** Join key columns and their types, for example `{ user_id: 'int64' }`. Order is kept. */
  joinKeys: Record<string, ValueType>;
  description?: string;
}

export type EntityDefinition = Definition<'entity', EntityInput>;

/**
 * An entity is what features describe (a user, a merchant, a card).
 *
 * @example
 * export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
 */
export function entity(input: EntityInput): EntityDefinition {
  return makeDefinition('entity', input.name, input);
}
