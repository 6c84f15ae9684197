import { FlywheelError } from '../../core/errors.ts';

/**
 * Thrown by `flywheel apply` when Temporal refuses or fails a schedule change. What was done before
 * it stays done; apply is idempotent, so running it again finishes the job.
 */
export class ScheduleApplyError extends FlywheelError {
  readonly scheduleId: string;
  readonly action: 'create' | 'update' | 'delete';
  constructor(action: 'create' | 'update' | 'delete', scheduleId: string, done: string, cause: unknown) {
    const reason = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
    super(`Could not ${action} schedule ${scheduleId} on Temporal: ${reason}. ${done}Run flywheel apply again to finish.`, { cause });
    this.scheduleId = scheduleId;
    this.action = action;
  }
}
