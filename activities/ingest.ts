import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventStreamSpec } from '../core/definitions/specs.ts';
import { FlywheelError, NotFoundError } from '../core/errors.ts';
import { findRefusedEvents, type RefusedEvent } from '../core/ingest/find-refused-events.ts';
import { compileIngestBatch, compileIngestFromTable, compileLastWatermark, compileLedgerRows } from '../core/sql/ingest.ts';
import { compileQuarantineCounts, compileQuarantineEvents } from '../core/sql/quarantine.ts';
import { compileWarehouseObjects, ingestQuarantineTableNode } from '../core/sql/warehouse-objects.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { isPrimaryKeyViolation } from '../connectors/offline/primary-key-violation.ts';
import { rowRejectionReason } from '../connectors/offline/row-rejection.ts';
import { writeQuarantineCount } from '../connectors/log-store/quarantine-counts.ts';
import { ObjectStoreSegmentStore, type SealedSegmentRef } from '../connectors/log-store/index.ts';
import { readSegmentPayloads } from '../connectors/log-store/segment-log/index.ts';
import { stageSegmentLines } from '../connectors/log-store/segment-log/read-segment.ts';
import { withEngine, type ActivityDeps } from './deps.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';
import { eventIdOf, warehouseProbe, writeLines } from './probe-events.ts';

/** A sealed segment in the object store: its stream, the node that wrote it, its id there. */
export type SegmentRef = SealedSegmentRef;

/** The ledger's batch (and the rows' `_batch`) of a segment: unique across nodes. */
export function segmentBatch(ref: SegmentRef): string {
  return `${ref.node}/${ref.segmentId}`;
}

export interface IngestedBatch {
  readonly stream: string;
  readonly batch: string;
  /** Rows the batch stored (events whose ids were already in the table are not counted). */
  readonly rows: number;
  /** Events of the batch this run put in quarantine, refused by the warehouse (0 when the batch was loaded before). */
  readonly quarantined: number;
  /** True when the ledger already held the batch: nothing was written this time. */
  readonly alreadyLoaded: boolean;
}

/**
 * Ingestion: closed log segments (and external tables) into a stream's warehouse table, exactly
 * once. The rows and the ledger row are written in one transaction, and a batch already in the ledger
 * is skipped, so a retried or repeated load changes nothing. Segments are downloaded from the object
 * store (where each log API node uploads them, connectors/log-store) into a scratch folder of the
 * activity's own, checked against their SHA-256, and deleted from the store only after their load
 * committed.
 *
 * Events the warehouse refuses do not hold a segment up: when the load of a whole segment is refused
 * for its rows (rowRejectionReason), the refused events are found by bisection (findRefusedEvents),
 * and the others are loaded with the refused ones put in the quarantine table, in one transaction
 * with the ledger row (docs/collect.md, "Quarantine").
 */
export function createIngestActivities(deps: ActivityDeps) {
  // Sealed segments are read from the object store only, never from a log API node's disk.
  const segments = new ObjectStoreSegmentStore(deps.objectStore);
  const streamSpec = async (engine: OfflineEngine, name: string): Promise<EventStreamSpec> => {
    const applied = await deps.registry(engine).latest(deps.project);
    const stream = applied?.spec.eventStreams?.[name];
    if (!stream) throw new NotFoundError('event stream', name, 'Apply a definition of it (flywheel apply) before sending events');
    return stream;
  };
  const ledgerRows = async (engine: { all: OfflineEngine['all']; dialect: OfflineEngine['dialect'] }, stream: string, batch: string) => {
    const [row] = await engine.all<{ rows: number }>(compileLedgerRows(stream, batch, engine.dialect));
    return row === undefined ? undefined : Number(row.rows);
  };

  /**
   * Loads the events of a segment the warehouse takes and quarantines the others, in one transaction
   * with the ledger row: reads the segment's records again (checksums verified), finds the refused
   * ones by trying runs of events in transactions rolled back, then commits. A retry after a failure
   * finds nothing committed and does it all again; a retry after the commit finds the ledger row.
   */
  const loadAroundRefused = async (engine: OfflineEngine, stream: EventStreamSpec, segmentId: string, path: string, reason: string, scratchDir: string): Promise<IngestedBatch> => {
    const lines: Buffer[] = [];
    for await (const payload of readSegmentPayloads(path)) lines.push(Buffer.from(payload));
    const scratch = join(scratchDir, 'quarantine');
    let probes = 0;
    try {
      const refused = await withHeartbeats(
        () => findRefusedEvents(lines.length, warehouseProbe(engine, stream, { lines, batch: segmentId, path: `${scratch}.probe.ndjson`, label: `${segmentId}.seg` }), {
          knownRefused: reason, // the load of the whole segment was just refused for its rows
          maxProbes: MAX_PROBES,
          onProbe: (n) => (probes = n),
        }),
        () => ({ stage: 'quarantine', segment: segmentId, events: lines.length, probes }),
      );
      const refusedAt = new Set(refused.map((r) => r.index));
      const good = lines.filter((_, index) => !refusedAt.has(index));
      await writeLines(`${scratch}.good.ndjson`, good);
      // A warehouse applied before the quarantine existed gets it here (apply creates it too).
      for (const statement of compileWarehouseObjects([ingestQuarantineTableNode()], engine.dialect)) await engine.run(statement);
      const goodFiles = await engine.stageFiles([`${scratch}.good.ndjson`], { name: `${segmentId}-good`, format: 'jsonLines' });
      const [insertRows, insertLedger] = compileIngestBatch(stream, { batch: segmentId, stagingRelation: { kind: 'staged', files: goodFiles } }, engine.dialect);
      const quarantine = compileQuarantineEvents(refused.map((r) => ({
        stream: stream.name, batch: segmentId, eventIndex: r.index, eventId: eventIdOf(lines[r.index]!), event: lines[r.index]!.toString('utf8'), error: quarantineReason(r),
      })), engine.dialect);
      const { rows, waiting } = await withHeartbeats(
        () =>
          engine.transaction(async (tx) => {
            if (good.length > 0) await tx.run(insertRows!);
            for (const statement of quarantine) await tx.run(statement);
            await tx.run(insertLedger!);
            const counts = await tx.all<{ stream: string; events: number }>(compileQuarantineCounts(engine.dialect));
            return {
              rows: (await ledgerRows({ all: (q) => tx.all(q), dialect: engine.dialect }, stream.name, segmentId)) ?? 0,
              waiting: Number(counts.find((c) => c.stream === stream.name)?.events ?? 0),
            };
          }),
        () => ({ stage: 'load', segment: segmentId }),
      ).finally(() => engine.unstageFiles(goodFiles));
      await writeQuarantineCount(deps.objectStore, stream.name, waiting);
      return { stream: stream.name, batch: segmentId, rows, quarantined: refused.length, alreadyLoaded: false };
    } finally {
      await rm(`${scratch}.probe.ndjson`, { force: true });
      await rm(`${scratch}.good.ndjson`, { force: true });
    }
  };

  return {
    /** Loads one closed segment into its stream's table (or finds it already loaded), quarantining the events the warehouse refuses. */
    async ingestSegment(segment: SegmentRef): Promise<IngestedBatch> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const stream = await streamSpec(engine, segment.stream);
          const batch = segmentBatch(segment);
          const before = await ledgerRows(engine, stream.name, batch);
          if (before !== undefined) return { stream: stream.name, batch, rows: before, quarantined: 0, alreadyLoaded: true };
          // A folder of this attempt's own: nothing in it is read by any other activity.
          const scratchDir = await mkdtemp(join(deps.scratchDir, `ingest-${stream.name}-`));
          const path = join(scratchDir, `${segment.segmentId}.seg`);
          const ndjson = join(scratchDir, `${segment.segmentId}.ndjson`);
          try {
            await withHeartbeats(() => segments.download(segment, path), () => ({ stage: 'download', segment: batch }));
            const staged = await withHeartbeats(() => stageSegmentLines(path, ndjson), () => ({ stage: 'read', segment: segment.segmentId }));
            // The warehouse reads the lines through a stage (DuckDB: the file where it is; Snowflake: a PUT copy).
            const files = await engine.stageFiles([ndjson], { name: segment.segmentId, format: 'jsonLines' });
            const load = (dedupe: 'statement' | 'primaryKey') => {
              const [insertRows, ...rest] = compileIngestBatch(stream, { batch, stagingRelation: { kind: 'staged', files }, dedupe }, engine.dialect);
              return withHeartbeats(
                () =>
                  engine.transaction(async (tx) => {
                    // The checksums are checked while the warehouse reads the lines, and hold before COMMIT;
                    // a corrupt segment is refused as such, whatever the insert made of its bytes.
                    const [inserted, verified] = await Promise.allSettled([tx.run(insertRows!), staged.verify()]);
                    if (verified.status === 'rejected') throw verified.reason;
                    if (inserted.status === 'rejected') throw inserted.reason;
                    for (const statement of rest) await tx.run(statement);
                    return ledgerRows({ all: (q) => tx.all(q), dialect: engine.dialect }, stream.name, batch);
                  }),
                () => ({ stage: 'load', segment: batch }),
              );
            };
            // A segment's ids are almost always new: the log server drops ids it saw recently. So load
            // it as a plain insert first, which the primary key refuses when an id is stored already or
            // repeats within the segment; then load it again with the statement that drops those (an
            // anti-join against the whole table and a sort of the segment, which also keep DuckDB from
            // writing the rows in parallel straight to the file).
            let rows: number | undefined;
            try {
              if (engine.dialect.enforcesPrimaryKeys) {
                try {
                  rows = await load('primaryKey');
                } catch (error) {
                  if (!isPrimaryKeyViolation(error)) throw error;
                  rows = await load('statement');
                }
              } else {
                rows = await load('statement');
              }
            } catch (error) {
              // Refused for its rows (a corrupt segment, a lost connection, a full disk are not): load
              // what the warehouse takes, quarantine the rest.
              const reason = rowRejectionReason(error);
              if (reason === undefined) throw error;
              return await loadAroundRefused(engine, stream, batch, path, reason.replaceAll(ndjson, `${batch}.seg`), scratchDir);
            }
            await engine.unstageFiles(files);
            return { stream: stream.name, batch, rows: rows ?? 0, quarantined: 0, alreadyLoaded: false };
          } finally {
            await rm(scratchDir, { recursive: true, force: true });
          }
        }),
      );
    },

    /**
     * Deletes a loaded segment from the object store, or moves it to the archive
     * (`_log/loaded/<stream>/<node>/`) with `keep`. Refuses when the ledger does not hold it: a
     * segment is never removed before its rows are in the warehouse.
     */
    async archiveSegment(input: SegmentRef & { keep: boolean }): Promise<void> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          if ((await ledgerRows(engine, input.stream, segmentBatch(input))) === undefined) {
            throw new FlywheelError(`Segment ${input.segmentId} of stream ${input.stream} from node ${input.node} is not in the ingest ledger; it is kept`);
          }
          // Gone already when an earlier attempt archived it: changes nothing then.
          await segments.delete({ stream: input.stream, node: input.node, segmentId: input.segmentId }, { keep: input.keep });
        }),
      );
    },

    /** Sealed segments in the object store waiting to be loaded, oldest first, for the safety-net run (or of one `stream`, for the loop's ingest stage). */
    async listPendingSegments(input: { limit: number; stream?: string }): Promise<SegmentRef[]> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const applied = await deps.registry(engine).latest(deps.project);
          const pending: SegmentRef[] = [];
          for (const stream of Object.values(applied?.spec.eventStreams ?? {})) {
            if (stream.from || (input.stream !== undefined && stream.name !== input.stream)) continue;
            for (const segment of await segments.list(stream.name)) {
              if (pending.length >= input.limit) return pending;
              pending.push(segment);
            }
          }
          return pending;
        }),
      );
    },

    /** The streams declared over external tables (`from`), which are ingested by watermark. */
    async listTableStreams(): Promise<string[]> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const applied = await deps.registry(engine).latest(deps.project);
          return Object.values(applied?.spec.eventStreams ?? {}).filter((s) => s.from).map((s) => s.name).sort();
        }),
      );
    },

    /** Loads the rows an external table gained since the last watermark (minus the lookback), exactly once. */
    async ingestFromTable(input: { stream: string; now: string }): Promise<IngestedBatch & { watermark: string | null }> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const stream = await streamSpec(engine, input.stream);
          if (!stream.from) throw new FlywheelError(`Stream ${stream.name} is not declared over a table (from); its events come through the log API`);
          return withHeartbeats(
            () =>
              engine.transaction(async (tx) => {
                const [last] = await tx.all<{ watermark: string | null }>(compileLastWatermark(stream, engine.dialect));
                const load = compileIngestFromTable(stream, { watermark: last?.watermark ?? undefined, now: input.now }, engine.dialect);
                const [next] = await tx.all<{ watermark: string | null }>(load.nextWatermark);
                if (!next?.watermark) return { stream: stream.name, batch: '', rows: 0, quarantined: 0, alreadyLoaded: true, watermark: last?.watermark ?? null };
                const batch = load.load(next.watermark);
                for (const statement of batch.statements) await tx.run(statement);
                const rows = await ledgerRows({ all: (q) => tx.all(q), dialect: engine.dialect }, stream.name, batch.batch);
                return { stream: stream.name, batch: batch.batch, rows: rows ?? 0, quarantined: 0, alreadyLoaded: false, watermark: batch.watermark };
              }),
            () => ({ stage: 'load', stream: input.stream }),
          );
        }),
      );
    },
  };
}

/**
 * The most tries spent finding a segment's refused events (each a small transaction rolled back, ~10 ms
 * on DuckDB): past it, runs still refused are quarantined whole (a replay sorts them out), so a
 * segment of nothing but refused events takes seconds, not the activity's whole timeout.
 */
export const MAX_PROBES = 2_000;

/** The reason kept for a refused event: the warehouse's, saying so when it refused the event with others. */
export function quarantineReason(refused: RefusedEvent): string {
  return refused.alone ? refused.reason : `Not tried alone (too many refused events to try each); refused with the events around it: ${refused.reason}`;
}

export type IngestActivities = ReturnType<typeof createIngestActivities>;
