/**
 * The value types Flywheel knows. One schema holds from the log API through the warehouse and the
 * training set to the online store, so every layer maps from these (see core/sql/dialect.ts).
 */
export const VALUE_TYPES = ['int32', 'int64', 'float32', 'float64', 'string', 'bool', 'timestamp', 'date'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

export function isValueType(value: unknown): value is ValueType {
  return typeof value === 'string' && (VALUE_TYPES as readonly string[]).includes(value);
}

/**
 * Whether a column of type `actual` can be read where `declared` is expected without losing
 * meaning (an int32 column may feed an int64 feature, not the reverse).
 */
export function isAssignable(actual: ValueType, declared: ValueType): boolean {
  if (actual === declared) return true;
  const widening: Partial<Record<ValueType, readonly ValueType[]>> = {
    int64: ['int32'],
    float64: ['float32', 'int32', 'int64'],
    float32: ['int32'],
    timestamp: ['date'],
  };
  return widening[declared]?.includes(actual) ?? false;
}
