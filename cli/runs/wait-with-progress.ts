import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition, Workflow } from '@temporalio/common';
import { FlywheelError } from '../../core/errors.ts';

/** Thrown when a run ends in failure: says what failed (the innermost cause) and which run to look at. */
export class RunFailedError extends FlywheelError {
  readonly workflowId: string;
  constructor(workflowId: string, reason: string, options?: { cause?: unknown }) {
    super(`${reason}\n(run ${workflowId}; see it in the Temporal UI)`, options);
    this.workflowId = workflowId;
  }
}

/** A failed run's error, as the message of its innermost cause (an activity's, usually). */
export function explainWorkflowFailure(error: unknown, workflowId: string): unknown {
  if (!(error instanceof WorkflowFailedError)) return error;
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return new RunFailedError(workflowId, (cause as Error).message, { cause: error });
}

/**
 * Waits for a run's result, calling `onProgress` with its progress query every `intervalMs`. Query
 * failures (before the first workflow task, between continue-as-new runs, a worker restarting) are
 * skipped; the result decides. A failed run becomes a RunFailedError naming its cause.
 */
export async function waitWithProgress<W extends Workflow, P>(
  handle: WorkflowHandle<W>,
  query: QueryDefinition<P>,
  onProgress: (progress: P) => void,
  intervalMs = 500,
): Promise<Awaited<ReturnType<W>>> {
  let finished = false;
  const poll = (async () => {
    while (!finished) {
      try {
        onProgress(await handle.query(query));
      } catch {
        // The next poll will answer.
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  try {
    return (await handle.result()) as Awaited<ReturnType<W>>;
  } catch (error) {
    throw explainWorkflowFailure(error, handle.workflowId);
  } finally {
    finished = true;
    await poll;
  }
}
