/**
 * The ids a stream stored most recently, each with the promise of the write that made it durable, so
 * a duplicate arriving while the first copy is still being fsync'd is acknowledged only once that
 * copy is. Bounded: past `capacity` the oldest ids are forgotten (the warehouse load dedupes by id too).
 */
export class RecentIds {
  private readonly ids = new Map<string, Promise<void>>();

  constructor(readonly capacity: number) {}

  /** The write that stored `id`, if it is remembered. */
  get(id: string): Promise<void> | undefined {
    return this.ids.get(id);
  }

  /** Remembers `ids` as written by `write`; forgets them again if `write` fails. */
  add(ids: readonly string[], write: Promise<void>): void {
    for (const id of ids) this.ids.set(id, write);
    this.evict();
    write.catch(() => {
      for (const id of ids) if (this.ids.get(id) === write) this.ids.delete(id);
    });
  }

  get size(): number {
    return this.ids.size;
  }

  private evict(): void {
    let excess = this.ids.size - this.capacity;
    if (excess <= 0) return;
    for (const id of this.ids.keys()) {
      this.ids.delete(id);
      if (--excess === 0) break;
    }
  }
}
