import { Context } from '@temporalio/activity';
import type { StatementContext } from '../connectors/offline/snowflake/snowflake-session.ts';

/**
 * The statement context of the running activity: every warehouse statement it sends is tagged with
 * the run (QUERY_TAG on Snowflake: project, object, workflow id, activity type, attempt) and
 * cancelled on the warehouse when Temporal cancels the activity (its cancellationSignal).
 *
 * No heartbeat: activities heartbeat themselves (withHeartbeats) with details a retry resumes from
 * (a partition cursor); an engine heartbeating on its own would send other details and overwrite
 * them. Cancellation still arrives: Temporal delivers it on the activity's own heartbeats.
 *
 * Outside an activity (a test calling an activity function directly, the CLI) there is no context,
 * and statements go untagged and uncancellable, as before.
 */
export function activityStatementContext(project: string): StatementContext {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return {};
  }
  const { workflowExecution, activityType, attempt } = context.info;
  // Undefined only for an activity started on its own, outside a workflow.
  const run = workflowExecution?.workflowId;
  const object = run !== undefined ? objectOfRunId(project, run) : undefined;
  return {
    queryTag: { project, ...(object !== undefined ? { object } : {}), ...(run !== undefined ? { run } : {}), activity: activityType, attempt },
    signal: context.cancellationSignal,
  };
}

/**
 * The object a run is about, read from its workflow id (`<project>/<kind>/<object>/<range>`, the
 * ids Flywheel's clients and schedules give runs), or undefined for an id of another shape. Search
 * attributes (FlywheelObject) would say it too, but activities are not given them.
 */
export function objectOfRunId(project: string, workflowId: string): string | undefined {
  const [first, kind, object] = workflowId.split('/');
  return first === project && kind && object ? object : undefined;
}
