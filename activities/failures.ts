import { ApplicationFailure } from '@temporalio/common';
import { FlywheelError } from '../core/errors.ts';

/**
 * The activity boundary: Flywheel errors become ApplicationFailures whose type is the error class
 * name, non-retryable unless the error says a retry may help (a bad definition stays bad; a lost
 * connection may come back). Anything else is left to Temporal's retry policy.
 */
export async function atBoundary<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FlywheelError) {
      throw error.retryable
        ? ApplicationFailure.retryable(error.message, error.name)
        : ApplicationFailure.nonRetryable(error.message, error.name);
    }
    throw error;
  }
}
