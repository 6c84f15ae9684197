import type { ValueType } from '../types.ts';

/**
 * Normalized, JSON-serializable specs: what validation produces from the builders' input, what the
 * registry stores, what plan diffs and what workers read back from the warehouse. References between
 * objects are by name.
 */

export interface ColumnSpec {
  readonly name: string;
  readonly type: ValueType;
  readonly description?: string;
}

export interface EntitySpec {
  readonly kind: 'entity';
  readonly name: string;
  readonly joinKeys: readonly ColumnSpec[];
  readonly description?: string;
}

export type SourceLocation =
  | { readonly type: 'table'; readonly table: string }
  | { readonly type: 'query'; readonly query: string }
  | { readonly type: 'parquet'; readonly path: string };

export interface SourceSpec {
  readonly kind: 'source';
  readonly name: string;
  readonly location: SourceLocation;
  readonly timestampField: string;
  readonly createdTimestampField?: string;
  readonly columns: readonly ColumnSpec[];
  readonly description?: string;
  readonly owner?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface FeatureViewSpec {
  readonly kind: 'featureView';
  readonly name: string;
  readonly entities: readonly string[];
  readonly source: string;
  readonly features: readonly ColumnSpec[];
  /** SQL over the source, which it names as `{{source}}`; its output holds the join keys, the timestamp and the features. */
  readonly transformation?: string;
  /** Values older than this (relative to the time they are read as of) read as null; null means no limit. */
  readonly ttlSeconds: number | null;
  readonly online: boolean;
  readonly offline: boolean;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface FeatureSelection {
  readonly view: string;
  readonly features: readonly string[];
}

export interface FeatureServiceSpec {
  readonly kind: 'featureService';
  readonly name: string;
  readonly features: readonly FeatureSelection[];
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export type TrainingSetFeatures =
  | { readonly service: string }
  | { readonly views: readonly FeatureSelection[] };

export interface TrainingSetOutput {
  readonly format: 'parquet';
  /** Key prefix in the object store under which each run's dataset is written. */
  readonly path: string;
}

export interface TrainingSetSpec {
  readonly kind: 'trainingSet';
  readonly name: string;
  /** A source whose rows (entity keys, a timestamp, and any label columns) are the rows of the training set. */
  readonly spine: string;
  readonly features: TrainingSetFeatures;
  readonly output: TrainingSetOutput;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export type DefinitionSpec = EntitySpec | SourceSpec | FeatureViewSpec | FeatureServiceSpec | TrainingSetSpec;
export type DefinitionKind = DefinitionSpec['kind'];

export const DEFINITION_KINDS = ['entity', 'source', 'featureView', 'featureService', 'trainingSet'] as const satisfies readonly DefinitionKind[];

/** Everything a project declares, by kind and name. Produced by validateProject; stored as a registry version. */
export interface ProjectSpec {
  readonly entities: Readonly<Record<string, EntitySpec>>;
  readonly sources: Readonly<Record<string, SourceSpec>>;
  readonly featureViews: Readonly<Record<string, FeatureViewSpec>>;
  readonly featureServices: Readonly<Record<string, FeatureServiceSpec>>;
  readonly trainingSets: Readonly<Record<string, TrainingSetSpec>>;
}

export const COLLECTION_OF_KIND = {
  entity: 'entities',
  source: 'sources',
  featureView: 'featureViews',
  featureService: 'featureServices',
  trainingSet: 'trainingSets',
} as const satisfies Record<DefinitionKind, keyof ProjectSpec>;

export function emptyProject(): ProjectSpec {
  return { entities: {}, sources: {}, featureViews: {}, featureServices: {}, trainingSets: {} };
}
