import type { DurationInput } from '../duration.ts';

/**
 * When a scheduled definition runs, as users write it: a five-field cron or an interval, always in
 * UTC, with a catch-up window and a paused flag. Training sets, materialization, labels and loops
 * take this, some with fields of their own; validation normalizes it into a ScheduleSpec.
 */
export type ScheduleInput = (
  | { /** Five fields, UTC: `'0 3 * * *'` is every day at 03:00 UTC, `'5 * * * *'` five past every hour. */ cron: string; every?: never; offset?: never }
  | { /** `'1h'`, `'1d'`: times since the Unix epoch, plus offset. */ every: DurationInput; /** `'5m'`: shifts each time. */ offset?: DurationInput; cron?: never }
) & {
  /** Runs missed while Temporal was down are still started if at most this late; default `'1d'`. */
  catchupWindow?: DurationInput;
  /** Create the schedule paused; default false. */
  paused?: boolean;
  /** Not supported: schedules run in UTC. */
  timezone?: never;
};
