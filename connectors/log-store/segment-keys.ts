import type { SealedSegmentRef } from './log-store.ts';

/**
 * Where sealed segments live in the object store:
 *
 *     _log/sealed/<stream>/<node>/<segmentId>.seg        the segment's bytes, as the node wrote them
 *     _log/sealed/<stream>/<node>/<segmentId>.seg.json   its manifest (checksums, counts), written last
 *     _log/loaded/<stream>/<node>/<segmentId>.seg        loaded segments kept on request (`keep`)
 */
export const LOG_PREFIX = '_log/';
const SEALED = `${LOG_PREFIX}sealed/`;
const LOADED = `${LOG_PREFIX}loaded/`;
export const SEGMENT_SUFFIX = '.seg';
export const MANIFEST_SUFFIX = '.seg.json';

export function sealedPrefix(stream: string, node?: string): string {
  return `${SEALED}${stream}/${node === undefined ? '' : `${node}/`}`;
}

export function loadedPrefix(stream: string): string {
  return `${LOADED}${stream}/`;
}

export function segmentKey(ref: SealedSegmentRef): string {
  return `${sealedPrefix(ref.stream, ref.node)}${ref.segmentId}${SEGMENT_SUFFIX}`;
}

export function manifestKey(ref: SealedSegmentRef): string {
  return `${sealedPrefix(ref.stream, ref.node)}${ref.segmentId}${MANIFEST_SUFFIX}`;
}

export function loadedKey(ref: SealedSegmentRef): string {
  return `${loadedPrefix(ref.stream)}${ref.node}/${ref.segmentId}${SEGMENT_SUFFIX}`;
}

/** The segment a key under `prefix` (`<node>/<segmentId><suffix>`) names, or undefined for any other key. */
export function refOfKey(stream: string, prefix: string, key: string, suffix: string): SealedSegmentRef | undefined {
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return undefined;
  const rest = key.slice(prefix.length, key.length - suffix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || rest.indexOf('/', slash + 1) !== -1) return undefined;
  return { stream, node: rest.slice(0, slash), segmentId: rest.slice(slash + 1) };
}

/** Oldest first across nodes: by segment id (the time the node opened it), then node. */
export function compareRefs(a: SealedSegmentRef, b: SealedSegmentRef): number {
  if (a.segmentId !== b.segmentId) return a.segmentId < b.segmentId ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}
