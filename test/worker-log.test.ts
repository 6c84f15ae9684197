import type { LogEntry } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { atBoundary } from '../activities/failures.ts';
import { EngineQueryError } from '../connectors/offline/engine-query-error.ts';
import { parseInstant } from '../core/instant.ts';
import { formatWorkerLogEntry } from '../worker/worker-log.ts';

// What a Flywheel worker prints for the SDK's log entries (worker/worker-log.ts): expected failures in
// one line, without the task token; a bug with its stack.

const AT = 1_764_151_200_123n * 1_000_000n; // 2025-11-26T10:00:00.123Z in nanoseconds
const activity = {
  isLocal: false, attempt: 2, namespace: 'default', taskToken: 'CiQwMWE0Mj…a long opaque token', activityId: '1',
  activityType: 'planTrainingSet', taskQueue: 'flywheel-shop', workflowId: 'shop/training-set/fraud/2024-03-01..2024-03-02', workflowRunId: 'r', workflowType: 'buildTrainingSet',
};
const failureOf = (work: () => unknown) => atBoundary(async () => work()).then(() => undefined, (error: unknown) => error);

describe('formatWorkerLogEntry', () => {
  it('writes an expected failure as one line: the activity, the run, the error class and its first line', async () => {
    const error = await failureOf(() => parseInstant('2024-03-01T00:00:00.1234567Z', '--from'));
    const entry: LogEntry = { level: 'WARN', message: 'Activity failed', timestampNanos: AT, meta: { ...activity, error, durationMs: 3 } };
    expect(formatWorkerLogEntry(entry)).toBe(
      '2025-11-26T10:00:00.123Z WARN Activity failed activity planTrainingSet (attempt 2) of workflow shop/training-set/fraud/2024-03-01..2024-03-02: ' +
        'InstantError: --from "2024-03-01T00:00:00.1234567Z" has 7 fractional digits; instants are kept to the microsecond, so give at most six (e.g. 2026-03-01T12:00:00.719310Z)',
    );
  });

  it('keeps the stack of an unexpected error, never the task token, and everything with DEBUG', () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'x')");
    const entry: LogEntry = { level: 'WARN', message: 'Activity failed', timestampNanos: AT, meta: { ...activity, error } };
    const line = formatWorkerLogEntry(entry);
    expect(line.startsWith(`2025-11-26T10:00:00.123Z WARN Activity failed activity planTrainingSet (attempt 2) of workflow shop/training-set/fraud/2024-03-01..2024-03-02: ${error.stack}`)).toBe(true);
    expect(line).not.toContain('CiQwMWE0Mj');
    const detailed = formatWorkerLogEntry(entry, { detailed: true });
    expect(detailed).toContain('"activityId":"1"');
    expect(detailed).not.toContain('CiQwMWE0Mj');
  });

  it('folds a multi-line message to its first line, saying where the rest is', async () => {
    const error = await failureOf(() => {
      throw new EngineQueryError('duckdb', 'SELECT boom', new Error('Binder Error: boom'));
    });
    const entry: LogEntry = { level: 'WARN', message: 'Activity failed', timestampNanos: AT, meta: { ...activity, attempt: 1, error } };
    expect(formatWorkerLogEntry(entry)).toBe(
      '2025-11-26T10:00:00.123Z WARN Activity failed activity planTrainingSet of workflow shop/training-set/fraud/2024-03-01..2024-03-02: EngineQueryError: duckdb query failed: Binder Error: boom (more with FLYWHEEL_LOG_LEVEL=DEBUG)',
    );
  });
});
