import type { PointInTimeJoin } from '../sql/point-in-time.ts';
import type { ResolvedTrainingSet } from './resolve-training-set.ts';

/** Column sets a table keeps unique (its primary key, its unique constraints), by table name as the views' sources give it. */
export type UniqueColumnSets = ReadonlyMap<string, readonly (readonly string[])[]>;

/**
 * The training set's join with `uniqueEventTimes` set on each plain view whose rows cannot tie: its
 * base table keeps a column set unique that lies within the view's join keys and event time, so no
 * two rows share both. Such a view skips the tie-break; every other view keeps it (docs/point-in-time.md).
 * Identifiers compare case-insensitively, as the warehouses resolve them.
 */
export function withUniqueEventTimes(resolved: Pick<ResolvedTrainingSet, 'join' | 'views'>, unique: UniqueColumnSets): PointInTimeJoin {
  return {
    ...resolved.join,
    views: resolved.join.views.map((view, index) => {
      if (view.kind === 'aggregation') return view;
      const sets = unique.get(resolved.views[index]?.baseTable ?? '') ?? [];
      const covered = new Set([...view.joinKeys, view.timestampField].map((c) => c.toLowerCase()));
      const cannotTie = sets.some((set) => set.length > 0 && set.every((c) => covered.has(c.toLowerCase())));
      return cannotTie ? { ...view, uniqueEventTimes: true } : view;
    }),
  };
}

/** The base tables whose constraints decide it, each once. */
export function uniquenessTables(resolved: Pick<ResolvedTrainingSet, 'views'>): string[] {
  return [...new Set(resolved.views.flatMap((v) => (v.baseTable !== undefined ? [v.baseTable] : [])))];
}
