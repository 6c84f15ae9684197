import { DEFAULT_MAX_STRING_LENGTH, MAX_EVENT_ID_LENGTH } from '../../core/definitions/event-limits.ts';
import { formatDuration } from '../../core/duration.ts';
import type { ValueType } from '../../core/types.ts';
import type { StreamSchema } from '../stream-schema.ts';
import type { LatestEventTime } from './event-time-bound.ts';
import { describeValue, NORMALIZERS, stringNormalizer, ValueProblem, type Normalizer } from './value-normalizers.ts';

/** One problem with one event of a batch; `field` is null when the problem is the event as a whole. */
export interface EventIssue {
  readonly index: number;
  readonly field: string | null;
  readonly message: string;
}

/** The two fields the server adds to every stored event; clients may send `_event_id` only. */
export const EVENT_ID = '_event_id';
export const RECEIVED_AT = '_received_at';
/** The longest event id accepted (a client's `_event_id` or an `eventIdField`'s value), in UTF-16 code units. */
export { MAX_EVENT_ID_LENGTH };

/** What validation learned of a valid event (which it brought to its stored form in place). */
export interface ValidEvent {
  readonly id: string;
  /** No value had to be rewritten: the event as sent is already in its stored form. */
  readonly asSent: boolean;
  /** Members of the parsed object (a key written twice in the text counts once here). */
  readonly members: number;
  /** The client sent an `_event_id`. */
  readonly sentId: boolean;
}

interface Column {
  readonly name: string;
  readonly type: ValueType;
  readonly normalize: Normalizer;
  /** String columns: the longest value taken. */
  readonly maxLength: number;
  /** Present and not null in every event. */
  readonly required: boolean;
  /** How a missing required column is described. */
  readonly role: 'key' | 'timestamp' | 'event id' | 'field';
}

/**
 * Checks events against a stream's schema and turns them into their stored form. Built once per
 * stream; `validate` is the hot path (a Map lookup and a type check per value).
 */
export class EventValidator {
  private readonly columns: ReadonlyMap<string, Column>;
  private readonly required: readonly Column[];

  constructor(
    readonly schema: StreamSchema,
    private readonly newId: () => string,
  ) {
    const columns = new Map<string, Column>();
    const maxLengths = stringLengthLimits(schema);
    const add = (name: string, type: ValueType, required: boolean, role: Column['role']) => {
      if (columns.has(name)) return;
      const maxLength = maxLengths.get(name) ?? DEFAULT_MAX_STRING_LENGTH;
      columns.set(name, { name, type, normalize: type === 'string' ? stringNormalizer(maxLength) : NORMALIZERS[type], maxLength, required, role });
    };
    for (const key of schema.keys) add(key.name, key.type, true, 'key');
    const timestamp = schema.fields.find((f) => f.name === schema.timestampField);
    add(schema.timestampField, timestamp?.type ?? 'timestamp', true, 'timestamp');
    if (schema.eventIdField !== undefined) {
      const idField = schema.fields.find((f) => f.name === schema.eventIdField);
      add(schema.eventIdField, idField?.type ?? 'string', true, 'event id');
    }
    for (const field of schema.fields) add(field.name, field.type, !field.nullable, 'field');
    this.columns = columns;
    this.required = [...columns.values()].filter((c) => c.required);
  }

  /**
   * Checks `event` (the `index`-th of its batch) and rewrites, in place, each value whose stored form
   * differs from how it was sent (a timestamp with an offset becomes UTC, ...). Returns undefined after
   * adding its problems to `issues`. The caller adds `_event_id` and `_received_at`. An event time
   * after `latest` is refused.
   */
  validate(event: unknown, index: number, issues: IssueSink, latest: LatestEventTime): ValidEvent | undefined {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      issues.add({ index, field: null, message: `an event must be a JSON object, got ${describeValue(event)}` });
      return undefined;
    }
    const input = event as Record<string, unknown>;
    let ok = true;
    let asSent = true;
    let members = 0;
    let clientId: string | undefined;
    for (const name in input) {
      members++;
      const value = input[name];
      const column = this.columns.get(name);
      if (column === undefined) {
        const problem = name === EVENT_ID ? this.clientIdProblem(value) : this.unknownFieldProblem(name);
        if (problem !== undefined) {
          issues.add({ index, field: name, message: problem });
          ok = false;
        } else {
          clientId = value as string;
        }
        continue;
      }
      if (value === null) {
        if (column.required) {
          issues.add({ index, field: name, message: `${column.role} must not be null` });
          ok = false;
        }
        continue;
      }
      const normalized = column.normalize(value);
      if (normalized instanceof ValueProblem) {
        issues.add({ index, field: name, message: normalized.message });
        ok = false;
      } else if (column.role === 'timestamp' && Date.parse(normalized as string) > latest.ms) {
        issues.add({ index, field: name, message: aheadMessage(normalized as string, latest) });
        ok = false;
      } else if (normalized !== value) {
        input[name] = normalized;
        asSent = false;
      }
    }
    for (const column of this.required) {
      // Own members only: `in` would find a column named `constructor` or `toString` on Object.prototype.
      if (!Object.hasOwn(input, column.name)) {
        issues.add({ index, field: column.name, message: `required ${column.role} is missing (${column.type})` });
        ok = false;
      }
    }
    if (!ok) return undefined;
    const eventIdField = this.schema.eventIdField;
    // The stream's own id field wins over a client's `_event_id` (clients add one to every event).
    const id = eventIdField !== undefined ? String(input[eventIdField]) : (clientId ?? this.newId());
    return { id, asSent, members, sentId: clientId !== undefined };
  }

  /** A client's `_event_id` must be a usable id; on a stream with an `eventIdField` it is checked but not used. */
  private clientIdProblem(value: unknown): string | undefined {
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_EVENT_ID_LENGTH) {
      return `expected a non-empty string of at most ${MAX_EVENT_ID_LENGTH} characters, got ${describeValue(value)}`;
    }
    const problem = checkClientId(value);
    return problem instanceof ValueProblem ? problem.message : undefined;
  }

  private unknownFieldProblem(name: string): string {
    if (name === RECEIVED_AT) return `${RECEIVED_AT} is set by the server`;
    return `unknown field; stream "${this.schema.name}" has ${[...this.columns.keys()].join(', ')}`;
  }
}

/**
 * The longest value of each string column by name: a field's declared `maxLength`, else the default;
 * for the `eventIdField`, at most MAX_EVENT_ID_LENGTH. Shared with the BatchScanner, so both paths
 * refuse the same values.
 */
export function stringLengthLimits(schema: StreamSchema): ReadonlyMap<string, number> {
  const limits = new Map<string, number>();
  for (const field of schema.fields) if (field.maxLength !== undefined) limits.set(field.name, field.maxLength);
  if (schema.eventIdField !== undefined) limits.set(schema.eventIdField, Math.min(limits.get(schema.eventIdField) ?? MAX_EVENT_ID_LENGTH, MAX_EVENT_ID_LENGTH));
  return limits;
}

const checkClientId = stringNormalizer(MAX_EVENT_ID_LENGTH);

function aheadMessage(time: string, latest: LatestEventTime): string {
  return `event time ${time} is later than ${latest.iso}; the stream takes event times at most ${formatDuration(latest.aheadSeconds)} after the server received them (maxEventTimeAhead)`;
}

/** Collects a batch's problems, keeping the first `limit` and counting the rest. */
export class IssueSink {
  readonly issues: EventIssue[] = [];
  total = 0;
  constructor(private readonly limit: number) {}
  add(issue: EventIssue): void {
    if (this.total++ < this.limit) this.issues.push(issue);
  }
}
