import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, patched, proxyActivities, sleep, startChild, upsertSearchAttributes, workflowInfo, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { IngestActivities, IngestedBatch, SegmentRef } from '../activities/ingest.ts';
import { runSearchAttributes } from './search-attributes.ts';

const { ingestSegment: loadSegment, archiveSegment, listPendingSegments, listTableStreams, ingestFromTable } = proxyActivities<IngestActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

export interface IngestSegmentInput extends SegmentRef {
  readonly project: string;
  /** Keep loaded segments under `_log/loaded/<stream>/<node>/` in the object store instead of deleting them. */
  readonly keep?: boolean;
}

/** The id of a segment's ingestion: one per segment of a node, so starting it twice is refused by Temporal. */
export function ingestSegmentWorkflowId(project: string, segment: SegmentRef): string {
  return `${project}/ingest/${segment.stream}/${segment.node}/${segment.segmentId}`;
}

/**
 * The id of a stream's load (`<project>/ingest-load/<stream>`): every segment of the stream is loaded
 * by a run of loadStreamSegment with this id, and Temporal runs one workflow per id at a time, so two
 * segments of a stream never load at once, whichever node announced them and whichever worker runs them.
 */
export function streamLoadWorkflowId(project: string, stream: string): string {
  return `${project}/ingest-load/${stream}`;
}

/**
 * How long a segment waits before it tries again to take its stream's load from another segment's,
 * by try (then the last, repeated). A load on DuckDB takes tens of milliseconds to a few seconds, so
 * the first waits are short; 2 s keeps a queue of waiting segments from flooding Temporal with tasks.
 */
const LOAD_TAKEN_WAITS_MS = [250, 500, 1_000, 2_000] as const;

export interface LoadStreamSegmentInput extends SegmentRef {
  readonly project: string;
}

/**
 * Loads one segment into its stream's table (the ingestSegment activity); run only as the child of
 * ingestSegment with the stream's load id (streamLoadWorkflowId). Its own workflow so that the id,
 * one running per stream, is the lock.
 */
export async function loadStreamSegment(input: LoadStreamSegmentInput): Promise<IngestedBatch> {
  return loadSegment({ stream: input.stream, node: input.node, segmentId: input.segmentId });
}

/**
 * One loader per stream at a time (docs/collect.md): two loads of segments sharing event ids (a
 * batch a client sent to two nodes) must not overlap. Each load's anti-join sees only what was
 * committed when it began, so on Snowflake, which does not enforce primary keys, both would store the
 * shared ids; on DuckDB one fails at its COMMIT. Runs `load` as the child workflow with the stream's
 * load id (streamLoadWorkflowId), waiting while another load of the stream (a segment's, or a
 * quarantine replay's) holds it.
 */
export async function whenStreamFree<A, R>(project: string, stream: string, load: (input: A) => Promise<R>, input: A): Promise<R> {
  for (let tries = 0; ; tries++) {
    try {
      return await executeChild(load, {
        workflowId: streamLoadWorkflowId(project, stream),
        args: [input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      await sleep(LOAD_TAKEN_WAITS_MS[Math.min(tries, LOAD_TAKEN_WAITS_MS.length - 1)]!);
    }
  }
}

/**
 * Loads one sealed log segment from the object store into its stream's table, then deletes it from
 * the store: exactly once (the rows and the ledger row commit together; a batch already in the
 * ledger is skipped; no other segment of the stream loads meanwhile), and the segment goes only after
 * its rows are in the warehouse.
 */
export async function ingestSegment(input: IngestSegmentInput): Promise<IngestedBatch> {
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'ingest', object: input.stream }));
  const segment = { stream: input.stream, node: input.node, segmentId: input.segmentId };
  // `patched`: runs started before the one-loader rule replay their direct activity call.
  const loaded = patched('one-load-per-stream') ? await whenStreamFree(input.project, input.stream, loadStreamSegment, { project: input.project, ...segment }) : await loadSegment(segment);
  await archiveSegment({ ...segment, keep: input.keep ?? false });
  return loaded;
}

export interface IngestPendingInput {
  readonly project: string;
  readonly keep?: boolean;
  /** Segments handled per run (default 200). */
  readonly limit?: number;
  /** The instant `from` table streams load up to (ISO-8601); default the run's start. The long-lived sweep passes each sweep's time. */
  readonly now?: string;
}

export interface IngestPendingResult {
  readonly segments: number;
  readonly rows: number;
  /** Events of those segments the warehouse refused, put in quarantine (docs/collect.md, "Quarantine"). */
  readonly quarantined: number;
  readonly tables: readonly { readonly stream: string; readonly rows: number; readonly watermark: string | null }[];
}

/**
 * The safety net, run on a schedule: loads every sealed segment in the object store whose ingestion
 * did not happen (its node could not reach Temporal, or died between the upload and the start, ...), each through the same per-segment
 * workflow and id, and ingests the streams declared over external tables by watermark.
 */
export async function ingestPending(input: IngestPendingInput): Promise<IngestPendingResult> {
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'ingest' }));
  const pending = await listPendingSegments({ limit: input.limit ?? 200 });
  let rows = 0;
  let segments = 0;
  let quarantined = 0;
  for (const segment of pending) {
    try {
      const child = await startChild(ingestSegment, {
        workflowId: ingestSegmentWorkflowId(input.project, segment),
        args: [{ project: input.project, stream: segment.stream, node: segment.node, segmentId: segment.segmentId, ...(input.keep ? { keep: true } : {}) }],
        // A segment whose ingestion already ran and failed (or ran and archived nothing) may run again.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      const result = await child.result();
      rows += result.rows;
      quarantined += result.quarantined ?? 0;
      segments++;
    } catch (error) {
      // Running already (started by the server a moment ago): it will finish on its own.
      if (error instanceof WorkflowExecutionAlreadyStartedError) continue;
      throw error;
    }
  }
  const tables = [];
  const now = input.now ?? workflowInfo().runStartTime.toISOString();
  for (const stream of await listTableStreams()) {
    const loaded = await ingestFromTable({ stream, now });
    tables.push({ stream, rows: loaded.rows, watermark: loaded.watermark });
  }
  return { segments, rows, quarantined, tables };
}

export interface IngestStreamInput {
  readonly project: string;
  readonly stream: string;
  readonly keep?: boolean;
  /** Segments handled per run (default 200); the rest wait for the next run. */
  readonly limit?: number;
}

export interface IngestStreamResult {
  readonly stream: string;
  /** `segments`: sealed log segments loaded through ingestSegment; `table`: rows loaded from the stream's `from` table. */
  readonly from: 'segments' | 'table';
  readonly segments: number;
  readonly rows: number;
  /** Events the warehouse refused, put in quarantine (docs/collect.md, "Quarantine"); 0 for a `from` stream. */
  readonly quarantined: number;
  /** A `from` stream's watermark after the load (null before its first rows); absent for segments. */
  readonly watermark?: string | null;
}

/**
 * Ingests what one event stream has waiting: its sealed log segments in the object store, each through the same
 * per-segment workflow and id as ingestPending (so a segment the server is loading already is not
 * loaded twice), or, for a stream declared over a table (`from`), the rows the table gained since
 * the last watermark. The flywheel loop's ingest stage; it also runs alone.
 */
export async function ingestStream(input: IngestStreamInput): Promise<IngestStreamResult> {
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'ingest', object: input.stream }));
  if ((await listTableStreams()).includes(input.stream)) {
    const loaded = await ingestFromTable({ stream: input.stream, now: workflowInfo().runStartTime.toISOString() });
    return { stream: input.stream, from: 'table', segments: 0, rows: loaded.rows, quarantined: 0, watermark: loaded.watermark };
  }
  let rows = 0;
  let segments = 0;
  let quarantined = 0;
  for (const segment of await listPendingSegments({ limit: input.limit ?? 200, stream: input.stream })) {
    try {
      const result = await executeChild(ingestSegment, {
        workflowId: ingestSegmentWorkflowId(input.project, segment),
        args: [{ project: input.project, stream: segment.stream, node: segment.node, segmentId: segment.segmentId, ...(input.keep ? { keep: true } : {}) }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      rows += result.rows;
      quarantined += result.quarantined ?? 0;
      segments++;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) continue;
      throw error;
    }
  }
  return { stream: input.stream, from: 'segments', segments, rows, quarantined };
}
