import { assertIdentifier } from '../identifiers.ts';
import type { ColumnSpec, FeatureViewSpec, ProjectSpec, SourceSpec } from '../definitions/specs.ts';
import type { ValueType } from '../types.ts';
import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/**
 * The objects `flywheel apply` keeps in the warehouse for a project, as a small typed model compiled
 * to SQL per dialect: one schema, a view per source (`<schema>.src_<name>`) that reads its table,
 * query or Parquet files, and a view per feature view (`<schema>.fv_<name>`) with exactly its join
 * keys, its event time (and created time) as UTC instants, and its features cast to their types (for
 * an aggregation view: its events, with the input columns its aggregations read).
 *
 * @example
 * const statements = compileWarehouseObjects(
 *   planWarehouseObjects({ desired, applied, resolvePath: (p) => resolve(root, p) }), duckdbDialect);
 */

export const DEFAULT_WAREHOUSE_SCHEMA = 'flywheel';

/** The view over a source, `flywheel.src_<name>` (unquoted; quote it with `dialect.qualified`). */
export function sourceViewName(name: string, schema: string = DEFAULT_WAREHOUSE_SCHEMA): string {
  return `${assertIdentifier(schema)}.${assertIdentifier(`src_${name}`)}`;
}

/** The view of a feature view's rows, `flywheel.fv_<name>` (unquoted; quote it with `dialect.qualified`). Its columns: see featureViewColumns. */
export function featureViewViewName(name: string, schema: string = DEFAULT_WAREHOUSE_SCHEMA): string {
  return `${assertIdentifier(schema)}.${assertIdentifier(`fv_${name}`)}`;
}

/** The columns of a feature view's view, in order, with the types they have there. */
export interface FeatureViewColumns {
  /** The join keys of the view's entities, in entity order, each once (not cast: as the source holds them). */
  readonly joinKeys: readonly ColumnSpec[];
  /** The event time column, named after the source's timestampField; a UTC instant. */
  readonly timestamp: string;
  /** The created time column, named after the source's createdTimestampField, when the source declares one and the view has no transformation. */
  readonly createdTimestamp: string | undefined;
  /**
   * The value columns, cast to their types: a plain view's features, or, for an aggregation view, the
   * columns its aggregations read (its rows are events; the features are computed when they are read).
   */
  readonly features: readonly ColumnSpec[];
}

export function featureViewColumns(view: FeatureViewSpec, project: ProjectSpec): FeatureViewColumns {
  const source = project.sources[view.source];
  if (!source) throw new Error(`feature view "${view.name}" refers to unknown source "${view.source}"; validate the project first`);
  const joinKeys = new Map<string, ColumnSpec>();
  for (const entityName of view.entities) {
    for (const key of project.entities[entityName]?.joinKeys ?? []) if (!joinKeys.has(key.name)) joinKeys.set(key.name, key);
  }
  // A transformation promises join keys, timestamp and features only (see FeatureViewInput.transformation).
  const createdTimestamp = view.transformation === undefined ? source.createdTimestampField : undefined;
  const features = view.aggregations ? (view.aggregationInputs ?? []) : view.features;
  return { joinKeys: [...joinKeys.values()], timestamp: source.timestampField, createdTimestamp, features };
}

// ---------------------------------------------------------------------------------------------
// The model

/** Where rows are read from. */
export type RelationNode =
  | { readonly kind: 'table'; readonly name: string }
  | { readonly kind: 'parquet'; readonly path: string }
  /** SQL that names its input as `{{source}}`, which compiles to the view `source`. */
  | { readonly kind: 'transformation'; readonly sql: string; readonly source: string };

export type ProjectionNode =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'instant'; readonly name: string }
  | { readonly kind: 'cast'; readonly name: string; readonly type: ValueType };

export type ViewBodyNode =
  | { readonly kind: 'selectAll'; readonly from: RelationNode }
  | { readonly kind: 'query'; readonly sql: string }
  | { readonly kind: 'select'; readonly columns: readonly ProjectionNode[]; readonly from: RelationNode };

export type WarehouseObjectNode =
  | { readonly kind: 'createSchema'; readonly schema: string }
  | { readonly kind: 'createView'; readonly view: string; readonly body: ViewBodyNode }
  | { readonly kind: 'dropView'; readonly view: string };

export interface WarehouseObjectsOptions {
  readonly desired: ProjectSpec;
  /** The applied version: views of its sources and feature views that `desired` lacks are dropped. */
  readonly applied?: ProjectSpec | undefined;
  /** Makes a Parquet source's path absolute (relative paths are relative to the project). */
  readonly resolvePath: (path: string) => string;
  readonly schema?: string;
}

/**
 * The statements' model, in the order they must run: the schema, drops of removed feature views then
 * sources, then every source view, then every feature view (each by name).
 */
export function planWarehouseObjects(options: WarehouseObjectsOptions): WarehouseObjectNode[] {
  const { desired, applied, resolvePath } = options;
  const schema = options.schema ?? DEFAULT_WAREHOUSE_SCHEMA;
  const removed = (before: Readonly<Record<string, unknown>> | undefined, after: Readonly<Record<string, unknown>>) =>
    Object.keys(before ?? {}).filter((name) => !(name in after)).sort();
  const sorted = <T>(record: Readonly<Record<string, T>>) => Object.keys(record).sort().map((name) => record[name]!);

  return [
    { kind: 'createSchema', schema },
    ...removed(applied?.featureViews, desired.featureViews).map((name): WarehouseObjectNode => ({ kind: 'dropView', view: featureViewViewName(name, schema) })),
    ...removed(applied?.sources, desired.sources).map((name): WarehouseObjectNode => ({ kind: 'dropView', view: sourceViewName(name, schema) })),
    ...sorted(desired.sources).map((source): WarehouseObjectNode => ({ kind: 'createView', view: sourceViewName(source.name, schema), body: sourceBody(source, resolvePath) })),
    ...sorted(desired.featureViews).map((view): WarehouseObjectNode => ({ kind: 'createView', view: featureViewViewName(view.name, schema), body: featureViewBody(view, desired, schema) })),
  ];
}

function sourceBody(source: SourceSpec, resolvePath: (path: string) => string): ViewBodyNode {
  switch (source.location.type) {
    case 'table': return { kind: 'selectAll', from: { kind: 'table', name: source.location.table } };
    case 'parquet': return { kind: 'selectAll', from: { kind: 'parquet', path: resolvePath(source.location.path) } };
    case 'query': return { kind: 'query', sql: source.location.query };
  }
}

function featureViewBody(view: FeatureViewSpec, project: ProjectSpec, schema: string): ViewBodyNode {
  const columns = featureViewColumns(view, project);
  const sourceView = sourceViewName(view.source, schema);
  return {
    kind: 'select',
    columns: [
      ...columns.joinKeys.map((key): ProjectionNode => ({ kind: 'column', name: key.name })),
      { kind: 'instant', name: columns.timestamp },
      ...(columns.createdTimestamp ? [{ kind: 'instant', name: columns.createdTimestamp } as const] : []),
      ...columns.features.map((feature): ProjectionNode => ({ kind: 'cast', name: feature.name, type: feature.type })),
    ],
    from: view.transformation !== undefined ? { kind: 'transformation', sql: view.transformation, source: sourceView } : { kind: 'table', name: sourceView },
  };
}

// ---------------------------------------------------------------------------------------------
// The compiler: one function per node kind, every identifier through the dialect.

type Compilers<N extends { kind: string }> = { [K in N['kind']]: (node: Extract<N, { kind: K }>, dialect: Dialect) => string };

const RELATIONS: Compilers<RelationNode> = {
  table: (node, d) => d.qualified(node.name),
  parquet: (node, d) => d.readParquet(node.path),
  transformation: (node, d) => `(${withoutTrailingSemicolon(node.sql).replace(SOURCE_PLACEHOLDER, d.qualified(node.source))}) AS ${d.identifier('transformed')}`,
};

const PROJECTIONS: Compilers<ProjectionNode> = {
  column: (node, d) => d.identifier(node.name),
  instant: (node, d) => `${d.asInstant(d.identifier(node.name))} AS ${d.identifier(node.name)}`,
  cast: (node, d) => `CAST(${d.identifier(node.name)} AS ${d.columnType(node.type)}) AS ${d.identifier(node.name)}`,
};

const VIEW_BODIES: Compilers<ViewBodyNode> = {
  selectAll: (node, d) => `SELECT * FROM ${relation(node.from, d)}`,
  query: (node) => withoutTrailingSemicolon(node.sql),
  select: (node, d) => `SELECT ${node.columns.map((column) => projection(column, d)).join(', ')} FROM ${relation(node.from, d)}`,
};

const OBJECTS: Compilers<WarehouseObjectNode> = {
  createSchema: (node, d) => `CREATE SCHEMA IF NOT EXISTS ${d.identifier(node.schema)}`,
  createView: (node, d) => `CREATE OR REPLACE VIEW ${d.qualified(node.view)} AS ${viewBody(node.body, d)}`,
  dropView: (node, d) => `DROP VIEW IF EXISTS ${d.qualified(node.view)}`,
};

const relation = (node: RelationNode, d: Dialect) => (RELATIONS[node.kind] as (n: RelationNode, d: Dialect) => string)(node, d);
const projection = (node: ProjectionNode, d: Dialect) => (PROJECTIONS[node.kind] as (n: ProjectionNode, d: Dialect) => string)(node, d);
const viewBody = (node: ViewBodyNode, d: Dialect) => (VIEW_BODIES[node.kind] as (n: ViewBodyNode, d: Dialect) => string)(node, d);

export function compileWarehouseObjects(nodes: readonly WarehouseObjectNode[], dialect: Dialect): CompiledQuery[] {
  return nodes.map((node) => sql((OBJECTS[node.kind] as (n: WarehouseObjectNode, d: Dialect) => string)(node, dialect)));
}

/** The statements apply runs to bring the warehouse from `applied` to `desired` (planWarehouseObjects, compiled). */
export function warehouseObjectStatements(options: WarehouseObjectsOptions & { readonly dialect: Dialect }): CompiledQuery[] {
  return compileWarehouseObjects(planWarehouseObjects(options), options.dialect);
}

/** A query over a source's rows as its view reads them (for `describe`, before the view exists). */
export function sourceRelationQuery(source: SourceSpec, dialect: Dialect, resolvePath: (path: string) => string): CompiledQuery {
  return sql(viewBody(sourceBody(source, resolvePath), dialect));
}

/**
 * The rows a feature view's transformation returns, reading its source's relation directly (for
 * `describe` at plan time, before the source's view exists). Undefined for views without one.
 */
export function transformationQuery(view: FeatureViewSpec, project: ProjectSpec, dialect: Dialect, resolvePath: (path: string) => string): CompiledQuery | undefined {
  const source = project.sources[view.source];
  if (view.transformation === undefined || !source) return undefined;
  const input = `(${viewBody(sourceBody(source, resolvePath), dialect)})`;
  return sql(`SELECT * FROM (${withoutTrailingSemicolon(view.transformation).replace(SOURCE_PLACEHOLDER, input)}) AS ${dialect.identifier('transformed')}`);
}

const SOURCE_PLACEHOLDER = /\{\{\s*source\s*\}\}/g;

function withoutTrailingSemicolon(text: string): string {
  return text.trim().replace(/;\s*$/, '');
}
