/**
 * The segment log: each stream's events, durable on local disk in append-only segment files
 * (`<stateDir>/segments/<stream>/<segmentId>.open`, then `.seg`), framed as
 * `[u32 length][u32 crc32][JSON payload]`. See docs/collect-api.md, "Durability".
 *
 * @example
 * import { openSegmentLog, encodeRecords, readSegment, segmentToNdjson } from './server/segment-log/index.ts';
 *
 * const log = await openSegmentLog({
 *   stateDir: '.flywheel',
 *   streams: ['clicks'],
 *   onSegmentClosed: async ({ stream, segmentId, path, events }) => {
 *     await segmentToNdjson(path, `/tmp/${stream}-${segmentId}.ndjson`); // then read_json(...) in DuckDB
 *   },
 * });
 * await log.append('clicks', encodeRecords([JSON.stringify({ user_id: 1, _event_id: 'e1', _received_at: '...' })]), 1);
 * for await (const event of readSegment(path)) console.log(event._event_id);
 */
export { openSegmentLog, DEFAULT_MAX_SEGMENT_AGE_MS, DEFAULT_MAX_SEGMENT_BYTES, type SegmentLog, type SegmentLogOptions, type OnSegmentClosed, type ClosedSegment, type StreamLogFailure, type StreamLogStats } from './segment-log.ts';
export { decodeRecordAt, RECORD_HEADER_BYTES, MAX_RECORD_PAYLOAD_BYTES } from './record-framing.ts';
export { RecordBuilder, encodeRecords } from './record-builder.ts';
export { readSegment, readSegmentPayloads, segmentToNdjson, type StoredEvent, type BadTail } from './read-segment.ts';
export { recoverOpenSegment, type RecoveredSegment } from './recover-segment.ts';
export { listSegments, listClosedSegments, streamSegmentsDir, type SegmentFile } from './segment-files.ts';
export { SegmentCorruptError, SegmentWriteError, SegmentLogClosedError } from './errors.ts';
