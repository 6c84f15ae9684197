import { FlywheelError } from '../../core/errors.ts';
import type { SealedSegmentRef } from './log-store.ts';

const named = (ref: SealedSegmentRef) => `segment ${ref.segmentId} of stream "${ref.stream}" from node "${ref.node}"`;

/** Thrown by the segment store when a sealed segment is not in it (deleted after its load, or never uploaded). */
export class SealedSegmentNotFoundError extends FlywheelError {
  readonly ref: SealedSegmentRef;
  readonly key: string;
  constructor(ref: SealedSegmentRef, key: string) {
    super(`${named(ref)} is not in the object store (no ${key})`);
    this.ref = ref;
    this.key = key;
  }
}

/** Thrown by the segment store when a sealed segment's bytes differ from its manifest (size or SHA-256): damaged at rest. */
export class SealedSegmentChecksumError extends FlywheelError {
  readonly ref: SealedSegmentRef;
  readonly key: string;
  readonly reason: string;
  constructor(ref: SealedSegmentRef, key: string, reason: string) {
    super(`${named(ref)} in the object store (${key}) is not the segment uploaded: ${reason}`);
    this.ref = ref;
    this.key = key;
    this.reason = reason;
  }
}

/** Thrown when a node id (`--node-id`, FLYWHEEL_NODE_ID) cannot name a node's segments. */
export class NodeIdError extends FlywheelError {
  readonly nodeId: string;
  readonly source: string;
  constructor(nodeId: string, source: string) {
    super(`Invalid node id ${JSON.stringify(nodeId)} (from ${source}): use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    this.nodeId = nodeId;
    this.source = source;
  }
}
