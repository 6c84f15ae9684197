import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BatchTooLargeError, MalformedJsonError, NotABatchError } from './validation/parse-body.ts';
import { BodyTooLargeError, IncompleteBodyError, NotUtf8Error } from './read-body.ts';
import { InvalidEventsError } from './stream-ingest.ts';
import { SegmentLogClosedError, SegmentWriteError } from '../connectors/log-store/segment-log/index.ts';

/**
 * Every error the log API and the serving API answer with, and its HTTP status. The body is always
 * `{ "error": { "code", "message", "details"? } }` (docs/collect-api.md and docs/serving.md, "Errors").
 */
export const API_ERRORS = {
  malformed_json: 400,
  not_a_batch: 400,
  not_utf8: 400,
  incomplete_body: 400,
  invalid_events: 400,
  bad_query: 400,
  invalid_request: 400,
  unknown_service: 400,
  unknown_feature: 400,
  not_servable: 400,
  unknown_model: 400,
  unknown_filter: 400,
  invalid_entities: 400,
  unauthorized: 401,
  forbidden: 403,
  unknown_stream: 404,
  not_found: 404,
  body_too_large: 413,
  batch_too_large: 413,
  too_many_rows: 413,
  unsupported_media_type: 415,
  internal: 500,
  model_failed: 500,
  storage_unavailable: 503,
  shutting_down: 503,
  online_store_unavailable: 503,
  model_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiErrorBody {
  readonly error: { readonly code: ApiErrorCode; readonly message: string; readonly details?: unknown };
}

/** An error answered to the client as it is. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly details: unknown;
  constructor(code: ApiErrorCode, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return API_ERRORS[this.code];
  }

  toBody(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } };
  }
}

/** Turns what ingestion throws into the API's answer; anything unexpected is a 500 with no internals. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof InvalidEventsError) {
    const omitted = error.total - error.issues.length;
    const more = omitted > 0 ? `; the first ${error.issues.length} are listed, ${omitted} more are not` : '';
    return new ApiError('invalid_events', `${error.message}${more}`, error.issues);
  }
  if (error instanceof MalformedJsonError) return new ApiError('malformed_json', error.message, { line: error.line, column: error.column });
  if (error instanceof NotABatchError) return new ApiError('not_a_batch', error.message);
  if (error instanceof NotUtf8Error) return new ApiError('not_utf8', error.message);
  if (error instanceof IncompleteBodyError) return new ApiError('incomplete_body', `${error.message}; nothing was stored`);
  if (error instanceof BodyTooLargeError) return new ApiError('body_too_large', error.message, { limit: error.limit });
  if (error instanceof BatchTooLargeError) return new ApiError('batch_too_large', error.message, { limit: error.limit });
  if (error instanceof SegmentWriteError) return new ApiError('storage_unavailable', `events of stream "${error.stream}" cannot be stored now; nothing of this batch is acknowledged (retry later)`);
  if (error instanceof SegmentLogClosedError) return new ApiError('shutting_down', 'the server is shutting down; nothing of this batch was stored (retry)');
  return new ApiError('internal', 'internal error; nothing of this batch is acknowledged (retry)');
}
