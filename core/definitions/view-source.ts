import type { ColumnSpec, EventStreamSpec, ProjectSpec, SourceSpec } from './specs.ts';

/**
 * What a feature view reads, found by its `source` name: a source (a table, query or Parquet files
 * read through `flywheel.src_<name>`) or an event stream (its table `flywheel.stream_<name>`). Both
 * offer the same things to a view: columns, a timestamp field and, for sources, a created-time field.
 *
 * @example
 * const input = viewSourceOf(project, view.source);
 * if (input?.kind === 'eventStream') console.log(input.spec.retentionSeconds);
 */
export type ViewSource =
  | (ViewSourceCommon & { readonly kind: 'source'; readonly spec: SourceSpec })
  | (ViewSourceCommon & { readonly kind: 'eventStream'; readonly spec: EventStreamSpec });

interface ViewSourceCommon {
  readonly name: string;
  /** The columns a view can read: a source's declared columns; a stream's join keys, timestamp and fields. */
  readonly columns: readonly ColumnSpec[];
  readonly timestampField: string;
  /** A source's created-time column; streams have none. */
  readonly createdTimestampField: string | undefined;
  /** `source "txns"` or `event stream "clicks"`, for messages. */
  readonly label: string;
}

/** The source or event stream named `name`, or undefined when neither exists (a source and a stream never share a name). */
export function viewSourceOf(project: Pick<ProjectSpec, 'sources' | 'eventStreams'>, name: string): ViewSource | undefined {
  const source = project.sources[name];
  if (source) {
    return {
      kind: 'source', spec: source, name, columns: source.columns, timestampField: source.timestampField,
      createdTimestampField: source.createdTimestampField, label: `source "${name}"`,
    };
  }
  const stream = project.eventStreams[name];
  if (stream) {
    return {
      kind: 'eventStream', spec: stream, name, columns: eventStreamColumns(stream), timestampField: stream.timestampField,
      createdTimestampField: undefined, label: `event stream "${name}"`,
    };
  }
  return undefined;
}

/** What a feature view can read from a stream: its join keys, its timestamp, then its fields. */
export function eventStreamColumns(stream: EventStreamSpec): ColumnSpec[] {
  return [
    ...stream.keys,
    { name: stream.timestampField, type: 'timestamp' },
    ...stream.fields.map(({ name, type, description }): ColumnSpec => ({ name, type, ...(description !== undefined ? { description } : {}) })),
  ];
}
