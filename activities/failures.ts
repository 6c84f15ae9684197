import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FlywheelError } from '../core/errors.ts';
import { withScratchCleanup } from './scratch.ts';

/**
 * The activity boundary: Flywheel errors become ApplicationFailures whose type is the error class
 * name, non-retryable unless the error says a retry may help (a bad definition stays bad; a lost
 * connection may come back). Anything else is left to Temporal's retry policy. The scratch folders
 * the attempt asked for are removed at the end.
 */
export async function atBoundary<T>(work: () => Promise<T>): Promise<T> {
  try {
    // The attempt's scratch folders (activities/scratch.ts) go when it ends, whatever the outcome.
    return await withScratchCleanup(work);
  } catch (error) {
    // Cancelled by Temporal (its statements cancelled with it, activities/statement-context.ts): report the
    // cancellation Temporal sent, not the error it caused, so the attempt ends cancelled rather than failed.
    const cancelled = cancellationOfActivity();
    if (cancelled !== undefined) throw cancelled;
    if (error instanceof FlywheelError) {
      throw error.retryable
        ? ApplicationFailure.retryable(error.message, error.name)
        : ApplicationFailure.nonRetryable(error.message, error.name);
    }
    throw error;
  }
}

/** Why the running activity was cancelled (Temporal's CancelledFailure), or undefined when it was not, or outside an activity. */
function cancellationOfActivity(): unknown {
  let signal: AbortSignal;
  try {
    signal = Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
  return signal.aborted ? (signal.reason as unknown) : undefined;
}
