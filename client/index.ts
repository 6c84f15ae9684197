/**
 * The Flywheel log API client: log events from an application, delivered in the background in
 * batches, retried, at least once, deduplicated by the server on `_event_id`. See docs/client.md.
 *
 * @example
 * import { createFlywheelClient } from 'flywheel';
 *
 * const client = createFlywheelClient<{ decisions: { user_id: number; score: number } }>({
 *   url: 'https://flywheel.example.com',
 *   token: process.env.FLYWHEEL_TOKEN!,
 *   onError: (error) => console.warn(error.message),
 * });
 * client.log('decisions', { user_id: 42, score: 0.93 }); // returns at once
 * const features = await client.getFeatures({ service: 'fraud_model', entities: [{ user_id: 42 }] });
 * features.rows[0]?.values.txn_count_7d;                 // a number, or null when missing or expired
 * process.on('SIGTERM', () => void client.close());      // delivers what is buffered, then stops
 */
export {
  createFlywheelClient,
  type FlywheelClient,
  type FlywheelClientOptions,
  type ClientStats,
  type EventsByStream,
} from './flywheel-client.ts';
export {
  FlywheelClientError,
  ClientOptionsError,
  BufferFullError,
  InvalidEventError,
  EventsRejectedError,
  DeliveryFailedError,
  FeatureServingError,
  type EventIssue,
} from './client-errors.ts';
export {
  type GetFeaturesRequest,
  type GetFeaturesOptions,
  type FeaturesResponse,
  type FeatureRow,
  type FeatureValue,
  type FeatureStatus,
  type FeatureTarget,
  type FeatureRows,
  type EntityKeyValue,
} from './get-features.ts';
export { EVENT_ID_FIELD } from './event-id.ts';
