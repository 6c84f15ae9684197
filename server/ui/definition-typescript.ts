import { formatDuration } from '../../core/duration.ts';
import type { ColumnSpec, DefinitionSpec } from '../../core/definitions/specs.ts';

/**
 * An applied definition written back as the TypeScript call that declares it (`featureView({ ... })`),
 * for the UI's definition panels. Written from the normalized spec the registry stores, so it shows
 * what was applied (defaults filled in, durations as text, entities and sources by name) rather than
 * the file's own text, which may have changed since. Pure.
 *
 * @example
 * definitionTypeScript(spec.featureViews.item_profile);
 * // "featureView({\n  name: 'item_profile',\n  entities: ['item'],\n  source: 'items',\n  features: { category: 'string', ... },\n ..."
 */
export function definitionTypeScript(spec: DefinitionSpec): string {
  const { kind, ...fields } = spec;
  return `${BUILDERS[kind]}(${literal(readable(kind, fields), 0)});\n`;
}

const BUILDERS: Readonly<Record<DefinitionSpec['kind'], string>> = {
  entity: 'entity',
  source: 'source',
  eventStream: 'eventStream',
  featureView: 'featureView',
  featureService: 'featureService',
  trainingSet: 'trainingSet',
  labels: 'labels',
  loop: 'loop',
  model: 'model',
};

/** Seconds as durations (`ttl: '1h'`), columns as `{ name: 'type' }`, empty tags left out. */
function readable(kind: DefinitionSpec['kind'], fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (key === 'tags' && typeof value === 'object' && value !== null && Object.keys(value).length === 0) continue;
    const seconds = /^(.*)Seconds$/.exec(key);
    if (seconds && typeof value === 'number') {
      out[seconds[1]!] = value === 0 ? '0s' : formatDuration(value, { weeks: false });
      continue;
    }
    if (seconds && value === null) {
      out[seconds[1]!] = null;
      continue;
    }
    if (COLUMN_LISTS.has(key) && isColumnList(value)) {
      out[key] = Object.fromEntries((value as ColumnSpec[]).map((column) => [column.name, column.description ? { type: column.type, description: column.description } : column.type]));
      continue;
    }
    out[key] = Array.isArray(value) ? value.map((item) => (isPlainObject(item) ? readable(kind, item) : item)) : isPlainObject(value) ? readable(kind, value) : value;
  }
  return out;
}

/** Fields that hold columns (`[{ name, type }]`) in some kinds; `keys` of a labels match are names, and stay a list. */
const COLUMN_LISTS = new Set(['features', 'joinKeys', 'columns', 'keys', 'aggregationInputs']);

function isColumnList(value: unknown): value is ColumnSpec[] {
  return Array.isArray(value) && value.length > 0 && value.every((item) => isPlainObject(item) && typeof item.name === 'string' && typeof item.type === 'string');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A TypeScript literal, two spaces per level; short objects and arrays of scalars on one line. */
function literal(value: unknown, depth: number): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n')}'`;
  if (typeof value !== 'object') return String(value);
  const pad = '  '.repeat(depth + 1);
  const end = '  '.repeat(depth);
  if (Array.isArray(value)) {
    const items = value.map((item) => literal(item, depth + 1));
    const inline = `[${items.join(', ')}]`;
    return inline.length <= 72 && !inline.includes('\n') ? inline : `[\n${items.map((item) => `${pad}${item},`).join('\n')}\n${end}]`;
  }
  const entries = Object.entries(value).map(([key, item]) => `${IDENTIFIER.test(key) ? key : literal(key, 0)}: ${literal(item, depth + 1)}`);
  const inline = `{ ${entries.join(', ')} }`;
  if (entries.length === 0) return '{}';
  return depth > 0 && inline.length <= 72 && !inline.includes('\n') ? inline : `{\n${entries.map((entry) => `${pad}${entry},`).join('\n')}\n${end}}`;
}
