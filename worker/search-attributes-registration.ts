import type { Connection } from '@temporalio/client';
import { SearchAttributeType, type defineSearchAttributeKey } from '@temporalio/common';
import { FlywheelError } from '../core/errors.ts';

/**
 * The API's enum number for each type (temporal.api.enums.v1.IndexedValueType), spelled out so that
 * a new type does not compile until it is mapped.
 */
type AnySearchAttributeKey = ReturnType<typeof defineSearchAttributeKey<SearchAttributeType>>;

export const INDEXED_VALUE_TYPES: Record<SearchAttributeType, number> = {
  [SearchAttributeType.TEXT]: 1,
  [SearchAttributeType.KEYWORD]: 2,
  [SearchAttributeType.INT]: 3,
  [SearchAttributeType.DOUBLE]: 4,
  [SearchAttributeType.BOOL]: 5,
  [SearchAttributeType.DATETIME]: 6,
  [SearchAttributeType.KEYWORD_LIST]: 7,
};

/**
 * Registers those of `keys` that `namespace` does not have yet, so workflows and schedules that set
 * them can start. Needs the operator API; where the connection may not use it (some Temporal Cloud
 * keys), the error says what to register by hand.
 */
export async function registerSearchAttributes(connection: Connection, namespace: string, keys: readonly AnySearchAttributeKey[]): Promise<string[]> {
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = keys.filter((key) => !(key.name in (customAttributes ?? {})));
    if (missing.length === 0) return [];
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_VALUE_TYPES[key.type]])),
    });
    return missing.map((key) => key.name);
  } catch (cause) {
    const wanted = keys.map((key) => `${key.name} (${key.type})`).join(', ');
    throw new FlywheelError(`Cannot register Flywheel's search attributes in namespace "${namespace}": ${(cause as Error).message}. Register them once by hand (for example \`temporal operator search-attribute create\`): ${wanted}`, { cause });
  }
}
