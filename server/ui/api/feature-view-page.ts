import { WarehouseMaterializationState } from '../../../connectors/registry/materialization-state.ts';
import type { OnlineKeyPart } from '../../../connectors/online-store/online-store.ts';
import type { FeatureViewSpec, ProjectSpec } from '../../../core/definitions/specs.ts';
import { FlywheelError } from '../../../core/errors.ts';
import { materializationStatus, type ViewMaterializationStatus } from '../../../core/materialization/status.ts';
import { sql } from '../../../core/sql/compiled-query.ts';
import { compileLatestValues } from '../../../core/sql/latest-values.ts';
import { featureViewColumns } from '../../../core/sql/warehouse-objects.ts';
import { isNumericType } from '../../../core/training-set/consistency.ts';
import { definitionTypeScript } from '../definition-typescript.ts';
import type { RunSummary } from '../temporal-runs.ts';
import type { UiSources } from '../ui-sources.ts';
import { valueHistogram, type SampleValue, type ValueHistogram } from '../value-histogram.ts';
import { appliedObject, readApplied } from './applied.ts';
import { recentRuns } from './runs-index.ts';

/** Entities in the skew sample: the first ones by join key, so the same sample on every load. */
export const HISTOGRAM_SAMPLE = 500;

/** Thrown when the skew histogram is asked for a feature the view does not have. */
export class UnknownFeatureError extends FlywheelError {
  readonly view: string;
  readonly feature: string;
  constructor(view: string, feature: string, features: readonly string[]) {
    super(`Feature view "${view}" has no feature "${feature}"; its features are ${features.join(', ')}`);
    this.view = view;
    this.feature = feature;
  }
}

/** `GET /api/feature-views/:name[?feature=]`. */
export interface FeatureViewPage {
  readonly name: string;
  readonly registryVersion: number;
  readonly now: string;
  readonly typescript: string;
  readonly source: { readonly name: string; readonly kind: 'source' | 'eventStream'; readonly href: string };
  readonly entities: readonly string[];
  readonly joinKeys: readonly string[];
  readonly features: readonly { readonly name: string; readonly type: string }[];
  readonly ttlSeconds: number | null;
  readonly online: boolean;
  /** The materialization status (`flywheel status`), null for an offline-only view. */
  readonly status: ViewMaterializationStatus | null;
  /**
   * The watermark's age over time: at the end of each completed materialization (the age of the
   * instant it materialized as of, when it ended), then now (the stored watermark's age). Oldest first.
   */
  readonly freshness: readonly { readonly at: string; readonly ageSeconds: number }[];
  readonly runs: readonly RunSummary[];
  readonly runsUnavailable: string | null;
  /** Null for an offline-only view (nothing online to compare). */
  readonly histogram: ValueHistogram | null;
  /** Why there is no histogram, when there is none. */
  readonly histogramUnavailable: string | null;
}

export async function featureViewPage(sources: UiSources, name: string, feature: string | undefined): Promise<FeatureViewPage> {
  const now = sources.now();
  const applied = await readApplied(sources);
  const view = appliedObject(applied.spec, 'featureView', name);
  const features = view.features.map((f) => f.name);
  if (feature !== undefined && !features.includes(feature)) throw new UnknownFeatureError(name, feature, features);
  const chosen = view.features.find((f) => f.name === feature) ?? view.features.find((f) => isNumericType(f.type)) ?? view.features[0]!;
  const columns = featureViewColumns(view, applied.spec);

  const { state, sample } = await sources.warehouse.read(async (engine) => {
    const stored = view.online ? await new WarehouseMaterializationState(engine).get(sources.project, name) : undefined;
    const latest = compileLatestValues(view, applied.spec, engine.dialect, { asOf: now.toISOString() });
    const rows = view.online ? await engine.all(sql(`SELECT * FROM (\n${latest.sql}\n) AS __fw_sample LIMIT ${HISTOGRAM_SAMPLE}`, latest.parameters)) : [];
    return { state: stored, sample: rows };
  });
  const status = view.online ? materializationStatus(view, applied.spec, state, now) : null;
  const { runs, unavailable } = await recentRuns(sources, { kind: 'materialization', object: name, limit: 50 });

  const freshness = [
    ...runs
      .filter((run) => run.status === 'COMPLETED' && run.closeTime !== null && run.rangeEnd !== null)
      .map((run) => ({ at: run.closeTime!, ageSeconds: Math.max(0, Math.round((Date.parse(run.closeTime!) - Date.parse(run.rangeEnd!)) / 1000)) }))
      .reverse(),
    ...(status?.ageSeconds != null ? [{ at: now.toISOString(), ageSeconds: status.ageSeconds }] : []),
  ];

  let histogram: ValueHistogram | null = null;
  let histogramUnavailable: string | null = view.online ? null : 'an offline-only view has no online values to compare';
  if (view.online && sources.onlineStore) {
    const keys = sample.map((row) => columns.joinKeys.map((k) => row[k.name] as OnlineKeyPart));
    const online = await sources.onlineStore.read(keys.map((key) => ({ view: name, key, features: [chosen.name], ttlSeconds: view.ttlSeconds })), now);
    histogram = valueHistogram(chosen.name, chosen.type, sample.map((row) => (row[chosen.name] ?? null) as SampleValue), online.map((value) => (value.status === 'present' ? (value.values[chosen.name] ?? null) : null)));
  } else if (view.online) {
    histogramUnavailable = 'the online store is not open';
  }

  return {
    name,
    registryVersion: applied.version,
    now: now.toISOString(),
    typescript: definitionTypeScript(view),
    source: sourceOf(view, applied.spec),
    entities: view.entities,
    joinKeys: columns.joinKeys.map((k) => k.name),
    features: view.features.map((f) => ({ name: f.name, type: f.type })),
    ttlSeconds: view.ttlSeconds,
    online: view.online,
    status,
    freshness,
    runs,
    runsUnavailable: unavailable,
    histogram,
    histogramUnavailable,
  };
}

function sourceOf(view: FeatureViewSpec, spec: ProjectSpec): FeatureViewPage['source'] {
  const stream = spec.eventStreams[view.source] !== undefined;
  return { name: view.source, kind: stream ? 'eventStream' : 'source', href: stream ? `/streams/${encodeURIComponent(view.source)}` : `/definitions/source/${encodeURIComponent(view.source)}` };
}
