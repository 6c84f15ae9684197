import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabelDatasetManifest, readLabelPartitionManifest } from '../../../connectors/object-store/dataset-manifests.ts';
import { isDecisionLog, labelColumns, FIRST_OUTCOME_AT_COLUMN } from '../../../core/labels/columns.ts';
import type { LabelBuildCause, LabelPartitionManifest } from '../../../core/labels/manifest.ts';
import { sql } from '../../../core/sql/compiled-query.ts';
import { datasetLayout } from '../../../core/training-set/manifest.ts';
import { definitionTypeScript } from '../definition-typescript.ts';
import { delayHistogram, type DelayBin } from '../outcome-delays.ts';
import type { UiSources } from '../ui-sources.ts';
import { appliedObject, readApplied } from './applied.ts';

/** Partitions whose rows the delay distribution reads: the newest ones (each is copied from the object store). */
export const DELAY_PARTITIONS = 24;

/**
 * A partition's state on the Labels page: `open` (some decisions' windows had not closed when it was
 * built), `late-rebuilt` (its current version was built because outcomes or decisions arrived after
 * the version before), `matured` (every decision's window closed, built with what was there).
 */
export type LabelPartitionState = 'open' | 'matured' | 'late-rebuilt';

const LATE_CAUSES: readonly LabelBuildCause[] = ['late outcomes', 'late decisions'];

/** `GET /api/labels/:name`. */
export interface LabelsPage {
  readonly name: string;
  readonly registryVersion: number;
  readonly typescript: string;
  readonly uri: string;
  readonly decisions: string;
  readonly outcomes: string;
  readonly windowSeconds: number;
  /** Null when nothing was published yet. */
  readonly dataset: {
    readonly updatedAt: string;
    readonly rowCount: number;
    readonly positives: number;
    readonly states: Readonly<Record<LabelPartitionState, number>>;
    readonly partitions: readonly {
      readonly key: string; readonly start: string | null; readonly end: string | null; readonly version: number; readonly state: LabelPartitionState;
      readonly rows: number; readonly positives: number; readonly positiveRate: number | null; readonly reason: string; readonly asOf: string; readonly createdAt: string;
    }[];
  } | null;
  /** Over the newest DELAY_PARTITIONS partitions: rows with an outcome, by its delay after the decision. */
  readonly delays: { readonly partitions: number; readonly rows: number; readonly bins: readonly DelayBin[] } | null;
}

export async function labelsPage(sources: UiSources, name: string): Promise<LabelsPage> {
  const applied = await readApplied(sources);
  const spec = appliedObject(applied.spec, 'labels', name);
  const store = sources.objectStore;
  const manifest = await readLabelDatasetManifest(store, spec);
  const base = {
    name, registryVersion: applied.version, typescript: definitionTypeScript(spec), uri: store.uri(datasetLayout(spec.output.path).root),
    decisions: spec.decisions, outcomes: spec.outcomes, windowSeconds: spec.windowSeconds,
  };
  if (!manifest) return { ...base, dataset: null, delays: null };
  const manifests = new Map<string, LabelPartitionManifest>();
  await Promise.all(manifest.partitions.slice(-200).map(async (p) => {
    const partition = await readLabelPartitionManifest(store, spec, p.key);
    if (partition) manifests.set(p.key, partition);
  }));
  const states: Record<LabelPartitionState, number> = { open: 0, matured: 0, 'late-rebuilt': 0 };
  const partitions = manifest.partitions.map((p) => {
    const causes = manifests.get(p.key)?.causes ?? [];
    const state: LabelPartitionState = !p.complete ? 'open' : causes.some((c) => LATE_CAUSES.includes(c)) ? 'late-rebuilt' : 'matured';
    states[state] += 1;
    return {
      key: p.key, start: p.start, end: p.end, version: p.version, state, rows: p.rowCount, positives: p.positives,
      positiveRate: p.rowCount > 0 ? p.positives / p.rowCount : null, reason: p.reason, asOf: p.asOf, createdAt: p.createdAt,
    };
  });

  // The delays are in the label rows: first_outcome_at minus the decision's time, read from the newest partitions' files.
  const decisions = applied.spec.eventStreams[spec.decisions];
  const outcomes = applied.spec.eventStreams[spec.outcomes];
  let delays: LabelsPage['delays'] = null;
  if (decisions && outcomes) {
    const time = labelColumns(spec, decisions, outcomes, isDecisionLog(applied.spec, spec.decisions)).time;
    const newest = manifest.partitions.slice(-DELAY_PARTITIONS).flatMap((p) => manifests.get(p.key)?.files ?? []);
    const values = await readDelays(sources, newest.map((f) => f.key), time);
    delays = { partitions: Math.min(DELAY_PARTITIONS, manifest.partitions.length), rows: values.length, bins: delayHistogram(values, spec.windowSeconds) };
  }
  return {
    ...base,
    dataset: { updatedAt: manifest.updatedAt, rowCount: manifest.rowCount, positives: manifest.positives, states, partitions },
    delays,
  };
}

/** Copies the files to a temporary folder and reads each row's delay (seconds) through the warehouse engine's Parquet reader. */
async function readDelays(sources: UiSources, keys: readonly string[], timeColumn: string): Promise<number[]> {
  if (keys.length === 0) return [];
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-ui-labels-'));
  try {
    const locals = await Promise.all(keys.map(async (key, i) => {
      const local = join(dir, `${String(i).padStart(5, '0')}.parquet`);
      await sources.objectStore.getFile(key, local);
      return local;
    }));
    return await sources.warehouse.read(async (engine) => {
      const d = engine.dialect;
      const q = d.identifier;
      // Staged as the engine reads files (DuckDB where they are; a warehouse elsewhere through its stage), read as typed columns.
      const staged = await engine.stageFiles(locals, { name: `ui-label-delays-${Date.now()}`, format: 'parquet' });
      try {
        const timestamp = d.columnType('timestamp');
        const relation = d.readStaged(staged, [[timeColumn, timestamp], [FIRST_OUTCOME_AT_COLUMN, timestamp]]);
        const rows = await engine.all<{ delay: number }>(sql(
          `SELECT (${d.epochMicros(d.asInstant(q(FIRST_OUTCOME_AT_COLUMN)))} - ${d.epochMicros(d.asInstant(q(timeColumn)))}) / 1000000.0 AS ${q('delay')} ` +
            `FROM ${relation} WHERE ${q(FIRST_OUTCOME_AT_COLUMN)} IS NOT NULL`,
        ));
        return rows.map((row) => Number(row.delay));
      } finally {
        await engine.unstageFiles(staged);
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
