import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { atBoundary } from '../activities/failures.ts';
import { activityStatementContext } from '../activities/statement-context.ts';
import type { StatementContext } from '../connectors/offline/snowflake/snowflake-session.ts';
import { SnowflakeStatementCancelledError } from '../connectors/offline/snowflake/snowflake-errors.ts';

/**
 * What an activity hands its engine (activities/statement-context.ts) and how it ends when Temporal
 * cancels it (activities/failures.ts), in Temporal's own activity context (@temporalio/testing). The
 * same on a real run, Snowflake over the emulator: test/statement-context-emulator.test.ts.
 */
describe('the statement context of an activity', () => {
  it('tags with the project, the object of the run id, the run, the activity and its attempt, and carries the cancellation signal', async () => {
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId: 'card_fraud/training-set/fraud_training/2024-03-01..2024-03-02', runId: 'r1' },
      activityType: 'writeTrainingSetFiles',
      attempt: 3,
    });
    const [context, signal] = (await env.run(async () => [activityStatementContext('card_fraud'), Context.current().cancellationSignal])) as [StatementContext, AbortSignal];
    expect(context.queryTag).toEqual({ project: 'card_fraud', object: 'fraud_training', run: 'card_fraud/training-set/fraud_training/2024-03-01..2024-03-02', activity: 'writeTrainingSetFiles', attempt: 3 });
    expect(context.signal).toBe(signal);
    // No heartbeat: the activity's own heartbeats carry its resume details.
    expect(context.heartbeat).toBeUndefined();
  });

  it('has no object for a run id of another shape, and no context outside an activity', async () => {
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'nightly-42', runId: 'r1' }, activityType: 'planTrainingSet', attempt: 1 });
    expect(((await env.run(async () => activityStatementContext('card_fraud'))) as StatementContext).queryTag).toEqual({ project: 'card_fraud', run: 'nightly-42', activity: 'planTrainingSet', attempt: 1 });
    expect(activityStatementContext('card_fraud')).toEqual({});
  });

  it('ends a cancelled attempt with Temporal\'s cancellation, not the error the cancelled statement raised', async () => {
    const env = new MockActivityEnvironment();
    const ended = env.run(() =>
      atBoundary(async () => {
        const { cancellationSignal } = Context.current();
        if (!cancellationSignal.aborted) await new Promise((resolve) => cancellationSignal.addEventListener('abort', resolve, { once: true }));
        throw new SnowflakeStatementCancelledError('SELECT 1', 'q1', cancellationSignal.reason);
      })).catch((error: unknown) => error);
    env.cancel();
    expect(await ended).toBeInstanceOf(CancelledFailure);
  });

  it('still maps the same error to a non-retryable failure when the attempt was not cancelled', async () => {
    const env = new MockActivityEnvironment();
    const ended = await env.run(() => atBoundary(async () => { throw new SnowflakeStatementCancelledError('SELECT 1', 'q1', new Error('stopped')); })).catch((error: unknown) => error);
    expect(ended).toBeInstanceOf(ApplicationFailure);
    expect([(ended as ApplicationFailure).type, (ended as ApplicationFailure).nonRetryable]).toEqual(['SnowflakeStatementCancelledError', true]);
  });
});
