import { FlywheelError } from '../../core/errors.ts';
import { arrayElementSpans, lineSpans, type EventSpans } from './event-spans.ts';
import { findJsonSyntaxError, lineAndColumn } from './json-syntax.ts';

/** The body formats of `POST /v1/streams/:stream/events`, chosen by Content-Type. */
export type BodyFormat = 'json' | 'ndjson';

/** The events of a request body; for NDJSON, the line (from 1) each event was on. */
export interface ParsedBatch {
  readonly events: readonly unknown[];
  readonly lines?: readonly number[];
  /** Where each event is in the body text. */
  readonly spans?: EventSpans;
  /** The body's bytes, when they are ASCII, so the spans are byte offsets in them too. */
  readonly bytes?: Buffer;
}

/** Thrown when a body is not valid JSON (or a line of NDJSON is not); says where. */
export class MalformedJsonError extends FlywheelError {
  readonly line: number;
  readonly column: number;
  readonly detail: string;
  constructor(line: number, column: number, detail: string, format: BodyFormat) {
    super(`malformed ${format === 'ndjson' ? 'NDJSON' : 'JSON'} at line ${line}, column ${column}: ${detail}`);
    this.line = line;
    this.column = column;
    this.detail = detail;
  }
}

/** Thrown when a JSON body is valid JSON but not an array of events. */
export class NotABatchError extends FlywheelError {}

/** Thrown when a batch holds more events than the server takes in one request. */
export class BatchTooLargeError extends FlywheelError {
  readonly limit: number;
  constructor(limit: number, counted: number, exact: boolean) {
    super(`the batch has ${exact ? '' : 'more than '}${counted} events; at most ${limit} are taken per request — split it`);
    this.limit = limit;
  }
}

/**
 * The events of a body: a JSON array of event objects, or NDJSON. Pass the body's bytes as well
 * (UTF-8, checked) so events can be stored from them as they came.
 *
 * @example parseBatch('[{"user_id": 1}]', 'json', 10_000).events // [{ user_id: 1 }]
 */
export function parseBatch(text: string, format: BodyFormat, maxEvents: number, bytes?: Buffer): ParsedBatch {
  const batch = format === 'json' ? parseJsonArray(text, maxEvents) : parseNdjson(text, maxEvents);
  return bytes !== undefined && bytes.length === text.length ? { ...batch, bytes } : batch;
}

function parseJsonArray(text: string, maxEvents: number): ParsedBatch {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw malformed(text, 0, text.length, 1, 'json', error);
  }
  if (!Array.isArray(parsed)) {
    const got = parsed === null ? 'null' : typeof parsed === 'object' ? 'an object' : `a ${typeof parsed}`;
    throw new NotABatchError(`the body must be a JSON array of events, got ${got}${typeof parsed === 'object' && parsed !== null ? ' (wrap a single event in [ ])' : ''}`);
  }
  if (parsed.length > maxEvents) throw new BatchTooLargeError(maxEvents, parsed.length, true);
  return { events: parsed, spans: arrayElementSpans(text, parsed.length) };
}

/** One JSON value per line; blank lines (and a final newline) are skipped; `\r\n` is fine. */
function parseNdjson(text: string, maxEvents: number): ParsedBatch {
  const events: unknown[] = [];
  const lines: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let start = 0;
  let lineNumber = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNumber++;
    if (!isBlank(text, start, end)) {
      if (events.length === maxEvents) throw new BatchTooLargeError(maxEvents, maxEvents, false);
      const line = text.slice(start, end);
      try {
        events.push(JSON.parse(line));
      } catch (error) {
        throw malformed(line, 0, line.length, lineNumber, 'ndjson', error);
      }
      lines.push(lineNumber);
      starts.push(start);
      ends.push(end);
    }
    start = end + 1;
  }
  return { events, lines, spans: lineSpans(text, starts, ends) };
}

function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

function malformed(text: string, start: number, end: number, firstLine: number, format: BodyFormat, parseError: unknown): MalformedJsonError {
  const found = findJsonSyntaxError(text, start, end);
  if (!found) return new MalformedJsonError(firstLine, 1, (parseError as Error).message.slice(0, 200), format);
  const { line, column } = lineAndColumn(text, found.offset);
  return new MalformedJsonError(firstLine + line - 1, column, found.message, format);
}
