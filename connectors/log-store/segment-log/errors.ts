import { FlywheelError } from '../../../core/errors.ts';

/** Thrown by the segment reader when a closed segment has a record that is cut short or fails its checksum. */
export class SegmentCorruptError extends FlywheelError {
  readonly path: string;
  /** Byte offset of the first bad record. */
  readonly offset: number;
  readonly reason: string;
  constructor(path: string, offset: number, reason: string) {
    super(`segment ${path} is corrupt at byte ${offset}: ${reason}`);
    this.path = path;
    this.offset = offset;
    this.reason = reason;
  }
}

/**
 * Thrown by the segment log when writing or syncing a stream's segment failed. Nothing of the append
 * was kept. After a failure for want of space (ENOSPC, EDQUOT, EFBIG) the stream tries again a moment
 * later; after any other it takes no more appends until the process restarts (recovery then keeps
 * what was durably written), because after a failed fsync the kernel may have dropped unsynced pages.
 */
export class SegmentWriteError extends FlywheelError {
  readonly stream: string;
  constructor(stream: string, options?: { cause?: unknown }) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot write the segment log of stream "${stream}"${cause}`, options);
    this.stream = stream;
  }
}

/** Thrown by the segment log when an append arrives after close() began. */
export class SegmentLogClosedError extends FlywheelError {
  constructor() {
    super('the segment log is closed');
  }
}
