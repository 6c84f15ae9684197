import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SealedSegmentManifest, SealedSegmentStore } from './log-store.ts';
import { decodeRecordAt } from './segment-log/record-framing.ts';
import { fsyncDir, listClosedSegments } from './segment-log/segment-files.ts';
import { openSegmentLog, type ClosedSegment, type SegmentLog, type SegmentLogOptions } from './segment-log/segment-log.ts';

export interface NodeSegmentLogOptions extends Omit<SegmentLogOptions, 'onSegmentClosed'> {
  /** This node's id: its segments go under `_log/sealed/<stream>/<nodeId>/` (node-id.ts). */
  readonly nodeId: string;
  readonly store: SealedSegmentStore;
  /**
   * Called once a sealed segment is in the store with its manifest (and its local copy deleted):
   * where ingestion is told of it. A rejection is logged; the ingest sweep finds the segment anyway.
   */
  readonly onUploaded?: (segment: SealedSegmentManifest) => void | Promise<void>;
  /** Wait before the first retry of a failed upload; doubled up to `maxRetryMs`. Default 500 ms. */
  readonly retryMs?: number;
  /** Default 30 s. */
  readonly maxRetryMs?: number;
}

/** A node's log: appends and seals on local disk, uploads each sealed segment, then forgets it. */
export interface NodeSegmentLog extends SegmentLog {
  readonly nodeId: string;
  /** Sealed segments waiting for (or in) their upload now, per stream. */
  pendingUploads(): Readonly<Record<string, number>>;
  /**
   * The ids of the events this node stored most recently in `stream`, newest segment first, up to
   * `max`: its local segments, then those it uploaded that ingestion has not deleted yet. For the
   * dedupe window after a restart.
   */
  recentIds(stream: string, max: number): Promise<string[][]>;
}

/**
 * Opens a node's segment log over a sealed-segment store. Each sealed segment is uploaded (bytes,
 * then the manifest with its SHA-256), then its local copy is deleted, then ingestion is told
 * (`onUploaded`): in that order, so a segment ingestion hears of is always readable from the store,
 * and the local copy goes only once the store holds it. A failed upload is retried, with backoff,
 * until it succeeds or the log closes; what is still local then is uploaded at the next start.
 *
 * Recovery on start: `.open` segments a crash left are cut after their last good record and sealed
 * (openSegmentLog), and every sealed segment still on disk (sealed but not uploaded when the node
 * died) is uploaded.
 *
 * @example
 * const log = await openNodeSegmentLog({ stateDir: '.flywheel', streams: ['clicks'], nodeId: 'api-1', store, onUploaded: (s) => announce(s) });
 * await log.append('clicks', encodeRecords([JSON.stringify(event)]), 1); // durable on this node's disk
 * await log.close(); // seals, uploads what it can
 */
export async function openNodeSegmentLog(options: NodeSegmentLogOptions): Promise<NodeSegmentLog> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const retryMs = options.retryMs ?? 500;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  /** Local paths of the sealed segments being uploaded, so one is never uploaded twice at once. */
  const uploading = new Map<string, { stream: string; done: Promise<void> }>();
  let closing = false;
  let wakeRetries: () => void = () => undefined;
  let retryWake = new Promise<void>((resolve) => (wakeRetries = resolve));

  const uploadOnce = async (segment: ClosedSegment): Promise<void> => {
    const ref = { stream: segment.stream, node: options.nodeId, segmentId: segment.segmentId };
    const manifest = await options.store.upload(ref, segment.path, segment.events);
    // The store holds it: the local copy may go. A crash before this line uploads it again at start (same bytes).
    await rm(segment.path, { force: true });
    await fsyncDir(dirname(segment.path));
    if (options.onUploaded) {
      try {
        await options.onUploaded(manifest);
      } catch (error) {
        log(`segment log: announcing ${segment.stream}/${segment.segmentId} failed (${(error as Error).message}); the ingest sweep will find it`);
      }
    }
  };

  const upload = (segment: ClosedSegment): void => {
    if (uploading.has(segment.path)) return;
    const done = (async () => {
      for (let wait = retryMs; ; wait = Math.min(wait * 2, maxRetryMs)) {
        try {
          await uploadOnce(segment);
          return;
        } catch (error) {
          log(`segment log: upload of ${segment.stream}/${segment.segmentId} failed: ${(error as Error).message}; ${closing ? 'it stays on disk and is uploaded at the next start' : `retrying in ${wait} ms`}`);
          if (closing) return;
          const timer = new Promise<void>((resolve) => setTimeout(resolve, wait).unref());
          await Promise.race([timer, retryWake]);
        }
      }
    })().finally(() => uploading.delete(segment.path));
    uploading.set(segment.path, { stream: segment.stream, done });
  };

  const segmentLog = await openSegmentLog({ ...options, onSegmentClosed: upload });
  // Sealed before the node last stopped but never uploaded (the store was away, or the node died).
  for (const stream of options.streams) {
    for (const file of await listClosedSegments(options.stateDir, stream)) {
      if (uploading.has(file.path)) continue;
      const events = await countRecords(file.path);
      if (events === undefined) continue; // recovered just now, and uploaded and deleted meanwhile
      log(`segment log: uploading ${stream} segment ${file.segmentId} (${events} events), sealed before the last stop`);
      upload({ stream, segmentId: file.segmentId, path: file.path, events });
    }
  }

  return {
    nodeId: options.nodeId,
    append: (stream, records, count) => segmentLog.append(stream, records, count),
    stats: () => segmentLog.stats(),
    failures: () => segmentLog.failures(),
    pendingUploads() {
      const counts: Record<string, number> = Object.fromEntries(options.streams.map((s) => [s, 0]));
      for (const { stream } of uploading.values()) counts[stream] = (counts[stream] ?? 0) + 1;
      return counts;
    },
    async recentIds(stream, max) {
      const batches: string[][] = [];
      let count = 0;
      // A segment is always in one place at least: uploaded before its local copy is deleted.
      const readLocally = new Set<string>();
      for (const file of (await listClosedSegments(options.stateDir, stream)).reverse()) {
        if (count >= max) return batches;
        const bytes = await readFile(file.path).catch(() => undefined);
        if (!bytes) continue; // uploaded and deleted meanwhile: read from the store below
        const ids = idsOf(bytes);
        readLocally.add(file.segmentId);
        batches.push(ids);
        count += ids.length;
      }
      const uploaded = (await options.store.list(stream, { node: options.nodeId })).reverse();
      for (const ref of uploaded) {
        if (count >= max) break;
        if (readLocally.has(ref.segmentId)) continue;
        const read = await options.store.read(ref).catch(() => undefined); // loaded and deleted by ingestion: its ids are in the warehouse
        if (!read) continue;
        const ids = idsOf(read.bytes);
        batches.push(ids);
        count += ids.length;
      }
      return batches;
    },
    async close() {
      await segmentLog.close(); // seals every open segment; each starts its upload
      closing = true;
      wakeRetries(); // uploads waiting to retry make one last attempt now
      retryWake = Promise.resolve();
      while (uploading.size > 0) await Promise.all([...uploading.values()].map((u) => u.done));
    },
  };
}

/** Records in a sealed segment (its checksums are checked by whoever reads it later), or undefined when it is gone. */
async function countRecords(path: string): Promise<number | undefined> {
  try {
    return idsOf(await readFile(path)).length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The `_event_id` of each good record of a segment's bytes, in order; stops at a bad record. */
function idsOf(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ids: string[] = [];
  for (let at = 0; ; ) {
    const decoded = decodeRecordAt(buffer, at);
    if (decoded.kind !== 'record') return ids;
    ids.push((JSON.parse(decoded.payload.toString('utf8')) as { _event_id: string })._event_id);
    at = decoded.next;
  }
}
