import { ApplicationFailure } from '@temporalio/workflow';
import { InstantError, instantFromDate, parseInstant } from '../core/instant.ts';

/**
 * An instant given in a workflow's input, in canonical form and exact to the microsecond
 * (core/instant.ts), or the workflow's own clock when none is given. A malformed one fails the run
 * at once, without retries: no attempt would read it differently.
 */
export function instantInput(value: string | undefined, what: string, otherwise: () => Date): string {
  if (value === undefined) return instantFromDate(otherwise());
  try {
    return parseInstant(value, what);
  } catch (error) {
    if (error instanceof InstantError) throw ApplicationFailure.nonRetryable(error.message, 'UsageError');
    throw error;
  }
}
