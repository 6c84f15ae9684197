import type { FeatureViewSpec, ProjectSpec } from '../definitions/specs.ts';
import { describeTimes, scheduleTimes, type ScheduleTimes } from '../plan/schedules.ts';
import type { CronCalendar } from '../validation/cron.ts';
import { materializationHash, type MaterializationMode, type MaterializationState } from './run-plan.ts';

/**
 * How fresh each online feature view's materialized values are: what `flywheel status` prints.
 * Pure: the caller reads the registry and the stored states and passes the time.
 *
 * @example
 * const rows = materializationStatuses(applied.spec, await states.list(project), new Date());
 * // [{ view: 'user_spend', schedule: 'every 1h', watermark: '...', ageSeconds: 1800, state: 'fresh', stale: false, ... }]
 */

/** `fresh`/`stale` against the schedule; `never`: no run has set a watermark; `unscheduled`: no schedule to be stale against. */
export type FreshnessState = 'fresh' | 'stale' | 'never' | 'unscheduled';

export interface ViewMaterializationStatus {
  readonly view: string;
  /** When the schedule fires (`every 1h`, `cron "0 * * * *" UTC`), or null when the view has none. */
  readonly schedule: string | null;
  readonly paused: boolean;
  /** The schedule's interval (for a cron: the longest gap between two of its runs), or null. */
  readonly intervalSeconds: number | null;
  /** The stored watermark, or null. */
  readonly watermark: string | null;
  /** How long ago the watermark is, or null. */
  readonly ageSeconds: number | null;
  readonly state: FreshnessState;
  /** Never materialized, or the watermark is more than twice the schedule's interval old. */
  readonly stale: boolean;
  /** What the run that set the watermark did. */
  readonly mode: MaterializationMode | null;
  readonly rows: number | null;
  readonly finishedAt: string | null;
  /** The watermark was computed with another definition of the view: its next run is full. */
  readonly definitionChanged: boolean;
}

/** A watermark older than this many schedule intervals is stale. */
export const STALE_AFTER_INTERVALS = 2;

/** The status of every online feature view of `spec`, by name. */
export function materializationStatuses(spec: ProjectSpec, states: readonly MaterializationState[], now: Date): ViewMaterializationStatus[] {
  const byView = new Map(states.map((state) => [state.featureView, state]));
  return Object.values(spec.featureViews)
    .filter((view) => view.online)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((view) => materializationStatus(view, spec, byView.get(view.name), now));
}

export function materializationStatus(view: FeatureViewSpec, spec: ProjectSpec, state: MaterializationState | undefined, now: Date): ViewMaterializationStatus {
  const times = view.materialize ? scheduleTimes(view.materialize) : undefined;
  const intervalSeconds = times ? scheduleIntervalSeconds(times, now) : null;
  const ageSeconds = state ? Math.max(0, Math.floor((now.getTime() - Date.parse(state.watermark)) / 1000)) : null;
  const freshness: FreshnessState = !state ? 'never'
    : intervalSeconds === null ? 'unscheduled'
    : ageSeconds! > STALE_AFTER_INTERVALS * intervalSeconds ? 'stale'
    : 'fresh';
  return {
    view: view.name,
    schedule: times ? describeTimes(times) : null,
    paused: view.materialize?.paused ?? false,
    intervalSeconds,
    watermark: state?.watermark ?? null,
    ageSeconds,
    state: freshness,
    stale: freshness === 'never' || freshness === 'stale',
    mode: state?.mode ?? null,
    rows: state?.rows ?? null,
    finishedAt: state?.finishedAt ?? null,
    definitionChanged: state !== undefined && state.definitionHash !== materializationHash(view, spec),
  };
}

const DAY_MS = 86_400_000;
/** Four years and a day: every valid cron runs at least twice in a window this long. */
const CRON_WINDOW_DAYS = 4 * 366 + 1;

/**
 * The time between runs of a schedule: an interval's `every`; for a cron, the longest gap between two
 * consecutive runs in the four years before `now` (`0 3 * * 1-5` runs every day but the weekend: 3 days).
 */
export function scheduleIntervalSeconds(times: ScheduleTimes, now: Date): number | null {
  switch (times.type) {
    case 'interval': return times.everySeconds;
    case 'calendar': return longestCronGapSeconds(times.calendar, now);
    case 'other': return null;
  }
}

function longestCronGapSeconds(calendar: CronCalendar, now: Date): number | null {
  const minutesOfDay = calendar.hour.flatMap((hour) => calendar.minute.map((minute) => hour * 60 + minute)).sort((a, b) => a - b);
  const months = new Set(calendar.month);
  const days = new Set(calendar.dayOfMonth);
  const weekdays = new Set(calendar.dayOfWeek);
  const lastDay = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  let previous: number | undefined;
  let longest = 0;
  for (let day = lastDay - CRON_WINDOW_DAYS * DAY_MS; day <= lastDay; day += DAY_MS) {
    const date = new Date(day);
    if (!months.has(date.getUTCMonth() + 1) || !days.has(date.getUTCDate()) || !weekdays.has(date.getUTCDay())) continue;
    for (const minute of minutesOfDay) {
      const at = day + minute * 60_000;
      if (previous !== undefined) longest = Math.max(longest, at - previous);
      previous = at;
    }
  }
  return longest > 0 ? longest / 1000 : null;
}

/** An age for people: `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const parts: [number, string][] = [[Math.floor(seconds / 86_400), 'd'], [Math.floor((seconds % 86_400) / 3600), 'h'], [Math.floor((seconds % 3600) / 60), 'm']];
  const first = parts.findIndex(([value]) => value > 0);
  return parts.slice(first, first + 2).filter(([value]) => value > 0).map(([value, unit]) => `${value}${unit}`).join(' ');
}
