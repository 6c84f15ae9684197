/**
 * Flywheel: the ML data flywheel as code.
 *
 * @example
 * import { entity, source, eventStream, featureView, featureService, trainingSet, labels } from 'flywheel';
 *
 * export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
 * export const txns = source({ name: 'txns', table: 'transactions', timestampField: 'ts',
 *   columns: { user_id: 'int64', amount: 'float64', ts: 'timestamp' } });
 * export const spend = featureView({ name: 'spend', entities: [user], source: txns, ttl: '7d',
 *   features: { amount: 'float64' } });
 * export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts',
 *   fields: { item_id: 'int64', page: 'string' }, retention: '90d' });
 * export const clicked = labels({ name: 'clicked', decisions: 'feed_decisions', outcomes: clicks,
 *   match: { by: 'keys' }, window: '30m', value: { kind: 'any' } });
 */
export { entity, type EntityInput, type EntityDefinition } from './core/definitions/entity.ts';
export { source, type SourceInput, type SourceDefinition } from './core/definitions/source.ts';
export { eventStream, type EventStreamInput, type EventStreamDefinition, type EventFieldInput } from './core/definitions/event-stream.ts';
export { featureView, type FeatureViewInput, type FeatureViewDefinition, type MaterializationScheduleInput } from './core/definitions/feature-view.ts';
export { model, type ModelInput, type ModelDefinition, type ModelArtifactInput, type ModelBatchInput } from './core/definitions/model.ts';
export { featureService, select, type FeatureServiceInput, type FeatureServiceLoggingInput, type FeatureServiceDefinition } from './core/definitions/feature-service.ts';
export { trainingSet, type TrainingSetInput, type TrainingSetDefinition, type TrainingSetScheduleInput } from './core/definitions/training-set.ts';
export { labels, type LabelsInput, type LabelsDefinition, type LabelsMatchInput, type LabelValueInput, type LabelsScheduleInput } from './core/definitions/labels.ts';
export { loop, type LoopInput, type LoopDefinition, type LoopScheduleInput } from './core/definitions/loop.ts';
export { defineConfig, localProfile, type FlywheelConfig, type ProfileConfig } from './core/config.ts';
export type { ValueType } from './core/types.ts';
export type * from './core/definitions/specs.ts';
export { createFlywheelClient, FlywheelClientError, ClientOptionsError, BufferFullError, InvalidEventError, EventsRejectedError, DeliveryFailedError, FeatureServingError, EVENT_ID_FIELD, type FlywheelClient, type FlywheelClientOptions, type ClientStats, type EventsByStream, type EventIssue, type GetFeaturesRequest, type FeaturesResponse, type FeatureRow, type FeatureValue, type FeatureStatus } from './client/index.ts';
