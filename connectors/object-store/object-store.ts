/** An object in a store: its key (relative to the store's root) and size in bytes. */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
}

/**
 * Where datasets are written: a local folder (embedded) or S3 (and S3-compatible stores).
 * Keys are `/`-separated paths relative to the store's root; writes of one key are atomic
 * (a reader sees the old object or the new one, never half of one) and durable once they resolve
 * (a local store fsyncs the file and its folder; S3 answers once it has stored the object).
 */
export interface ObjectStore {
  /** The URI a reader outside Flywheel uses for `key` (`file:///…`, `s3://bucket/…`). */
  uri(key: string): string;
  /**
   * Stores a local file's bytes under `key`. With `move`, the caller hands the file over and it is
   * gone afterwards: a local store renames it into place (no bytes move when it is on the same
   * filesystem), others upload it and delete it.
   */
  putFile(key: string, localPath: string, options?: { move?: boolean }): Promise<void>;
  putBytes(key: string, body: Uint8Array | string): Promise<void>;
  /**
   * Stores `body` under `key` only if no object has that key, atomically: of writers racing for one
   * key exactly one gets `true`, the others `false` and the key keeps the winner's bytes. What claims
   * a name (a model version's manifest) uses it; a local store links, S3 sends `If-None-Match: *`.
   */
  putBytesIfAbsent(key: string, body: Uint8Array | string): Promise<boolean>;
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Downloads an object to a local file. Throws NotFoundError when there is none. */
  getFile(key: string, localPath: string): Promise<void>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredObject[]>;
  delete(key: string): Promise<void>;
  /**
   * Copies an object inside the store (server-side: the bytes do not pass through this process).
   * The target is replaced atomically: readers see its old version or the copy, never part of one.
   * Throws NotFoundError when `fromKey` has no object. Copying a key onto itself changes nothing.
   */
  copy(fromKey: string, toKey: string): Promise<void>;
  /** Deletes every object under `prefix`; returns how many it deleted. */
  deletePrefix(prefix: string): Promise<number>;
}
