import { identifierProblem } from '../../core/identifiers.ts';
import { isAssignable, type ValueType } from '../../core/types.ts';
import { InitError } from './init-error.ts';

/**
 * What `flywheel init` proposes from the data a user points at: one source per file or glob, an
 * entity from the key-like columns, a feature view per source that holds the entity's key, a
 * feature service over them and a training set. Pure: the columns come from DuckDB
 * (describe-data.ts), the files are written by render-project.ts. Every choice carries its reason,
 * which init prints.
 */

/** A column as DuckDB describes it, with the Flywheel type it maps to (undefined: none). */
export interface DataColumn {
  readonly name: string;
  readonly engineType: string;
  readonly type: ValueType | undefined;
}

/** Where a proposed source reads its rows: Parquet files in place, or a table in the local warehouse. */
export type DataLocation =
  | { readonly kind: 'parquet'; /** Relative to the project folder. */ readonly path: string }
  | { readonly kind: 'table'; readonly table: string; /** The CSV file or glob init loaded it from (relative to the project). */ readonly loadedFrom?: string };

/** One file, glob or table the user's data is in, as described. */
export interface DataRelation {
  /** What the user pointed at (a file or glob as given, or a table), for messages. */
  readonly label: string;
  /** The source's name (an identifier, unique among the relations). */
  readonly sourceName: string;
  readonly location: DataLocation;
  readonly columns: readonly DataColumn[];
  /** For each key-like column: whether some value occurs on more than one row. */
  readonly repeatedKeys: Readonly<Record<string, boolean>>;
}

export interface ProposedSource {
  readonly name: string;
  readonly label: string;
  readonly location: DataLocation;
  readonly timestampField: string;
  readonly columns: readonly { readonly name: string; readonly type: ValueType }[];
}

export interface ProposedFeatureView {
  readonly name: string;
  readonly source: string;
  readonly features: readonly { readonly name: string; readonly type: ValueType }[];
}

export interface ProjectProposal {
  readonly entity: { readonly name: string; readonly key: string; readonly type: ValueType };
  readonly sources: readonly ProposedSource[];
  readonly featureViews: readonly ProposedFeatureView[];
  readonly service: { readonly name: string };
  /** Its spine is a second source over the first view's data with only the key and the timestamp (spine columns and feature names must differ). */
  readonly trainingSet: { readonly name: string; readonly spine: ProposedSource };
  /** Why each choice was made, one line each, in the order init prints them. */
  readonly reasons: readonly string[];
  /** Columns left out, and why. */
  readonly leftOut: readonly string[];
}

const KEY_TYPES: readonly ValueType[] = ['int32', 'int64', 'string'];
const FEATURE_TYPES: readonly ValueType[] = ['int32', 'int64', 'float32', 'float64', 'string', 'bool'];

/** `id` or `*_id`, of an integer or string type: a column that may identify an entity. */
export function isKeyLike(column: DataColumn): boolean {
  const name = column.name.toLowerCase();
  return (name === 'id' || name.endsWith('_id')) && column.type !== undefined && KEY_TYPES.includes(column.type);
}

/** The event-time column: the first TIMESTAMP or TIMESTAMPTZ column (a DATE is a day, not an instant). */
export function timestampColumn(columns: readonly DataColumn[]): DataColumn | undefined {
  return columns.find((c) => c.type === 'timestamp');
}

/** An identifier made from any text: lower case, other characters as `_`, never starting with a digit. */
export function toIdentifier(text: string, fallback: string): string {
  const cleaned = text.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_+|_+$/g, '');
  const name = cleaned === '' ? fallback : /^[0-9]/.test(cleaned) ? `${fallback}_${cleaned}` : cleaned;
  return name.slice(0, 48);
}

export interface ProposeOptions {
  /** The entity's key column (`--entity`), instead of the ranked choice. */
  readonly entityKey?: string;
  /** The event-time column (`--timestamp`) in the files that have it, instead of their first timestamp column. */
  readonly timestampField?: string;
}

export function proposeProject(given: readonly DataRelation[], options: ProposeOptions = {}): ProjectProposal {
  if (given.length === 0) throw new InitError('--from', 'no data to propose a project from');
  const wantedTime = options.timestampField;
  if (wantedTime !== undefined && !given.some((r) => r.columns.some((c) => c.name === wantedTime))) {
    throw new InitError('--timestamp', `no file has a column "${wantedTime}"`);
  }
  const reasons: string[] = [];
  const leftOut: string[] = [];

  // Names go into SQL and TypeScript unquoted: a column whose name is not an identifier is left out.
  const relations = given.map((relation): DataRelation => {
    const named = relation.columns.filter((c) => identifierProblem(c.name) === undefined);
    for (const column of relation.columns) {
      if (!named.includes(column)) leftOut.push(`${relation.sourceName}.${JSON.stringify(column.name)}: not an identifier (letters, digits and _); rename it or read it through a query source`);
    }
    return { ...relation, columns: named };
  });

  const sources: ProposedSource[] = relations.map((relation) => {
    const chosen = relation.columns.find((c) => c.name === wantedTime);
    if (chosen && chosen.type !== 'timestamp') throw new InitError(relation.label, `--timestamp ${chosen.name} is ${chosen.engineType}, not a TIMESTAMP or TIMESTAMPTZ`);
    const timestamp = chosen ?? timestampColumn(relation.columns);
    if (!timestamp) {
      const listed = relation.columns.map((c) => `${c.name} ${c.engineType}`).join(', ');
      throw new InitError(relation.label, `has no TIMESTAMP or TIMESTAMPTZ column (its columns: ${listed}); a source needs one for each row's event time. Add one (a DATE column can be cast: CAST(day AS TIMESTAMP)), or leave this file out`);
    }
    for (const column of relation.columns) {
      if (column.type === undefined) leftOut.push(`${relation.sourceName}.${column.name} (${column.engineType}): Flywheel has no type for it`);
    }
    const firstNote = chosen ? ', --timestamp' : relation.columns.filter((c) => c.type === 'timestamp').length > 1 ? ', the first of its timestamp columns' : '';
    const { location } = relation;
    const where = location.kind === 'parquet'
      ? `read in place from ${location.path}`
      : location.loadedFrom !== undefined
        ? `loaded into the warehouse table ${location.table} (CSV has no schema: the types DuckDB reads now are kept)`
        : `the warehouse table ${location.table}`;
    reasons.push(`source ${relation.sourceName}: ${relation.label}, ${where}; event time ${timestamp.name} (${timestamp.engineType}${firstNote})`);
    return {
      name: relation.sourceName,
      label: relation.label,
      location: relation.location,
      timestampField: timestamp.name,
      columns: relation.columns.flatMap((c) => (c.type === undefined ? [] : [{ name: c.name, type: c.type }])),
    };
  });

  const key = chooseEntityKey(relations, options.entityKey, reasons);
  const keyType: ValueType = key.type === 'string' ? 'string' : 'int64';
  const entityName = entityNameOf(key.name, relations);

  const featureViews: ProposedFeatureView[] = [];
  const served = new Map<string, string>();
  const viewNames = new Set<string>();
  for (const [index, relation] of relations.entries()) {
    const source = sources[index]!;
    const keyColumn = relation.columns.find((c) => c.name === key.name);
    if (!keyColumn || keyColumn.type === undefined || !isAssignable(keyColumn.type, keyType)) {
      reasons.push(`no feature view over ${source.name}: ${keyColumn ? `its ${key.name} is ${keyColumn.engineType}, not ${keyType}` : `it has no ${key.name} column`}`);
      continue;
    }
    const features: { name: string; type: ValueType }[] = [];
    for (const column of relation.columns) {
      if (column.name === key.name || column.name === source.timestampField || column.type === undefined) continue;
      if (isKeyLike(column)) leftOut.push(`${source.name}.${column.name}: an id, not a feature`);
      else if (!FEATURE_TYPES.includes(column.type)) leftOut.push(`${source.name}.${column.name} (${column.engineType}): a time, not a feature`);
      else if (served.has(column.name)) leftOut.push(`${source.name}.${column.name}: feature view ${served.get(column.name)} already serves a feature of that name`);
      else features.push({ name: column.name, type: column.type });
    }
    if (features.length === 0) {
      reasons.push(`no feature view over ${source.name}: no numeric, string or boolean column is left once the key and time columns are set aside`);
      continue;
    }
    const name = uniqueName(`${source.name}_features`, viewNames);
    for (const feature of features) served.set(feature.name, name);
    featureViews.push({ name, source: source.name, features });
    reasons.push(`feature view ${name}: each ${entityName}'s latest ${features.map((f) => f.name).join(', ')} from ${source.name}`);
  }
  if (featureViews.length === 0) {
    throw new InitError('--from', `no source has both the key ${key.name} and a column to serve as a feature; nothing to serve`);
  }

  const service = { name: `${entityName}_model` };
  reasons.push(`feature service ${service.name}: every feature above, served by POST /v1/features`);
  const first = featureViews[0]!;
  const spineOf = sources.find((s) => s.name === first.source)!;
  const sourceNames = new Set(sources.map((s) => s.name));
  const spine: ProposedSource = {
    name: uniqueName(`${spineOf.name}_spine`, sourceNames),
    label: spineOf.label,
    location: spineOf.location,
    timestampField: spineOf.timestampField,
    columns: [{ name: key.name, type: keyType }, { name: spineOf.timestampField, type: 'timestamp' }],
  };
  const trainingSet = { name: `${entityName}_training`, spine };
  reasons.push(`training set ${trainingSet.name}: a row per ${spineOf.name} row (source ${spine.name}: ${key.name}, ${spineOf.timestampField}) with ${service.name}'s features as of its ${spineOf.timestampField}; add your label column to the spine`);

  return { entity: { name: entityName, key: key.name, type: keyType }, sources, featureViews, service, trainingSet, reasons, leftOut };
}

/**
 * The entity's key: the given column, else the key-like column in the most relations, preferring one
 * whose values repeat (a column unique on every row identifies the row, an event, not an entity),
 * then the first seen.
 */
function chooseEntityKey(relations: readonly DataRelation[], given: string | undefined, reasons: string[]): DataColumn {
  if (given !== undefined) {
    const found = relations.flatMap((r) => r.columns).find((c) => c.name === given);
    if (!found) throw new InitError('--entity', `no file has a column "${given}"; the columns are ${[...new Set(relations.flatMap((r) => r.columns.map((c) => c.name)))].join(', ')}`);
    if (found.type === undefined || !KEY_TYPES.includes(found.type)) throw new InitError('--entity', `column "${given}" is ${found.engineType}; an entity key is an integer or a string`);
    reasons.push(`entity ${entityNameOf(given, relations)}: key ${given} (--entity)`);
    return found;
  }
  const candidates = new Map<string, { column: DataColumn; files: number; repeats: boolean; order: number }>();
  for (const relation of relations) {
    for (const column of relation.columns.filter(isKeyLike)) {
      const seen = candidates.get(column.name) ?? { column, files: 0, repeats: false, order: candidates.size };
      seen.files += 1;
      seen.repeats ||= relation.repeatedKeys[column.name] === true;
      candidates.set(column.name, seen);
    }
  }
  if (candidates.size === 0) {
    const listed = relations.map((r) => `${r.label} (${r.columns.map((c) => c.name).join(', ')})`).join('; ');
    throw new InitError('--from', `no column looks like an entity key (named id or *_id, of an integer or string type): ${listed}. Pass --entity <column>`);
  }
  const ranked = [...candidates.values()].sort((a, b) => b.files - a.files || Number(b.repeats) - Number(a.repeats) || a.order - b.order);
  const chosen = ranked[0]!;
  const why = [`in ${chosen.files} of ${relations.length} ${relations.length === 1 ? 'file' : 'files'}`, chosen.repeats ? 'its values repeat (several rows per entity)' : 'unique on every row (no column with repeating values was found)'];
  const others = ranked.slice(1).map((c) => `${c.column.name} (in ${c.files}${c.repeats ? '' : ', unique on every row: a row id'})`);
  reasons.push(`entity ${entityNameOf(chosen.column.name, relations)}: key ${chosen.column.name}, ${why.join(', ')}${others.length > 0 ? `; not ${others.join(', ')}` : ''}. Pass --entity <column> to choose another`);
  return chosen.column;
}

/** `customer_id` gives `customer`; a bare `id` takes the name of the first source that has it. */
function entityNameOf(key: string, relations: readonly DataRelation[]): string {
  const stem = key.toLowerCase().replace(/_?id$/, '');
  if (stem !== '') return toIdentifier(stem, 'entity');
  return relations.find((r) => r.columns.some((c) => c.name === key))?.sourceName ?? 'entity';
}

function uniqueName(wanted: string, taken: Set<string>): string {
  let name = wanted;
  for (let n = 2; taken.has(name); n++) name = `${wanted}_${n}`;
  taken.add(name);
  return name;
}
