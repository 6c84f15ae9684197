import { isGrpcServiceError, ServiceError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
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
 * How long a wait goes on while the Temporal server does not answer (restarted, failing over). The
 * client gives up on one call after about 20 s of refused connections (its default retry policy);
 * the run itself goes on on the server, so the wait asks again rather than ending the command.
 */
export const SERVER_AWAY_LIMIT_MS = 5 * 60_000;

/** True for the client's "no server answered" (gRPC UNAVAILABLE once its own retries are spent). */
export function isServerUnavailable(error: unknown): boolean {
  return error instanceof ServiceError && isGrpcServiceError(error.cause) && error.cause.code === 14;
}

/**
 * Waits for a run's result, calling `onProgress` with its progress query every `intervalMs`. Query
 * failures (before the first workflow task, between continue-as-new runs, a worker restarting) are
 * skipped; the result decides. While the server does not answer, the wait goes on for up to
 * SERVER_AWAY_LIMIT_MS, saying so once on stderr. A failed run becomes a RunFailedError naming its cause.
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
    // The limit counts from the first refused call of this wait.
    let awaySince: number | undefined;
    let notedAway = false;
    for (;;) {
      try {
        return (await handle.result()) as Awaited<ReturnType<W>>;
      } catch (error) {
        if (!isServerUnavailable(error)) throw error;
        // Each refused call already took the client's ~20 s of retries: no pause of our own is needed.
        awaySince ??= Date.now();
        if (Date.now() - awaySince >= SERVER_AWAY_LIMIT_MS) throw error;
        if (!notedAway) {
          notedAway = true;
          process.stderr.write(`The Temporal server does not answer; still waiting for ${handle.workflowId} (up to ${SERVER_AWAY_LIMIT_MS / 60_000} minutes)\n`);
        }
      }
    }
  } catch (error) {
    throw explainWorkflowFailure(error, handle.workflowId);
  } finally {
    finished = true;
    await poll;
  }
}
