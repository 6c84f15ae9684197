import type { PointInTimeJoin } from '../sql/point-in-time.ts';
import type { ResolvedTrainingSet } from './resolve-training-set.ts';

/** What the warehouse says of a table a source names (OfflineEngine.tableFacts). */
export interface TableFacts {
  /** A stored table (not a view, nor missing): its rows have the engine's row identifier. */
  readonly isTable: boolean;
  /** The column sets it keeps unique (primary key, unique constraints), enforced by the engine. */
  readonly uniqueColumnSets: readonly (readonly string[])[];
}

/** The tables whose facts can speed up a training set's join: the spine's and each plain view's, each once. */
export function factTables(resolved: Pick<ResolvedTrainingSet, 'spine' | 'views'>): string[] {
  const spine = spineTableOf(resolved);
  return [...new Set([...(spine !== undefined ? [spine] : []), ...resolved.views.flatMap((v) => (v.baseTable !== undefined ? [v.baseTable] : []))])];
}

/** The table a spine source names, when it is over a table. */
function spineTableOf(resolved: Pick<ResolvedTrainingSet, 'spine'>): string | undefined {
  return resolved.spine?.location.type === 'table' ? resolved.spine.location.table : undefined;
}

/**
 * The training set's join, faster where the tables allow it and with the same rows:
 * - a spine over a stored table is read from the table itself, numbered by its row identifier (the
 *   same order as a scan, but numbered in parallel: `rowIds`); a labels spine is such a table too;
 * - a plain view whose base table keeps a column set unique that lies within the view's join keys
 *   and event time cannot have two rows tie, and skips the tie-break (`uniqueEventTimes`).
 * Identifiers compare case-insensitively, as the warehouses resolve them. docs/point-in-time.md.
 * `tableRowIds`: whether the engine has a row identifier (Dialect.tableRowId); without one (Snowflake)
 * a spine is read through its source's view, which names the table's columns as declared.
 */
export function joinWithTableFacts(
  resolved: Pick<ResolvedTrainingSet, 'join' | 'views' | 'spine' | 'labelsSpine'>,
  facts: ReadonlyMap<string, TableFacts>,
  options: { readonly tableRowIds: boolean } = { tableRowIds: true },
): PointInTimeJoin {
  const { join } = resolved;
  const spineTable = spineTableOf(resolved);
  const spine =
    resolved.labelsSpine !== undefined ? { ...join.spine, rowIds: true }
    : options.tableRowIds && spineTable !== undefined && facts.get(spineTable)?.isTable ? { ...join.spine, relation: spineTable, rowIds: true }
    : join.spine;
  return {
    ...join,
    spine,
    views: join.views.map((view, index) => {
      if (view.kind === 'aggregation') return view;
      const sets = facts.get(resolved.views[index]?.baseTable ?? '')?.uniqueColumnSets ?? [];
      const covered = new Set([...view.joinKeys, view.timestampField].map((c) => c.toLowerCase()));
      const cannotTie = sets.some((set) => set.length > 0 && set.every((c) => covered.has(c.toLowerCase())));
      return cannotTie ? { ...view, uniqueEventTimes: true } : view;
    }),
  };
}
