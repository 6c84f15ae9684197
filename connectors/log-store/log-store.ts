/**
 * The log store's two sides. A log API node appends events to its own segment log on local disk,
 * seals segments, and hands each sealed segment to the store; ingestion, on any worker, lists,
 * reads and deletes sealed segments in the store. Nothing passes between them but the store
 * (the object store: a local folder or S3) and the segment's reference, so a worker never reads a
 * node's disk (docs/collect.md, "Where segments live").
 */

/** Names one sealed segment wherever it is: the stream, the node that wrote it, its id on that node. */
export interface SealedSegmentRef {
  readonly stream: string;
  /** The log API node that wrote it (`--node-id`, docs/deployment.md). */
  readonly node: string;
  /** Unique per stream on its node; sorts in the order the node opened its segments. */
  readonly segmentId: string;
}

/** What the store keeps beside a sealed segment's bytes, written after them: its checksums and counts. */
export interface SealedSegmentManifest extends SealedSegmentRef {
  /** Records (events) in the segment. */
  readonly events: number;
  /** Size of the segment in bytes. */
  readonly bytes: number;
  /** SHA-256 of the whole segment, hex; every record also carries its own CRC-32. */
  readonly sha256: string;
  /** When the node stored it (ISO-8601). */
  readonly uploadedAt: string;
}

/**
 * Where sealed segments live between a node and ingestion. Every write is idempotent: uploading a
 * segment again stores the same bytes, deleting one that is gone changes nothing.
 *
 * @example
 * const store = new ObjectStoreSegmentStore(createObjectStore({ type: 's3', bucket: 'acme-flywheel' }));
 * await store.upload({ stream: 'clicks', node: 'api-1', segmentId }, '/state/segments/clicks/….seg', 1200); // node
 * for (const ref of await store.list('clicks')) {                                                          // ingestion
 *   await store.download(ref, `/scratch/${ref.segmentId}.seg`); // checksums verified
 *   // ... load it, commit with the ledger row ...
 *   await store.delete(ref);
 * }
 */
export interface SealedSegmentStore {
  /**
   * Stores a sealed segment file: its bytes first, then its manifest (SHA-256, size, events). A
   * segment is listed only once its manifest is stored, so a half-uploaded one is never seen.
   */
  upload(ref: SealedSegmentRef, localPath: string, events: number): Promise<SealedSegmentManifest>;
  /** The segments of `stream` (of one `node`, when given) whose upload completed, oldest first (by segment id, then node). */
  list(stream: string, options?: { node?: string }): Promise<SealedSegmentRef[]>;
  /**
   * Downloads a segment to `localPath` and checks it against its manifest (size and SHA-256).
   * Throws SealedSegmentNotFoundError when the store has no such segment, SealedSegmentChecksumError
   * when its bytes are not the ones uploaded.
   */
  download(ref: SealedSegmentRef, localPath: string): Promise<SealedSegmentManifest>;
  /** The segment's bytes, checked as `download` checks them; undefined when the store has no such segment. */
  read(ref: SealedSegmentRef): Promise<{ readonly manifest: SealedSegmentManifest; readonly bytes: Uint8Array } | undefined>;
  /**
   * Removes a segment: its bytes first, its manifest last, so a delete cut short leaves it listed
   * (and the next delete finishes it), never a manifest-less orphan that is listed by no one.
   * With `keep`, a copy goes to the archive first (`loaded/`).
   */
  delete(ref: SealedSegmentRef, options?: { keep?: boolean }): Promise<void>;
  /** The archived segments of a stream (kept by `delete(ref, { keep: true })`), oldest first. */
  listArchived(stream: string): Promise<SealedSegmentRef[]>;
}
