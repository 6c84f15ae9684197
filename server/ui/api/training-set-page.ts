import { readConsistencyReport, readDatasetManifest, readPartitionManifest } from '../../../connectors/object-store/dataset-manifests.ts';
import type { ProjectSpec, TrainingSetSpec } from '../../../core/definitions/specs.ts';
import { NotFoundError } from '../../../core/errors.ts';
import type { ConsistencyReport } from '../../../core/training-set/consistency.ts';
import { datasetLayout, type PartitionManifest } from '../../../core/training-set/manifest.ts';
import { definitionTypeScript } from '../definition-typescript.ts';
import { readSnippets, type ReadSnippets } from '../read-snippets.ts';
import type { UiSources } from '../ui-sources.ts';
import { appliedObject, readApplied } from './applied.ts';

/** Partition manifests read per page (for sizes and versions): the newest ones past this are summarized from the index. */
export const PARTITION_MANIFESTS_PER_PAGE = 200;

/** Where a column's values came from: the spine (keys, time, label), the decision log, the point-in-time join, or both. */
export type ColumnProvenance = 'spine' | 'logged' | 'recomputed' | 'logged and recomputed';

/** `GET /api/training-sets/:name[?version=]`. */
export interface TrainingSetPage {
  readonly name: string;
  readonly registryVersion: number;
  readonly typescript: string;
  readonly uri: string;
  readonly spine: string;
  /** Null when nothing was published yet. */
  readonly dataset: {
    readonly updatedAt: string;
    readonly rowCount: number;
    readonly bytes: number;
    readonly partitionBy: string;
    /** The runs that wrote the published partitions, newest first. */
    readonly versions: readonly { readonly version: string; readonly createdAt: string | null; readonly registryVersion: number; readonly partitions: number; readonly rows: number }[];
    readonly partitions: readonly { readonly key: string; readonly start: string | null; readonly end: string | null; readonly rows: number; readonly bytes: number | null; readonly files: number | null; readonly version: string; readonly registryVersion: number }[];
    readonly columns: readonly { readonly name: string; readonly type: string; readonly provenance: ColumnProvenance; readonly log: number | null; readonly join: number | null }[];
  } | null;
  /** Null unless the training set takes its features from a decision log. */
  readonly consistency: {
    readonly rows: number;
    readonly rowsWithLog: number;
    readonly features: readonly { readonly name: string; readonly compared: number; readonly differing: number; readonly differingShare: number | null }[];
    readonly partitions: ConsistencyReport['partitions'];
  } | null;
  /** The version the snippets read: every published partition (`current`) or those one run wrote. */
  readonly snippetVersion: string;
  readonly snippets: ReadSnippets;
}

export async function trainingSetPage(sources: UiSources, name: string, version: string | undefined): Promise<TrainingSetPage> {
  const applied = await readApplied(sources);
  const spec = appliedObject(applied.spec, 'trainingSet', name);
  const store = sources.objectStore;
  const manifest = await readDatasetManifest(store, spec);
  const uri = store.uri(datasetLayout(spec.output.path).root);
  const base = { name, registryVersion: applied.version, typescript: definitionTypeScript(spec), uri, spine: typeof spec.spine === 'string' ? spec.spine : `labels ${spec.spine.labels}${spec.spine.fromLog ? ' (features from the decision log)' : ''}` };
  if (!manifest) return { ...base, dataset: null, consistency: null, snippetVersion: 'current', snippets: readSnippets([]) };
  if (version !== undefined && !manifest.partitions.some((p) => p.version === version)) {
    throw new NotFoundError(`version of training set "${name}"`, version, `Versions published: ${[...new Set(manifest.partitions.map((p) => p.version))].join(', ')}`);
  }
  const wanted = manifest.partitions.slice(-PARTITION_MANIFESTS_PER_PAGE);
  const manifests = new Map<string, PartitionManifest>();
  await Promise.all(wanted.map(async (p) => {
    const partition = await readPartitionManifest(store, spec, p.key);
    if (partition) manifests.set(p.key, partition);
  }));
  const partitions = manifest.partitions.map((p) => {
    const m = manifests.get(p.key);
    return { key: p.key, start: p.start, end: p.end, rows: p.rowCount, bytes: m ? m.files.reduce((n, f) => n + f.bytes, 0) : null, files: m ? m.files.length : null, version: p.version, registryVersion: p.registryVersion };
  });
  const versions = new Map<string, { version: string; createdAt: string | null; registryVersion: number; partitions: number; rows: number }>();
  for (const p of manifest.partitions) {
    const entry = versions.get(p.version) ?? { version: p.version, createdAt: manifests.get(p.key)?.createdAt ?? null, registryVersion: p.registryVersion, partitions: 0, rows: 0 };
    entry.partitions += 1;
    entry.rows += p.rowCount;
    versions.set(p.version, entry);
  }
  const features = featureNames(spec, applied.spec);
  const columns = manifest.schema.map((column) => {
    const counts = manifest.sources?.[column.name];
    const provenance: ColumnProvenance = counts ? (counts.join === 0 ? 'logged' : counts.log === 0 ? 'recomputed' : 'logged and recomputed') : features.has(column.name) ? 'recomputed' : 'spine';
    return { name: column.name, type: column.type, provenance, log: counts?.log ?? null, join: counts?.join ?? null };
  });
  const report = await readConsistencyReport(store, spec);
  const read = manifest.partitions.filter((p) => version === undefined || p.version === version);
  const files = read.flatMap((p) => manifests.get(p.key)?.files.map((f) => f.uri) ?? []);
  return {
    ...base,
    dataset: {
      updatedAt: manifest.updatedAt, rowCount: manifest.rowCount, bytes: partitions.reduce((n, p) => n + (p.bytes ?? 0), 0), partitionBy: manifest.partitionBy,
      versions: [...versions.values()].sort((a, b) => (a.version < b.version ? 1 : a.version > b.version ? -1 : 0)),
      partitions, columns,
    },
    consistency: report
      ? {
          rows: report.rows, rowsWithLog: report.rowsWithLog,
          features: Object.entries(report.features).sort(([a], [b]) => (a < b ? -1 : 1)).map(([feature, f]) => ({ name: feature, compared: f.compared, differing: f.differing, differingShare: f.differingShare })),
          partitions: report.partitions,
        }
      : null,
    snippetVersion: version ?? 'current',
    snippets: readSnippets(files),
  };
}

/** The feature columns of the training set: its service's or its views' selected features. */
function featureNames(spec: TrainingSetSpec, project: ProjectSpec): Set<string> {
  const selections = 'service' in spec.features ? project.featureServices[spec.features.service]?.features ?? [] : spec.features.views;
  return new Set(selections.flatMap((s) => s.features));
}
