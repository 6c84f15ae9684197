import type { RecordBuilder } from '../connectors/log-store/segment-log/index.ts';
import { EVENT_ID, RECEIVED_AT, type ValidEvent } from './validation/event-validator.ts';
import type { ParsedBatch } from './validation/parse-body.ts';

/** How the id of a stored event was decided (see `EventValidator`). */
export interface IdSource {
  /** Assigned by the server just now: a UUIDv7, which needs no escaping. */
  readonly fromServer: boolean;
  /** The stream's id field overrides an `_event_id` the client sent. */
  readonly replacesClientId: boolean;
}

/**
 * Adds the record of a valid event to `records`: the event with `_event_id` and `_received_at`.
 *
 * When the event's text in the request is already its stored form (no value was rewritten, no key
 * written twice, all on one line, no client `_event_id` to replace), that text is reused with the two
 * fields spliced in before its closing brace; for an ASCII body the bytes are copied as they came.
 * Otherwise the event (normalized in place by the validator) is serialized. Both give the same JSON
 * value; reusing the text spares decoding, serializing and encoding it again.
 */
export function addStoredEvent(records: RecordBuilder, event: Record<string, unknown>, valid: ValidEvent, id: IdSource, receivedAt: string, batch: ParsedBatch, index: number): void {
  const spans = batch.spans;
  if (spans !== undefined && valid.asSent && !id.replacesClientId && valid.members > 0 && spans.keys[index] === valid.members && spans.multiline[index] === 0) {
    const suffix = valid.sentId
      ? `,"${RECEIVED_AT}":"${receivedAt}"}`
      : `,"${EVENT_ID}":${id.fromServer ? `"${valid.id}"` : JSON.stringify(valid.id)},"${RECEIVED_AT}":"${receivedAt}"}`;
    // Everything up to the closing brace (spaces before it are harmless), then the added fields.
    const start = spans.starts[index]!;
    const end = spans.ends[index]! - 1;
    if (batch.bytes !== undefined) records.addSpliced(batch.bytes, start, end, suffix);
    else records.addText(spans.text.slice(start, end) + suffix);
    return;
  }
  event[EVENT_ID] = valid.id;
  event[RECEIVED_AT] = receivedAt;
  records.addText(JSON.stringify(event));
}
