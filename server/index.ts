/**
 * The log API: `POST /v1/streams/:stream/events` validates each batch against its event stream and
 * acknowledges it once it is fsync'd to the stream's segment log (docs/collect-api.md). With
 * `serving`, the same server answers `POST /v1/features` from the online store (docs/serving.md).
 *
 * @example
 * import { startLogServer, TokenTable, streamSchemaFromSpec } from './server/index.ts';
 *
 * const server = await startLogServer({
 *   stateDir: '.flywheel',
 *   streams: [{ name: 'clicks', keys: [{ name: 'user_id', type: 'int64' }], timestampField: 'ts', fields: [{ name: 'url', type: 'string', nullable: true }] }],
 *   tokens: TokenTable.parse('devtoken=write:clicks'),
 *   onSegmentClosed: ({ stream, segmentId, path, events }) => { ... }, // ingestion starts here
 * });
 * // curl -H 'Authorization: Bearer devtoken' -H 'Content-Type: application/json' \
 * //   -d '[{"user_id": 1, "ts": "2026-11-26T10:00:00Z", "url": "/"}]' $URL/v1/streams/clicks/events
 * await server.close();
 */
export { startLogServer, DEFAULT_RECENT_IDS, type LogServerOptions, type RunningLogServer } from './log-server.ts';
export { createLogApp, DEFAULT_LIMITS, type LogApiLimits, type LogAppDeps } from './app.ts';
export { closeOnSignal } from './close-on-signal.ts';
export { TokenTable, TokenConfigError, TOKENS_ENV, allows, type TokenScope, type Access } from './auth/bearer-tokens.ts';
export { streamSchemaFromSpec, streamSchemasOf, type StreamSchema, type StreamField, type EventStreamSpecFields } from './stream-schema.ts';
export { StreamIngest, InvalidEventsError, type AcceptedBatch, type StoredEventsBatch } from './stream-ingest.ts';
export { OnlinePush, pushedViewsOf, type PushedView, type OnlinePushOptions, type OnlinePushStats } from './push/online-push.ts';
export { API_ERRORS, ApiError, type ApiErrorCode, type ApiErrorBody } from './api-errors.ts';
export { uuidv7 } from './event-ids.ts';
export { FeatureServing, type ServingOptions } from './serving/feature-serving.ts';
export { DEFAULT_SERVING_LIMITS, type ServingLimits } from './serving/serving-request.ts';
export { resolveServices, resolveFeatureList, type ServingTarget, type ResolvedService } from './serving/resolve-service.ts';
export { StoreBreaker } from './serving/store-breaker.ts';
export type { ServedDecision, ServedRow, ServedFeatureStatus, ServedFeatureValue, ServedKeyValue, DecisionSink } from './serving/served-decision.ts';
export { ServerMetrics, type DecisionLogCounters, type MetricSources } from './metrics.ts';
export * from '../connectors/log-store/segment-log/index.ts';
