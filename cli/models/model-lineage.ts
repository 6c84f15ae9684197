import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import { readPartitionManifest } from '../../connectors/object-store/dataset-manifests.ts';
import { readModelVersion, listModelVersions } from '../../connectors/model-store/model-store.ts';
import { DECISION_ID_COLUMN, SCORING_COLUMNS, SERVED_AT_COLUMN } from '../../core/definitions/decision-stream.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { NotFoundError } from '../../core/errors.ts';
import type { ModelVersionManifest } from '../../core/models/manifest.ts';
import type { PartitionManifest } from '../../core/training-set/manifest.ts';
import { eventStreamTableName } from '../../core/sql/warehouse-objects.ts';

/**
 * Lineage (docs/models.md, "Lineage"): a logged decision → the model version that made it → the
 * training-set version it was trained on → each partition's feature views (definition hashes,
 * source watermarks) and label partitions. `flywheel models show` starts at a version, `flywheel
 * models lineage` at a decision id.
 */

/** A decision found in a decision stream's table. */
export interface LoggedDecision {
  readonly decisionId: string;
  /** The decision stream it was logged to. */
  readonly stream: string;
  readonly servedAt: string;
  readonly model: string;
  readonly version: string;
}

/** One partition the version was trained on, with what built it (when its manifest is still that build's). */
export interface TrainedPartition {
  readonly key: string;
  readonly version: string;
  readonly registryVersion: number;
  readonly rowCount: number;
  /** `current`: the partition's manifest is the build trained on; `rebuilt`: a later build replaced it; `missing`: none. */
  readonly manifest: 'current' | 'rebuilt' | 'missing';
  /** The build the partition's manifest is now, when `rebuilt`. */
  readonly currentVersion?: string;
  readonly featureViews?: PartitionManifest['featureViews'];
  readonly sourceWatermarks?: PartitionManifest['sourceWatermarks'];
  readonly labels?: PartitionManifest['spine'];
}

export interface ModelVersionLineage {
  readonly decision?: LoggedDecision;
  readonly model: ModelVersionManifest;
  readonly partitions: readonly TrainedPartition[];
}

/** The version's manifest and, for each partition it was trained on, what built it. */
export async function modelVersionLineage(store: ObjectStore, project: ProjectSpec, name: string, version: string): Promise<ModelVersionLineage> {
  const model = await readModelVersion(store, name, version);
  if (!model) {
    const known = (await listModelVersions(store, name)).map((v) => v.version);
    throw new NotFoundError(`version ${version} of model`, name, known.length > 0 ? `Registered: ${known.join(', ')}` : 'No version is registered');
  }
  const set = project.trainingSets[model.trainedOn.trainingSet];
  const partitions = await Promise.all(model.trainedOn.partitions.map(async (p): Promise<TrainedPartition> => {
    const base = { key: p.key, version: p.version, registryVersion: p.registryVersion, rowCount: p.rowCount };
    const manifest = set ? await readPartitionManifest(store, set, p.key) : undefined;
    if (!manifest) return { ...base, manifest: 'missing' };
    // A partition rebuilt since keeps only its newest manifest: the build trained on is named, not described.
    if (manifest.version !== p.version) return { ...base, manifest: 'rebuilt', currentVersion: manifest.version };
    return { ...base, manifest: 'current', featureViews: manifest.featureViews, sourceWatermarks: manifest.sourceWatermarks, ...(manifest.spine ? { labels: manifest.spine } : {}) };
  }));
  return { model, partitions };
}

/**
 * Finds a decision by id in the decision streams of the services the project's models read (where
 * `/v1/decide` and batch scoring log), and follows it to its model version's lineage.
 */
export async function decisionLineage(engine: OfflineEngine, store: ObjectStore, project: ProjectSpec, decisionId: string): Promise<ModelVersionLineage> {
  const streams = [...new Set(Object.values(project.models).flatMap((m) => {
    const stream = project.featureServices[m.service]?.logging?.stream;
    return stream !== undefined && project.eventStreams[stream] ? [stream] : [];
  }))].sort();
  const id = (c: string) => engine.dialect.identifier(c);
  for (const stream of streams) {
    const table = eventStreamTableName(stream);
    if (!(await engine.tableFacts(table)).isTable) continue;
    const rows = await engine.all({
      sql: `SELECT ${id(SCORING_COLUMNS.model)} AS ${id('model')}, ${id(SCORING_COLUMNS.version)} AS ${id('version')}, ${id(SERVED_AT_COLUMN)} AS ${id('served_at')} FROM ${engine.dialect.qualified(table)} WHERE ${id(DECISION_ID_COLUMN)} = ? AND ${id(SCORING_COLUMNS.model)} IS NOT NULL LIMIT 1`,
      parameters: [decisionId],
    });
    const row = rows[0];
    if (!row) continue;
    const decision: LoggedDecision = {
      decisionId, stream, servedAt: new Date(row['served_at'] as string | Date).toISOString(), model: String(row['model']), version: String(row['version']),
    };
    return { decision, ...(await modelVersionLineage(store, project, decision.model, decision.version)) };
  }
  throw new NotFoundError('scored decision', decisionId, streams.length > 0
    ? `Looked in ${streams.map((s) => eventStreamTableName(s)).join(', ')} (decisions reach them when their stream is ingested)`
    : 'No model reads a feature service with logging, so no decision stream holds scored decisions');
}
