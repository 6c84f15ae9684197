import { FlywheelError, TransientError } from '../../core/errors.ts';

/** What a failed call was doing, and against which store. */
export interface OnlineStoreContext {
  /** The store, as printed: `redis://host:6379` (never with a password) or `sqlite:/path/online.sqlite`. */
  readonly store: string;
  /** `write`, `read`, `deleteView`, `ping`, `close` or `open`. */
  readonly operation: string;
}

/**
 * Thrown by online stores when the store cannot be reached or is busy: Redis down, refusing
 * connections or not answering in time; a SQLite file locked by another writer past the busy
 * timeout, or an I/O error. Retryable: a Redis store reconnects by itself when the server is back.
 */
export class OnlineStoreUnavailableError extends TransientError implements OnlineStoreContext {
  readonly store: string;
  readonly operation: string;
  constructor(message: string, context: OnlineStoreContext, options?: { cause?: unknown }) {
    super(message, options);
    ({ store: this.store, operation: this.operation } = context);
  }
}

/**
 * Thrown by online stores for failures a retry will not fix: a call on a closed store, a file that
 * is not a SQLite database, a Redis key of another type under the store's prefix.
 */
export class OnlineStoreError extends FlywheelError implements OnlineStoreContext {
  readonly store: string;
  readonly operation: string;
  constructor(message: string, context: OnlineStoreContext, options?: { cause?: unknown }) {
    super(message, options);
    ({ store: this.store, operation: this.operation } = context);
  }
}

/**
 * Thrown by `write` and `read` (before touching the store) when a record or request is invalid:
 * a view name that is not an identifier, a key that is empty or holds a non-integer number, a
 * non-finite value, an event time without a zone, a negative ttl. Names the view, the key and the field.
 */
export class InvalidOnlineRecordError extends FlywheelError {
  readonly view: string | undefined;
  readonly key: string | undefined;
  readonly field: string;
  constructor(problem: string, context: { view?: string; key?: string; field: string }) {
    const where = [context.view !== undefined ? `view ${JSON.stringify(context.view)}` : undefined, context.key !== undefined ? `key ${context.key}` : undefined, `field "${context.field}"`]
      .filter(Boolean)
      .join(', ');
    super(`Invalid online record (${where}): ${problem}`);
    this.view = context.view;
    this.key = context.key;
    this.field = context.field;
  }
}
