import { ApiError, toApiError } from './api-errors.ts';
import { allows, type TokenTable } from './auth/bearer-tokens.ts';
import type { AcceptedBatch, StreamIngest } from './stream-ingest.ts';
import type { EventIssue } from './validation/event-validator.ts';
import { parseBatch, type BodyFormat } from './validation/parse-body.ts';

/**
 * `POST /v1/streams/:stream/events` (docs/collect-api.md) without the HTTP framework: the checks in
 * their order, the batch accepted, and the answer's body once the batch is durable. Both the Hono
 * route (server/app.ts) and the route taken on Node's request before the app (server/events-route.ts)
 * call it, so both answer the same, errors included (thrown as ApiError, or as what ingestion throws:
 * `toApiError` says how it is answered).
 */
export interface PostEventsDeps {
  readonly streams: ReadonlyMap<string, StreamIngest>;
  readonly tokens: TokenTable;
  readonly limits: { readonly maxBodyBytes: number; readonly maxBatchEvents: number };
}

/** What the route reads from one request. */
export interface PostEventsRequest {
  /** The `:stream` of the path, decoded. */
  readonly stream: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  /** The `ids` query parameter, when given. */
  readonly ids: string | undefined;
  /** Reads the body, refusing more than `limit` bytes, checked to be UTF-8 (server/read-body.ts). */
  readonly readBody: (limit: number) => Promise<Buffer>;
}

/** The 200 answer's JSON (`{"accepted":…,"duplicates":…,"ids":[…]}`), once every event of the batch is durable. */
export async function postEvents(deps: PostEventsDeps, request: PostEventsRequest): Promise<string> {
  const name = request.stream;
  authorize(request.authorization, deps.tokens, name);
  const stream = deps.streams.get(name);
  if (!stream) throw new ApiError('unknown_stream', `no event stream "${name}"; the streams are ${[...deps.streams.keys()].join(', ') || '(none)'}`);
  // A decision stream holds what was served: taking events for it over HTTP would let a client forge decisions.
  if (stream.schema.loggedBy !== undefined) {
    throw new ApiError('forbidden', `stream "${name}" is the decision log of feature service "${stream.schema.loggedBy}": only the serving path (POST /v1/features) writes it, so that logged decisions cannot be forged; no token may post events to it`);
  }
  const withIds = idsOption(request.ids);
  const format = bodyFormat(request.contentType);
  const receivedAt = new Date().toISOString();
  const body = await request.readBody(deps.limits.maxBodyBytes);
  const accepted = acceptBatch(stream, body, format, deps.limits.maxBatchEvents, receivedAt);
  // Serialized before waiting, so the ids need not outlive the fsync.
  const answer = `{"accepted":${accepted.events},"duplicates":${accepted.duplicates}${withIds ? `,"ids":${accepted.idsJson()}` : ''}}`;
  await accepted.durable;
  return answer;
}

function authorize(header: string | undefined, tokens: TokenTable, stream: string): void {
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) throw new ApiError('unauthorized', 'missing bearer token; send Authorization: Bearer <token>');
  const scopes = tokens.scopesOf(match[1]!);
  if (!scopes) throw new ApiError('unauthorized', 'unknown token');
  if (!allows(scopes, 'write', stream)) throw new ApiError('forbidden', `this token may not write to stream "${stream}"`);
}

function bodyFormat(contentType: string | undefined): BodyFormat {
  // The common case without splitting the header.
  if (contentType === 'application/json') return 'json';
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/json') return 'json';
  if (mediaType === 'application/x-ndjson' || mediaType === 'application/ndjson' || mediaType === 'application/jsonl') return 'ndjson';
  throw new ApiError(
    'unsupported_media_type',
    `Content-Type must be application/json (an array of events) or application/x-ndjson (one event per line), got ${contentType ? JSON.stringify(contentType) : 'none'}`,
  );
}

function idsOption(value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ApiError('bad_query', `ids must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * Accepts a body (synchronously: nothing of the parsed batch outlives this call but the ids): a JSON
 * array by the fast path when it takes it, else parsed and accepted or refused with its problems.
 */
function acceptBatch(stream: StreamIngest, body: Buffer, format: BodyFormat, maxEvents: number, receivedAt: string): AcceptedBatch {
  const fast = format === 'json' ? stream.acceptJsonArray(body, maxEvents, receivedAt) : undefined;
  if (fast) return fast;
  const batch = parseBatch(body.toString('utf8'), format, maxEvents, body);
  try {
    return stream.accept(batch, receivedAt);
  } catch (error) {
    throw withLines(toApiError(error), batch.lines);
  }
}

/** For NDJSON, each problem also names the line its event was on. */
function withLines(error: ApiError, lines: readonly number[] | undefined): ApiError {
  if (error.code !== 'invalid_events' || !lines) return error;
  const issues = error.details as readonly EventIssue[];
  return new ApiError(error.code, error.message, issues.map((issue) => ({ ...issue, line: lines[issue.index] })));
}
