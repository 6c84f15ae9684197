import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';

/**
 * How a Flywheel worker writes the SDK's log entries: one line each. An activity that failed with an
 * expected error (a Flywheel error, which the activity boundary turned into an ApplicationFailure of
 * its class name) is one line with the activity, the run and the error's first line: it is a message
 * for people, not a bug. Anything else keeps its stack. Task tokens are never printed (they are
 * opaque, long, and of no use in a log). FLYWHEEL_LOG_LEVEL=DEBUG prints every detail.
 *
 * @example
 * Runtime.install({ logger: new DefaultLogger('WARN', (entry) => process.stderr.write(`${formatWorkerLogEntry(entry)}\n`)) });
 */
export function formatWorkerLogEntry(entry: LogEntry, options: { detailed?: boolean } = {}): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const { taskToken: _taskToken, error, ...meta } = (entry.meta ?? {}) as Record<string, unknown>;
  const where = describeRun(meta);
  const head = `${time} ${entry.level} ${entry.message}${where ? ` ${where}` : ''}`;
  if (error === undefined) return options.detailed && Object.keys(meta).length > 0 ? `${head} ${JSON.stringify(meta)}` : head;
  if (error instanceof ApplicationFailure && error.type && !options.detailed) {
    const [first = '', ...rest] = (error.message ?? '').split('\n');
    return `${head}: ${error.type}: ${first}${rest.length > 0 ? ' (more with FLYWHEEL_LOG_LEVEL=DEBUG)' : ''}`;
  }
  const detail = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return `${head}: ${detail}${options.detailed && Object.keys(meta).length > 0 ? `\n${JSON.stringify(meta)}` : ''}`;
}

/** `activity planTrainingSet (attempt 2) of workflow <id>`, or the workflow alone, from an entry's attributes. */
function describeRun(meta: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof meta.activityType === 'string') parts.push(`activity ${meta.activityType}${typeof meta.attempt === 'number' && meta.attempt > 1 ? ` (attempt ${meta.attempt})` : ''}`);
  if (typeof meta.workflowId === 'string') parts.push(`${parts.length > 0 ? 'of ' : ''}workflow ${meta.workflowId}`);
  return parts.join(' ');
}
