/**
 * Names of the warehouse objects Flywheel manages. `apply` creates a view per source and per feature
 * view in the `flywheel` schema, so every query reads definitions through one stable name.
 */
export const FLYWHEEL_SCHEMA = 'flywheel';

export const sourceViewName = (source: string): string => `${FLYWHEEL_SCHEMA}.src_${source}`;
export const featureViewViewName = (view: string): string => `${FLYWHEEL_SCHEMA}.fv_${view}`;
/** A run's working table, for example the joined rows of a training set before export. */
export const runTableName = (kind: string, name: string, runKey: string): string =>
  `${FLYWHEEL_SCHEMA}.run_${kind}_${name}_${runKey}`.slice(0, FLYWHEEL_SCHEMA.length + 1 + 63);
