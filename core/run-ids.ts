/**
 * Workflow ids of Flywheel runs, one scheme for every kind: `<project>/<kind>/<object>/<when>`, where
 * `<when>` is the range the run builds (`2024-03-01..2024-03-08`) or the instant it is as of
 * (`2024-03-01T06:00Z`). Short enough to read whole in the Temporal UI's list, and meaningful: a run
 * of one training-set partition has the same id whether a user, a backfill or a schedule started it,
 * so two builds of one partition never run at once (the second is refused while the first runs) and
 * every build of it is listed under one id. Pure: used by the CLI, plan (schedules) and inside workflows.
 *
 * @example
 * trainingSetRunId('card_fraud', 'fraud_training', '2024-03-01T00:00:00Z', '2024-03-02T00:00:00Z');
 * // 'card_fraud/training-set/fraud_training/2024-03-01..2024-03-02'
 */

/** The kinds of run, as they appear in ids (the CLI's verbs). */
export type RunIdKind = 'training-set' | 'backfill' | 'labels' | 'materialize' | 'loop' | 'retention' | 'ingest' | 'score';

/**
 * An instant as short as it stays exact: `2024-03-01` at midnight UTC, `2024-03-01T06:00Z` on the
 * minute, `2024-03-01T06:00:05Z` on the second, else every fractional digit it has.
 */
export function compactInstant(instant: string | Date): string {
  const iso = typeof instant === 'string' ? instant : instant.toISOString();
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:Z|[+-]00:?00)$/.exec(iso);
  if (!match) return iso;
  const [, date, minute, second = '00', fraction = ''] = match;
  const digits = fraction.replace(/0+$/, '');
  if (digits !== '') return `${date}T${minute}:${second}.${digits}Z`;
  if (second !== '00') return `${date}T${minute}:${second}Z`;
  return minute === '00:00' ? date! : `${date}T${minute}Z`;
}

/** `<from>..<to>` in compact instants; `start` and `now` stand for an open end. */
export function compactRange(from: string | undefined, to: string | undefined): string {
  return `${from === undefined ? 'start' : compactInstant(from)}..${to === undefined ? 'now' : compactInstant(to)}`;
}

/** `<project>/<kind>/<object>/<when>`; a run about no one object (a loop of every stage) says `all`. */
export function runId(project: string, kind: RunIdKind, object: string | undefined, when: string): string {
  return `${project}/${kind}/${object ?? 'all'}/${when}`;
}

/** A training-set build: its range, or `all` when it builds every partition. */
export function trainingSetRunId(project: string, trainingSet: string, from?: string | null, to?: string | null): string {
  return runId(project, 'training-set', trainingSet, from || to ? compactRange(from ?? undefined, to ?? undefined) : 'all');
}

/** A backfill of a range; each partition is a child with the partition's trainingSetRunId. */
export function backfillRunId(project: string, trainingSet: string, from: string, to: string): string {
  return runId(project, 'backfill', trainingSet, compactRange(from, to));
}

/** A labels build: its range, else the instant it labels as of. */
export function labelsRunId(project: string, labels: string, range: { from?: string | null; to?: string | null }, asOf: string | Date): string {
  return runId(project, 'labels', labels, range.from || range.to ? compactRange(range.from ?? undefined, range.to ?? undefined) : compactInstant(asOf));
}

/** A labels partition built by a labels run: one id per partition across runs (`day=2024-03-01`), unlike its parent's range. */
export function labelPartitionRunId(project: string, labels: string, partitionKey: string): string {
  return runId(project, 'labels', labels, partitionKey);
}

/** A materialization: `(from, to]` when it has a from, else the instant it is as of. */
export function materializeRunId(project: string, view: string, from: string | undefined, to: string | Date): string {
  return runId(project, 'materialize', view, from !== undefined ? compactRange(from, typeof to === 'string' ? to : to.toISOString()) : compactInstant(to));
}

/** A loop run (a declared loop, or `all` stages) as of an instant. */
export function loopRunId(project: string, loop: string | undefined, asOf: string | Date): string {
  return runId(project, 'loop', loop, compactInstant(asOf));
}

/** The base id of the runs a schedule starts (Temporal appends `-<scheduled time>`): `<project>/<kind>/<object>/scheduled`. */
export function scheduledRunIdBase(project: string, kind: RunIdKind, object: string): string {
  return runId(project, kind, object, 'scheduled');
}

