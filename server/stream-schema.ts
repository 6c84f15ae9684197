import { decisionLayoutsOf } from '../core/definitions/decision-stream.ts';
import type { ColumnSpec, ProjectSpec } from '../core/definitions/specs.ts';

/** A field of a stream's events other than its keys. */
export interface StreamField extends ColumnSpec {
  readonly nullable: boolean;
  /** String fields: the longest value taken, in UTF-16 code units; default DEFAULT_MAX_STRING_LENGTH (core/definitions/event-limits.ts). */
  readonly maxLength?: number;
}

/**
 * What the log API needs to know of an event stream to validate its events. Derived from the
 * stream's spec by `streamSchemaFromSpec`, so the server does not depend on the rest of it.
 */
export interface StreamSchema {
  readonly name: string;
  /** The join keys of the stream's entities: required, never null. */
  readonly keys: readonly ColumnSpec[];
  /** Required, never null; a timestamp whether or not `fields` lists it. */
  readonly timestampField: string;
  /** When set, each event's id is the value of this field (required, never null). */
  readonly eventIdField?: string;
  readonly fields: readonly StreamField[];
  /** How far after the server's clock (when it received the batch) an event time may be; default DEFAULT_MAX_EVENT_TIME_AHEAD_SECONDS. */
  readonly maxEventTimeAheadSeconds?: number;
  /**
   * Set for a decision stream (core/definitions/decision-stream.ts): the feature service whose served
   * decisions it logs. Only the serving path appends to it; `POST /v1/streams/<stream>/events` answers
   * 403 for it whatever the token, so decisions cannot be forged.
   */
  readonly loggedBy?: string;
}

/**
 * The parts of an `eventStream` spec the log API reads. `EventStreamSpec` (core/definitions/specs.ts,
 * being written) has these among others; until it lands this stands in for it.
 */
export interface EventStreamSpecFields {
  readonly name: string;
  readonly keys: readonly ColumnSpec[];
  readonly timestampField: string;
  readonly eventIdField?: string;
  readonly fields: readonly StreamField[];
  readonly maxEventTimeAheadSeconds?: number;
  /** Set when the stream loads its events from an existing table: such a stream takes none over HTTP. */
  readonly from?: unknown;
}

export function streamSchemaFromSpec(spec: EventStreamSpecFields): StreamSchema {
  return {
    name: spec.name,
    keys: spec.keys.map(({ name, type }) => ({ name, type })),
    timestampField: spec.timestampField,
    ...(spec.eventIdField !== undefined ? { eventIdField: spec.eventIdField } : {}),
    fields: spec.fields.map(({ name, type, nullable, maxLength }) => ({ name, type, nullable, ...(maxLength !== undefined ? { maxLength } : {}) })),
    ...(spec.maxEventTimeAheadSeconds !== undefined ? { maxEventTimeAheadSeconds: spec.maxEventTimeAheadSeconds } : {}),
  };
}

/**
 * The event streams of a project (`ProjectSpec.eventStreams`) that receive events, by name: every
 * stream except those loaded `from` an existing table. Decision streams are among them, marked
 * `loggedBy` their feature service (the serving path writes them, HTTP clients may not).
 */
export function streamSchemasOf(project: ProjectSpec): StreamSchema[] {
  // Read structurally, so the server only depends on the fields above of EventStreamSpec.
  const streams = (project as { readonly eventStreams?: Readonly<Record<string, EventStreamSpecFields>> }).eventStreams ?? {};
  const loggedBy = new Map([...decisionLayoutsOf(project).values()].map((layout) => [layout.stream, layout.service]));
  return Object.values(streams)
    .filter((spec) => spec.from === undefined)
    .map((spec) => {
      const service = loggedBy.get(spec.name);
      return service === undefined ? streamSchemaFromSpec(spec) : { ...streamSchemaFromSpec(spec), loggedBy: service };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
