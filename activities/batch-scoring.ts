import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.ts';
import { withEngine } from './deps.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';
import { NotFoundError } from '../core/errors.ts';
import { ModelScoringError } from '../core/models/errors.ts';
import {
  compileCreatePredictions,
  compileDeletePredictions,
  compileDeleteRunChunkPredictions,
  compileDeleteSpinePredictions,
  compileInsertPredictions,
  compileScoringChunk,
  compileScoringFeatures,
  compileScoringSpine,
  resolveBatchScoring,
  scoringTableName,
  type BatchSpineInput,
  type ResolvedBatchScoring,
} from '../core/models/batch-scoring.ts';
import { BatchSpineError } from '../core/models/errors.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { compileDropTable } from '../core/sql/tables.ts';
import type { CompiledQuery } from '../core/sql/compiled-query.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { loadModelVersion } from '../connectors/model-runtime/load-model-version.ts';
import { resolveModelVersion } from '../connectors/model-store/model-store.ts';
import { batchDecisionNode, batchDecisionRecords, batchDecisionSegmentId, batchDecisionStream, rowAsOf } from '../core/models/batch-decisions.ts';
import { ObjectStoreSegmentStore, type SealedSegmentRef } from '../connectors/log-store/index.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';

/** What a batch-scoring run works on, fixed by its first activity and passed by reference. */
export interface BatchScoringPlan {
  readonly model: string;
  /** The model version scored (the promoted one when none was named), fixed for the run. */
  readonly version: string;
  /** The instant every row is scored as of; null: each spine row as of its own time. */
  readonly asOf: string | null;
  /** The spine's source name, or its file's URI. */
  readonly spine: string;
  readonly spineInput: BatchSpineInput;
  readonly registryVersion: number;
  /** The run's table of spine rows with features (dropped by finishBatchScoring). */
  readonly scoringTable: string;
  readonly rowCount: number;
  readonly chunkSize: number;
  readonly chunks: number;
  /** The decision stream the predictions are logged to, or null when the model's service does not log. */
  readonly decisionStream: string | null;
  /** Every logged decision's `_received_at` (the run's start): a chunk done again logs the same bytes. */
  readonly loggedAt?: string;
}

export interface ScoreChunksProgress {
  /** The next chunk to score; every chunk before it is written. */
  readonly next: number;
  readonly rowsScored: number;
  /**
   * The sealed segments of the decision stream holding the decisions of chunks [from, to) (none when
   * the service does not log), for the workflow to ingest: one per chunk, named by run and chunk.
   */
  readonly segments?: readonly SealedSegmentRef[];
}

/**
 * Writes a chunk's decisions as a sealed segment in the object store, as a log API node uploads one
 * (its bytes, then its manifest): from a scratch file of this call's own.
 */
async function logSealedSegment(store: ObjectStoreSegmentStore, ref: SealedSegmentRef, records: readonly string[], scratchDir: string): Promise<void> {
  const dir = await mkdtemp(join(scratchDir, 'batch-decisions-'));
  try {
    const path = join(dir, `${ref.segmentId}.seg`);
    await writeFile(path, encodeRecords(records));
    await store.upload(ref, path, records.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Rows per INSERT statement (one chunk is several, in one transaction). */
const INSERT_ROWS = 500;

export function createBatchScoringActivities(deps: ActivityDeps) {
  const appliedSpec = async (engine: Parameters<ActivityDeps['registry']>[0], registryVersion?: number): Promise<{ version: number; spec: ProjectSpec }> => {
    const registry = deps.registry(engine);
    const applied = registryVersion === undefined ? await registry.latest(deps.project) : await registry.get(deps.project, registryVersion);
    if (!applied) throw new NotFoundError('registry', deps.project, 'Run `flywheel apply` first');
    return applied;
  };

  return {
    /**
     * Pins the model version and registry version, computes the spine's features as of `asOf` into the
     * run's scoring table, creates the predictions table if needed, and clears the predictions an
     * earlier run of the same (as_of, version) wrote, so a re-run replaces them rather than adding to
     * them (its logged decisions stay: a log keeps them, and ingestion stores their ids once).
     */
    async planBatchScoring(input: { model: string; version?: string; asOf: string | null; spine?: string; spineTimeColumn?: string; chunkSize?: number; runKey: string; loggedAt?: string }): Promise<BatchScoringPlan> {
      // One spelling of the instant (milliseconds, Z), so every run as of it names its rows the same.
      const asOf = input.asOf === null ? null : new Date(input.asOf).toISOString();
      return atBoundary(() =>
        withHeartbeats(() => withEngine(deps, async (engine) => {
          const applied = await appliedSpec(engine);
          const spineInput = batchSpineInput(applied.spec, input.model, input.spine, input.spineTimeColumn);
          const resolved = resolveBatchScoring(applied.spec, input.model, spineInput);
          const manifest = await resolveModelVersion(deps.objectStore, input.model, input.version);
          const dialect = engine.dialect;
          const spineTable = `${scoringTableName(input.model, input.runKey)}_spine`;
          const scoringTable = scoringTableName(input.model, input.runKey);
          await withSpineRelation(engine, resolved, spineInput, input.runKey, (spine) =>
            engine.run(asCreateTable(spineTable, compileScoringSpine(spine, asOf, dialect), dialect)));
          await engine.run(asCreateTable(scoringTable, compileScoringFeatures(applied.spec, resolved, spineTable, dialect), dialect));
          await engine.run(compileDropTable(spineTable, dialect));
          const [{ n }] = (await engine.all<{ n: number }>({ sql: `SELECT count(*) AS ${dialect.identifier('n')} FROM ${dialect.qualified(scoringTable)}`, parameters: [] })) as [{ n: number }];
          await engine.run(compileCreatePredictions(resolved, dialect));
          const stream = batchDecisionStream(applied.spec, resolved);
          const spine = spineInput.kind === 'file' ? spineInput.uri : spineInput.name;
          // As of an instant: every row of that instant goes; each row at its own time: the rows of this spine's keys and times.
          // Logged decisions stay: a re-run logs the same ids, which ingestion does not store again.
          await engine.run(asOf === null ? compileDeleteSpinePredictions(resolved, scoringTable, manifest.version, dialect) : compileDeletePredictions(input.model, asOf, manifest.version, dialect));
          const chunkSize = input.chunkSize ?? resolved.model.batch?.chunkSize ?? 10_000;
          const rowCount = Number(n);
          return {
            model: input.model, version: manifest.version, asOf, spine, spineInput, registryVersion: applied.version,
            scoringTable, rowCount, chunkSize, chunks: Math.ceil(rowCount / chunkSize), decisionStream: stream?.name ?? null,
            loggedAt: input.loggedAt ?? new Date().toISOString(),
          };
        })),
      );
    },

    /**
     * Scores chunks [from, to) of the plan: each chunk's decisions written as a sealed segment of the
     * decision stream (the same id and bytes when done again), then its predictions in one transaction
     * (its old rows deleted, the new ones inserted), heartbeating the next chunk: a retry resumes there.
     * Returns the chunks' segments for the workflow to ingest.
     */
    async scoreBatchChunks(input: { plan: BatchScoringPlan; runId: string; from: number; to: number }): Promise<ScoreChunksProgress> {
      return atBoundary(async () => {
        const context = Context.current();
        let progress: ScoreChunksProgress = (context.info.heartbeatDetails as ScoreChunksProgress | undefined) ?? { next: input.from, rowsScored: 0 };
        const { plan } = input;
        const segmentStore = new ObjectStoreSegmentStore(deps.objectStore);
        const chunkSegment = (stream: string, chunk: number): SealedSegmentRef => ({ stream, node: batchDecisionNode(plan.model), segmentId: batchDecisionSegmentId(plan, input.runId, chunk) });
        await withHeartbeats(() => withEngine(deps, async (engine) => {
          const applied = await appliedSpec(engine, plan.registryVersion);
          const resolved = resolveBatchScoring(applied.spec, plan.model, plan.spineInput);
          const model = await loadModelVersion({ store: deps.objectStore, definitions: applied.spec, name: plan.model, version: plan.version, ...(deps.projectRoot !== undefined ? { projectRoot: deps.projectRoot } : {}) });
          const stream = batchDecisionStream(applied.spec, resolved);
          const dialect = engine.dialect;
          const loggedAt = plan.loggedAt ?? new Date().toISOString();
          for (let chunk = progress.next; chunk < input.to; chunk++) {
            const rows = { from: chunk * plan.chunkSize, to: Math.min(plan.rowCount, (chunk + 1) * plan.chunkSize) };
            const read = await engine.all(compileScoringChunk(plan.scoringTable, resolved, rows, dialect));
            const scores = await model.score(read).catch((error: unknown) => {
              throw error instanceof ModelScoringError && error.rowIndex !== undefined ? withSpineRow(error, read[error.rowIndex]!, resolved) : error;
            });
            const scoredAt = new Date().toISOString();
            const values = read.map((row, i) => [
              ...resolved.keys.map((k) => row[k.name]), rowAsOf(row), plan.version, scores[i], row['spine_row'], input.runId, scoredAt,
            ]);
            if (stream) {
              const records = batchDecisionRecords(stream, { plan, resolved, runId: input.runId, rows: read, scores, receivedAt: loggedAt });
              await logSealedSegment(segmentStore, chunkSegment(stream.name, chunk), records, deps.scratchDir);
            }
            await engine.transaction(async (tx) => {
              await tx.run(plan.asOf === null
                ? compileDeleteRunChunkPredictions(plan.model, input.runId, plan.version, rows, dialect)
                : compileDeletePredictions(plan.model, plan.asOf, plan.version, dialect, rows));
              for (let i = 0; i < values.length; i += INSERT_ROWS) await tx.run(compileInsertPredictions(resolved, values.slice(i, i + INSERT_ROWS), dialect));
            });
            progress = { next: chunk + 1, rowsScored: progress.rowsScored + read.length };
            context.heartbeat(progress);
          }
        }), () => progress);
        // Every chunk of the range, also those an earlier attempt wrote: their segments are the same.
        const chunks = Array.from({ length: input.to - input.from }, (_, i) => input.from + i);
        return { ...progress, segments: plan.decisionStream === null ? [] : chunks.map((chunk) => chunkSegment(plan.decisionStream!, chunk)) };
      });
    },

    /** Drops the run's scoring table. */
    async finishBatchScoring(input: { plan: BatchScoringPlan }): Promise<void> {
      return atBoundary(() => withEngine(deps, async (engine) => {
        await engine.run(compileDropTable(input.plan.scoringTable, engine.dialect));
      }));
    },
  };
}

export type BatchScoringActivities = ReturnType<typeof createBatchScoringActivities>;

/**
 * `--spine`: a source by name, or a Parquet file by path or URI (a local path is made absolute by
 * the CLI), whose time column is `spineTimeColumn`, else the model's batch spine source's time field.
 */
function batchSpineInput(project: ProjectSpec, model: string, spine: string | undefined, timeColumn: string | undefined): BatchSpineInput {
  const batchSpine = project.models[model]?.batch?.spine;
  if (spine === undefined) {
    if (batchSpine === undefined) resolveBatchScoring(project, model); // throws: no batch spine, naming what to give
    return { kind: 'source', name: batchSpine! };
  }
  if (!isFileSpine(spine)) return { kind: 'source', name: spine };
  if (!/\.parquet$/i.test(spine)) throw new BatchSpineError(spine, 'a file spine is Parquet (.parquet); load a CSV into a source, or write it as Parquet');
  const column = timeColumn ?? (batchSpine !== undefined ? project.sources[batchSpine]?.timestampField : undefined);
  if (column === undefined) throw new BatchSpineError(spine, `give --spine-time-column: model "${model}" has no batch spine whose time field it could use`);
  return { kind: 'file', uri: spine, timeColumn: column };
}

/** A path or URI rather than a source name (source names are identifiers). */
function isFileSpine(spine: string): boolean {
  return /[/\\.:]/.test(spine);
}

/** Runs `work` with the spine readable: a source as is, a file staged for the warehouse (and unstaged after). */
async function withSpineRelation<T>(engine: OfflineEngine, resolved: ResolvedBatchScoring, input: BatchSpineInput, runKey: string, work: (spine: ResolvedBatchScoring) => Promise<T>): Promise<T> {
  if (input.kind === 'source') return work(resolved);
  const staged = await engine.stageFiles([input.uri], { name: `${runKey}-score-spine`, format: 'parquet' });
  try {
    const relation = engine.dialect.readStaged(staged, resolved.spine.columns.map((c) => [c.name, engine.dialect.columnType(c.type)] as const));
    return await work({ ...resolved, relation });
  } finally {
    await engine.unstageFiles(staged);
  }
}

function asCreateTable(table: string, query: CompiledQuery, dialect: { qualified(name: string): string }): CompiledQuery {
  return { sql: `CREATE OR REPLACE TABLE ${dialect.qualified(table)} AS\n${query.sql}`, parameters: query.parameters };
}

/** The model's error, naming the spine row by its keys rather than its place in the chunk. */
function withSpineRow(error: ModelScoringError, row: Readonly<Record<string, unknown>>, resolved: ResolvedBatchScoring): ModelScoringError {
  const keys = resolved.keys.map((k) => `${k.name}=${JSON.stringify(row[k.name])}`).join(', ');
  return new ModelScoringError({ model: error.model, version: error.version, rowIndex: Number(row['spine_row']), reason: `${error.reason}; spine row ${keys}` }, { cause: error });
}
