import type { DurationInput } from '../duration.ts';
import type { ValueType } from '../types.ts';
import { makeDefinition, refName, type Definition, type Ref } from './definition.ts';
import type { EntityDefinition } from './entity.ts';
import type { ScheduleInput } from './schedule-input.ts';

/**
 * A field's type, or `{ type, nullable, maxLength, description }`. Fields are non-null unless
 * `nullable: true`. `maxLength` (string fields only) bounds the values the log API takes, in UTF-16
 * code units; without it the default of 65,536 applies (core/definitions/event-limits.ts).
 */
export type EventFieldInput = ValueType | { type: ValueType; nullable?: boolean; maxLength?: number; description?: string };

/** An existing warehouse table that another system fills, loaded into the stream (docs/collect.md). */
export interface EventStreamFromInput {
  /** `table`, `schema.table` or `db.schema.table`; its columns have the stream's names (keys, timestamp, fields). */
  table: string;
  /**
   * The column that says which rows are new: a column name (the event time), or
   * `{ loadedAtColumn }` (when the row was written to the table). A timestamp column either way.
   */
  watermark: string | { loadedAtColumn: string };
  /** How far before the last watermark each load reads again, for rows that land late (`'1h'`). */
  lookback: DurationInput;
}

export interface EventStreamInput {
  name: string;
  /** The entities the events are about; their join keys are columns of every event (never null). */
  entities: Ref<EntityDefinition>[];
  /** The column holding each event's time (a UTC instant, never null). */
  timestampField: string;
  /** A string field that identifies an event; events with an id already stored are dropped. */
  eventIdField?: string;
  /** The event's other columns and their types, for example `{ item_id: 'int64', page: 'string' }`. */
  fields: Record<string, EventFieldInput>;
  /** How long events are kept after their event time (`'90d'`). */
  retention: DurationInput;
  /**
   * When events older than `retention` are deleted: `flywheel apply` keeps a Temporal Schedule that
   * runs the retention workflow for this stream (docs/collect.md, "Retention"). Without it, only
   * `flywheel retention run` deletes them.
   */
  retentionSchedule?: ScheduleInput;
  /**
   * How far after the log API's clock an event time may be (`'1h'`); later ones are refused. Default
   * `'1d'`. An event time in the far future would stay the newest of its entity for ever.
   */
  maxEventTimeAhead?: DurationInput;
  /** Load the events from an existing table instead of receiving them. */
  from?: EventStreamFromInput;
  description?: string;
  owner?: string;
  tags?: Record<string, string>;
}

/** What the builder stores: the input with entity references turned into names. */
export interface EventStreamResolvedInput extends Omit<EventStreamInput, 'entities'> {
  entities: (string | undefined)[];
}

export type EventStreamDefinition = Definition<'eventStream', EventStreamResolvedInput>;

/**
 * A stream of events that Flywheel stores in its own table (`flywheel.stream_<name>`), exactly once
 * per event id. Feature views may read it as their `source`.
 *
 * @example
 * export const clicks = eventStream({
 *   name: 'clicks', entities: [user], timestampField: 'ts', eventIdField: 'click_id',
 *   fields: { click_id: 'string', item_id: 'int64', dwell_ms: { type: 'int64', nullable: true } },
 *   retention: '90d',
 * });
 */
export function eventStream(input: EventStreamInput): EventStreamDefinition {
  const { entities, ...rest } = input;
  return makeDefinition('eventStream', input.name, {
    ...rest,
    entities: Array.isArray(entities) ? entities.map((e) => refName(e)) : (entities as never),
  });
}
