import { OnlineStoreUnavailableError } from '../../connectors/online-store/online-store-errors.ts';
import type { EncodedOnlineRecord, OnlineKeyRequest, OnlineStore } from '../../connectors/online-store/online-store.ts';

/**
 * A circuit breaker in front of the online store, for serving. While the store answers, reads go
 * straight through. The first read that fails with OnlineStoreUnavailableError opens the breaker:
 * from then on reads fail at once with that error (the API answers 503 without waiting for the
 * store's connect timeout on every request), and a background probe pings the store every
 * `probeIntervalMs`. The first ping that succeeds closes the breaker: serving recovers by itself,
 * with no restart. Other errors (a closed store, a key of the wrong type) pass through and leave
 * the breaker closed.
 *
 * @example
 * const breaker = new StoreBreaker(store, { onChange: (up) => log(up ? 'back' : 'down') });
 * const found = await breaker.readEncoded(requests); // throws OnlineStoreUnavailableError at once while open
 */
export interface StoreBreakerOptions {
  /** How often the open breaker pings the store. Default 250 ms. */
  readonly probeIntervalMs?: number;
  /** Called when the breaker opens (`false`: the store is down) and closes again (`true`). */
  readonly onChange?: (available: boolean, error: OnlineStoreUnavailableError | undefined) => void;
}

export const DEFAULT_PROBE_INTERVAL_MS = 250;

export class StoreBreaker {
  readonly #store: OnlineStore;
  readonly #probeIntervalMs: number;
  readonly #onChange: (available: boolean, error: OnlineStoreUnavailableError | undefined) => void;
  /** The failure that opened the breaker, updated by failed probes; undefined while closed. */
  #failure: OnlineStoreUnavailableError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(store: OnlineStore, options: StoreBreakerOptions = {}) {
    this.#store = store;
    this.#probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    this.#onChange = options.onChange ?? (() => undefined);
  }

  /** False while the breaker is open (the store failed and no ping has succeeded since). */
  get available(): boolean {
    return this.#failure === undefined;
  }

  /** The failure the breaker is open for, if it is. */
  get failure(): OnlineStoreUnavailableError | undefined {
    return this.#failure;
  }

  /** The store's readEncoded, or the breaker's failure at once while it is open. */
  async readEncoded(requests: readonly OnlineKeyRequest[]): Promise<(EncodedOnlineRecord | undefined)[]> {
    if (this.#failure) throw this.#failure;
    try {
      return await this.#store.readEncoded(requests);
    } catch (error) {
      if (error instanceof OnlineStoreUnavailableError) this.#open(error);
      throw error;
    }
  }

  /** For readiness: the breaker's failure while open, else a ping of the store (which opens it when it fails). */
  async ping(): Promise<void> {
    if (this.#failure) throw this.#failure;
    try {
      await this.#store.ping();
    } catch (error) {
      if (error instanceof OnlineStoreUnavailableError) this.#open(error);
      throw error;
    }
  }

  /** Stops probing. The store itself is closed by its owner. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #open(error: OnlineStoreUnavailableError): void {
    if (this.#failure || this.#stopped) return;
    this.#failure = error;
    this.#onChange(false, error);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#probe(), this.#probeIntervalMs);
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    try {
      await this.#store.ping();
    } catch (error) {
      if (error instanceof OnlineStoreUnavailableError) this.#failure = error;
      this.#schedule();
      return;
    }
    if (this.#stopped) return;
    this.#failure = undefined;
    this.#onChange(true, undefined);
  }
}
