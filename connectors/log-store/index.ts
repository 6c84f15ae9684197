/**
 * The log store: each log API node's segment log on its own disk (append, seal, recover), and the
 * sealed segments in the object store, where ingestion lists, reads and deletes them. A node uploads
 * a sealed segment with its checksums, deletes its local copy, and only then announces it; a worker
 * never reads a node's disk (docs/collect.md, "Where segments live").
 *
 * @example
 * import { openNodeSegmentLog, ObjectStoreSegmentStore, resolveNodeId } from './connectors/log-store/index.ts';
 *
 * const store = new ObjectStoreSegmentStore(objectStore);
 * const log = await openNodeSegmentLog({ stateDir, streams: ['clicks'], nodeId: resolveNodeId({ stateDir }), store, onUploaded: announce });
 * // ingestion, on any worker:
 * for (const ref of await store.list('clicks')) await store.download(ref, join(scratch, `${ref.segmentId}.seg`));
 */
export type { SealedSegmentRef, SealedSegmentManifest, SealedSegmentStore } from './log-store.ts';
export { ObjectStoreSegmentStore } from './object-store-segment-store.ts';
export { openNodeSegmentLog, type NodeSegmentLog, type NodeSegmentLogOptions } from './node-segment-log.ts';
export { resolveNodeId, defaultNodeId, assertNodeId, NODE_ID_ENV } from './node-id.ts';
export { SealedSegmentNotFoundError, SealedSegmentChecksumError, NodeIdError } from './errors.ts';
export { LOG_PREFIX, segmentKey, manifestKey, loadedKey } from './segment-keys.ts';
