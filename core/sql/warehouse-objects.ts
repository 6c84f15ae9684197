import { assertIdentifier } from '../identifiers.ts';
import type { ColumnSpec, EventStreamSpec, FeatureViewSpec, ProjectSpec, SourceSpec } from '../definitions/specs.ts';
import { viewSourceOf } from '../definitions/view-source.ts';
import type { ValueType } from '../types.ts';
import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/**
 * The objects `flywheel apply` keeps in the warehouse for a project, as a small typed model compiled
 * to SQL per dialect: one schema, a view per source (`<schema>.src_<name>`) that reads its table,
 * query or Parquet files, a table per event stream (`<schema>.stream_<name>`, see eventStreamTableColumns)
 * and the ingest ledger they share, and a view per feature view (`<schema>.fv_<name>`) with exactly
 * its join keys, its event time (and created time) as UTC instants, and its features cast to their
 * types (for an aggregation view: its events, with the input columns its aggregations read).
 *
 * Views are replaced on every apply. Stream tables hold data, so they are created when missing and
 * then only altered: an added column, a wider type, a NOT NULL dropped. They are never dropped; a
 * removed stream's table is kept (a `keepTable` node, which runs nothing).
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

/** The table of an event stream's events, `flywheel.stream_<name>` (unquoted). Its columns: see eventStreamTableColumns. */
export function eventStreamTableName(name: string, schema: string = DEFAULT_WAREHOUSE_SCHEMA): string {
  return `${assertIdentifier(schema)}.${assertIdentifier(`stream_${name}`)}`;
}

export const INGEST_LEDGER_TABLE = 'ingest_ledger';

/** The ledger of loaded batches that every stream shares, `flywheel.ingest_ledger` (unquoted). Its columns: see INGEST_LEDGER_COLUMNS. */
export function ingestLedgerTableName(schema: string = DEFAULT_WAREHOUSE_SCHEMA): string {
  return `${assertIdentifier(schema)}.${assertIdentifier(INGEST_LEDGER_TABLE)}`;
}

/** Flywheel's own columns of a stream table: the event's id (the primary key), when it was received, and the batch it came in. */
export const EVENT_ID_COLUMN = '_event_id';
export const RECEIVED_AT_COLUMN = '_received_at';
export const BATCH_COLUMN = '_batch';

/** A column of a table Flywheel creates. */
export interface TableColumnNode {
  readonly name: string;
  readonly type: ValueType;
  readonly notNull: boolean;
}

/**
 * The columns of a stream's table, in order: `_event_id`, the join keys and the timestamp (NOT NULL),
 * the fields (NOT NULL unless declared nullable), `_received_at` and `_batch` (the segment or load
 * batch the event came in). The primary key is `_event_id`.
 */
export function eventStreamTableColumns(stream: EventStreamSpec): TableColumnNode[] {
  return [
    { name: EVENT_ID_COLUMN, type: 'string', notNull: true },
    ...stream.keys.map((key): TableColumnNode => ({ name: key.name, type: key.type, notNull: true })),
    { name: stream.timestampField, type: 'timestamp', notNull: true },
    ...stream.fields.map((field): TableColumnNode => ({ name: field.name, type: field.type, notNull: !field.nullable })),
    { name: RECEIVED_AT_COLUMN, type: 'timestamp', notNull: true },
    { name: BATCH_COLUMN, type: 'string', notNull: true },
  ];
}

/**
 * The ingest ledger: one row per batch loaded into a stream, written in the same transaction as its
 * rows (core/sql/ingest.ts). `watermark` is set for loads from an external table. Primary key (stream, batch).
 */
export const INGEST_LEDGER_COLUMNS = [
  { name: 'stream', type: 'string', notNull: true },
  { name: 'batch', type: 'string', notNull: true },
  { name: 'rows', type: 'int64', notNull: true },
  { name: 'loaded_at', type: 'timestamp', notNull: true },
  { name: 'watermark', type: 'string', notNull: false },
] as const satisfies readonly TableColumnNode[];

export const INGEST_QUARANTINE_TABLE = 'ingest_quarantine';

/** The events the warehouse refused, of every stream, `flywheel.ingest_quarantine` (unquoted). Its columns: see INGEST_QUARANTINE_COLUMNS. */
export function ingestQuarantineTableName(schema: string = DEFAULT_WAREHOUSE_SCHEMA): string {
  return `${assertIdentifier(schema)}.${assertIdentifier(INGEST_QUARANTINE_TABLE)}`;
}

/**
 * The ingest quarantine: one row per event of a batch that the warehouse refused to store (a value
 * that does not convert to its column's type, a line that is not JSON, a NOT NULL broken), written
 * in the same transaction as the rest of the batch and its ledger row (docs/collect.md, "Quarantine").
 * `event_index` is the event's position in its batch (0-based), `event` its stored JSON as it was
 * received, `event_id` its id when the JSON could be read, `error` the warehouse's reason (of the
 * latest replay that refused it). Primary key (stream, batch, event_index).
 */
export const INGEST_QUARANTINE_COLUMNS = [
  { name: 'stream', type: 'string', notNull: true },
  { name: 'batch', type: 'string', notNull: true },
  { name: 'event_index', type: 'int64', notNull: true },
  { name: 'event_id', type: 'string', notNull: false },
  { name: 'event', type: 'string', notNull: true },
  { name: 'error', type: 'string', notNull: true },
  { name: 'quarantined_at', type: 'timestamp', notNull: true },
] as const satisfies readonly TableColumnNode[];

/** The quarantine's table, created when missing (by apply, and by ingestion for a warehouse applied before it existed). */
export function ingestQuarantineTableNode(schema: string = DEFAULT_WAREHOUSE_SCHEMA): WarehouseObjectNode {
  return { kind: 'createTable', table: ingestQuarantineTableName(schema), columns: INGEST_QUARANTINE_COLUMNS, primaryKey: ['stream', 'batch', 'event_index'] };
}

/** The columns of a feature view's view, in order, with the types they have there. */
export interface FeatureViewColumns {
  /** The join keys of the view's entities, in entity order, each once (not cast: as the source holds them). */
  readonly joinKeys: readonly ColumnSpec[];
  /** The event time column, named after the source's (or stream's) timestampField; a UTC instant. */
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
  const source = viewSourceOf(project, view.source);
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

/**
 * The table whose rows a feature view reads one for one (a source over a table, no transformation),
 * so that the table's uniqueness constraints hold for the view's rows; undefined for any other view.
 */
export function featureViewBaseTable(view: FeatureViewSpec, project: ProjectSpec): string | undefined {
  if (view.transformation !== undefined) return undefined;
  const source = project.sources[view.source];
  return source?.location.type === 'table' ? source.location.table : undefined;
}

// ---------------------------------------------------------------------------------------------
// The model

/** Where rows are read from. */
export type RelationNode =
  | { readonly kind: 'table'; readonly name: string }
  /** A table another system created (a source's `table`): the engine resolves its name by its own case rules. */
  | { readonly kind: 'existingTable'; readonly name: string; readonly columns: readonly string[] }
  /** Parquet files the warehouse reads (a local path for DuckDB, a stage path for Snowflake), with the source's declared columns. */
  | { readonly kind: 'parquet'; readonly path: string; readonly columns: readonly ColumnSpec[] }
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
  | { readonly kind: 'dropView'; readonly view: string }
  /** Created when missing; an existing table is left as it is. */
  | { readonly kind: 'createTable'; readonly table: string; readonly columns: readonly TableColumnNode[]; readonly primaryKey: readonly string[] }
  /**
   * A nullable column, added when missing: rows stored before have no value for it. `required` marks a
   * key or timestamp column, which every stored event should have; apply refuses those (unsupportedTableChanges).
   */
  | { readonly kind: 'addColumn'; readonly table: string; readonly column: string; readonly type: ValueType; readonly required: boolean }
  /** Converts the stored values; only some conversions are possible (Dialect.canAlterColumnType). */
  | { readonly kind: 'alterColumnType'; readonly table: string; readonly column: string; readonly from: ValueType; readonly to: ValueType }
  | { readonly kind: 'dropNotNull'; readonly table: string; readonly column: string }
  /** A table whose definition was removed, kept with its data on purpose. Runs nothing. */
  | { readonly kind: 'keepTable'; readonly table: string; readonly reason: string };

export interface WarehouseObjectsOptions {
  readonly desired: ProjectSpec;
  /**
   * The applied version: views of its sources and feature views that `desired` lacks are dropped,
   * and the tables of its event streams are altered to the desired columns (or kept, when removed).
   */
  readonly applied?: ProjectSpec | undefined;
  /** Makes a Parquet source's path absolute (relative paths are relative to the project). */
  readonly resolvePath: (path: string) => string;
  readonly schema?: string;
}

/**
 * The statements' model, in the order they must run: the schema, drops of removed feature views then
 * sources, the ingest ledger and quarantine (when the project has streams), each stream's table and its alterations,
 * the kept tables of removed streams, then every source view, then every feature view (each by name).
 */
export function planWarehouseObjects(options: WarehouseObjectsOptions): WarehouseObjectNode[] {
  const { desired, applied, resolvePath } = options;
  const schema = options.schema ?? DEFAULT_WAREHOUSE_SCHEMA;
  const removed = (before: Readonly<Record<string, unknown>> | undefined, after: Readonly<Record<string, unknown>>) =>
    Object.keys(before ?? {}).filter((name) => !(name in after)).sort();
  const sorted = <T>(record: Readonly<Record<string, T>>) => Object.keys(record).sort().map((name) => record[name]!);
  const streams = sorted(desired.eventStreams);

  return [
    { kind: 'createSchema', schema },
    ...removed(applied?.featureViews, desired.featureViews).map((name): WarehouseObjectNode => ({ kind: 'dropView', view: featureViewViewName(name, schema) })),
    ...removed(applied?.sources, desired.sources).map((name): WarehouseObjectNode => ({ kind: 'dropView', view: sourceViewName(name, schema) })),
    ...(streams.length > 0 ? [{ kind: 'createTable', table: ingestLedgerTableName(schema), columns: INGEST_LEDGER_COLUMNS, primaryKey: ['stream', 'batch'] } as const] : []),
    ...(streams.length > 0 ? [ingestQuarantineTableNode(schema)] : []),
    ...streams.flatMap((stream) => eventStreamTableNodes(stream, applied?.eventStreams[stream.name], schema)),
    ...removed(applied?.eventStreams, desired.eventStreams).map((name): WarehouseObjectNode => ({
      kind: 'keepTable', table: eventStreamTableName(name, schema), reason: `event stream "${name}" was removed; drop the table by hand to delete its events`,
    })),
    ...sorted(desired.sources).map((source): WarehouseObjectNode => ({ kind: 'createView', view: sourceViewName(source.name, schema), body: sourceBody(source, resolvePath) })),
    ...sorted(desired.featureViews).map((view): WarehouseObjectNode => ({ kind: 'createView', view: featureViewViewName(view.name, schema), body: featureViewBody(view, desired, schema) })),
  ];
}

/**
 * A stream's table, created when missing, then brought from the applied stream's columns to the
 * desired ones: a new column is added (nullable), a column whose type changed is converted, a column
 * that may now be null (or that the stream no longer declares, and so no longer fills) drops NOT NULL.
 * Columns the stream no longer declares are kept with their data.
 */
function eventStreamTableNodes(stream: EventStreamSpec, applied: EventStreamSpec | undefined, schema: string): WarehouseObjectNode[] {
  const table = eventStreamTableName(stream.name, schema);
  const columns = eventStreamTableColumns(stream);
  const nodes: WarehouseObjectNode[] = [{ kind: 'createTable', table, columns, primaryKey: [EVENT_ID_COLUMN] }];
  if (!applied) return nodes;
  const before = new Map(eventStreamTableColumns(applied).map((column) => [column.name, column]));
  const required = new Set([...stream.keys.map((k) => k.name), stream.timestampField]);
  for (const column of columns) {
    const old = before.get(column.name);
    if (!old) {
      nodes.push({ kind: 'addColumn', table, column: column.name, type: column.type, required: required.has(column.name) });
      continue;
    }
    if (old.type !== column.type) nodes.push({ kind: 'alterColumnType', table, column: column.name, from: old.type, to: column.type });
    if (old.notNull && !column.notNull) nodes.push({ kind: 'dropNotNull', table, column: column.name });
  }
  const kept = new Set(columns.map((c) => c.name));
  for (const old of before.values()) {
    if (!kept.has(old.name) && old.notNull) nodes.push({ kind: 'dropNotNull', table, column: old.name });
  }
  return nodes;
}

/** A change to a stream's table that apply cannot make, even with --allow-breaking. */
export interface TableChangeIssue {
  readonly table: string;
  readonly column: string;
  readonly message: string;
}

/**
 * The alterations among `nodes` that the warehouse cannot make without losing or inventing data: a
 * type conversion the engine does not do, or a key or timestamp column added to a table whose stored
 * events have no value for it.
 */
export function unsupportedTableChanges(nodes: readonly WarehouseObjectNode[], dialect: Dialect): TableChangeIssue[] {
  return nodes.flatMap((node): TableChangeIssue[] => {
    if (node.kind === 'alterColumnType' && !dialect.canAlterColumnType(node.from, node.to)) {
      return [{
        table: node.table, column: node.column,
        message: `${dialect.name} cannot convert the stored ${node.from} values to ${node.to}; declare the field under a new name instead (the old column and its values are kept), or convert the table by hand`,
      }];
    }
    if (node.kind === 'addColumn' && node.required) {
      return [{
        table: node.table, column: node.column,
        message: 'a new join key or timestamp column, which the stored events have no value for; declare a new event stream instead',
      }];
    }
    return [];
  });
}

function sourceBody(source: SourceSpec, resolvePath: (path: string) => string): ViewBodyNode {
  switch (source.location.type) {
    case 'table': return { kind: 'selectAll', from: { kind: 'existingTable', name: source.location.table, columns: source.columns.map((c) => c.name) } };
    // A stage path (`@stage/clicks/`, Snowflake) names files in the warehouse, not on this disk.
    case 'parquet': return { kind: 'selectAll', from: { kind: 'parquet', path: source.location.path.startsWith('@') ? source.location.path : resolvePath(source.location.path), columns: source.columns } };
    case 'query': return { kind: 'query', sql: source.location.query };
  }
}

/** What a feature view reads: a source's view, or a stream's table. */
function inputRelationName(view: FeatureViewSpec, project: ProjectSpec, schema: string): string {
  return project.eventStreams[view.source] ? eventStreamTableName(view.source, schema) : sourceViewName(view.source, schema);
}

function featureViewBody(view: FeatureViewSpec, project: ProjectSpec, schema: string): ViewBodyNode {
  const columns = featureViewColumns(view, project);
  const sourceView = inputRelationName(view, project, schema);
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

type Compilers<N extends { kind: string }, R = string> = { [K in N['kind']]: (node: Extract<N, { kind: K }>, dialect: Dialect) => R };

const RELATIONS: Compilers<RelationNode> = {
  table: (node, d) => d.qualified(node.name),
  existingTable: (node, d) => d.existingTable(node.name, node.columns),
  parquet: (node, d) => d.readStaged({ locations: [node.path], format: 'parquet' }, node.columns.map((c) => [c.name, d.columnType(c.type)] as const)),
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

/** Each node's statement; undefined for a node that only records a decision (keepTable). */
const OBJECTS: Compilers<WarehouseObjectNode, string | undefined> = {
  createSchema: (node, d) => `CREATE SCHEMA IF NOT EXISTS ${d.identifier(node.schema)}`,
  createView: (node, d) => `CREATE OR REPLACE VIEW ${d.qualified(node.view)} AS ${viewBody(node.body, d)}`,
  dropView: (node, d) => `DROP VIEW IF EXISTS ${d.qualified(node.view)}`,
  createTable: (node, d) =>
    `CREATE TABLE IF NOT EXISTS ${d.qualified(node.table)} (` +
    [
      ...node.columns.map((column) => `${d.identifier(column.name)} ${d.columnType(column.type)}${column.notNull ? ' NOT NULL' : ''}`),
      `PRIMARY KEY (${node.primaryKey.map((name) => d.identifier(name)).join(', ')})`,
    ].join(', ') +
    ')',
  addColumn: (node, d) => `ALTER TABLE ${d.qualified(node.table)} ADD COLUMN IF NOT EXISTS ${d.identifier(node.column)} ${d.columnType(node.type)}`,
  alterColumnType: (node, d) => `ALTER TABLE ${d.qualified(node.table)} ALTER COLUMN ${d.identifier(node.column)} SET DATA TYPE ${d.columnType(node.to)}`,
  dropNotNull: (node, d) => `ALTER TABLE ${d.qualified(node.table)} ALTER COLUMN ${d.identifier(node.column)} DROP NOT NULL`,
  keepTable: () => undefined,
};

const relation = (node: RelationNode, d: Dialect) => (RELATIONS[node.kind] as (n: RelationNode, d: Dialect) => string)(node, d);
const projection = (node: ProjectionNode, d: Dialect) => (PROJECTIONS[node.kind] as (n: ProjectionNode, d: Dialect) => string)(node, d);
const viewBody = (node: ViewBodyNode, d: Dialect) => (VIEW_BODIES[node.kind] as (n: ViewBodyNode, d: Dialect) => string)(node, d);

/** The statements of `nodes`, in order (a node that runs nothing, like keepTable, has none). */
export function compileWarehouseObjects(nodes: readonly WarehouseObjectNode[], dialect: Dialect): CompiledQuery[] {
  return nodes.flatMap((node) => {
    const text = (OBJECTS[node.kind] as (n: WarehouseObjectNode, d: Dialect) => string | undefined)(node, dialect);
    return text === undefined ? [] : [sql(text)];
  });
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
 * `describe` at plan time, before the source's view exists), or, for a stream, no rows with the
 * columns of the stream's table. Undefined for views without one.
 */
export function transformationQuery(view: FeatureViewSpec, project: ProjectSpec, dialect: Dialect, resolvePath: (path: string) => string): CompiledQuery | undefined {
  const source = viewSourceOf(project, view.source);
  if (view.transformation === undefined || !source) return undefined;
  // A stream's table may not exist yet (apply creates it): describe over no rows of its desired columns.
  const input = source.kind === 'eventStream' ? emptyRelation(eventStreamTableColumns(source.spec), dialect) : `(${viewBody(sourceBody(source.spec, resolvePath), dialect)})`;
  return sql(`SELECT * FROM (${withoutTrailingSemicolon(view.transformation).replace(SOURCE_PLACEHOLDER, input)}) AS ${dialect.identifier('transformed')}`);
}

/** A relation with the given columns and no rows. */
function emptyRelation(columns: readonly TableColumnNode[], dialect: Dialect): string {
  return `(SELECT ${columns.map((c) => `CAST(NULL AS ${dialect.columnType(c.type)}) AS ${dialect.identifier(c.name)}`).join(', ')} LIMIT 0)`;
}

const SOURCE_PLACEHOLDER = /\{\{\s*source\s*\}\}/g;

function withoutTrailingSemicolon(text: string): string {
  return text.trim().replace(/;\s*$/, '');
}
