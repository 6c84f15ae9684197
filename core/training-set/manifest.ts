import type { ValueType } from '../types.ts';
import type { ColumnStats } from '../sql/column-stats.ts';

/**
 * The manifest written beside a training set's files. A dataset version is complete exactly when its
 * manifest exists: files are written first, the manifest last, then the `_latest.json` pointer.
 */
export interface TrainingSetManifest {
  readonly formatVersion: 1;
  readonly project: string;
  readonly trainingSet: string;
  readonly version: string;
  readonly createdAt: string;
  readonly registryVersion: number;
  readonly timeRange: { readonly from: string | null; readonly to: string | null };
  readonly rowCount: number;
  readonly schema: readonly { readonly name: string; readonly type: ValueType }[];
  readonly featureViews: readonly { readonly name: string; readonly definitionHash: string }[];
  readonly files: readonly { readonly key: string; readonly uri: string; readonly rowCount: number; readonly bytes: number }[];
  readonly columnStats: Readonly<Record<string, ColumnStats>>;
}

/** Where a dataset version's objects live: `<path>/<version>/part-*.parquet`, `manifest.json`; `<path>/_latest.json`. */
export function datasetKeys(outputPath: string, version: string) {
  const folder = `${outputPath}/${version}`;
  return {
    folder,
    dataFile: (index: number) => `${folder}/part-${String(index).padStart(5, '0')}.parquet`,
    manifest: `${folder}/manifest.json`,
    latest: `${outputPath}/_latest.json`,
  };
}
