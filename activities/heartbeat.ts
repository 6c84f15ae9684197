import { Context } from '@temporalio/activity';

/**
 * Heartbeats every `intervalMs` while `work` runs, so a worker that dies mid-statement is noticed
 * within the workflow's heartbeatTimeout instead of the (long) startToCloseTimeout. `details` is
 * what a retry will find in `Context.current().info.heartbeatDetails`.
 */
export async function withHeartbeats<T>(work: () => Promise<T>, details: () => unknown = () => undefined, intervalMs = 5_000): Promise<T> {
  const context = Context.current();
  context.heartbeat(details());
  const timer = setInterval(() => context.heartbeat(details()), intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
