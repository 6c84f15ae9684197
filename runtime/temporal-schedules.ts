import {
  Client,
  DAYS_OF_WEEK,
  MONTHS,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type CalendarSpec,
  type CalendarSpecDescription,
  type Range,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleSpec,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import type { SearchAttributePair, TypedSearchAttributes } from '@temporalio/common';
import type { ResolvedTemporalConfig, TemporalConfig } from '../core/config.ts';
import { FlywheelError } from '../core/errors.ts';
import { scheduleTargetOfId, type ScheduleState, type ScheduleTimes } from '../core/plan/schedules.ts';
import { CRON_FIELDS, type CronCalendar, type CronField } from '../core/validation/cron.ts';
import { connectClient } from './temporal-connection.ts';
import { registerSearchAttributes } from '../worker/search-attributes-registration.ts';
import { FLYWHEEL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_PROJECT } from '../workflows/search-attributes.ts';

/**
 * A project's schedules on Temporal (training sets' and feature views' materialization): read them as ScheduleState (what core/plan/schedules.ts
 * diffs), and create, update and delete them. The only module that turns Flywheel's schedule model
 * into Temporal's and back.
 *
 * @example
 * const schedules = await TemporalSchedules.connect(config.project, config.profile.temporal);
 * try {
 *   const existing = await schedules.read(knownScheduleIds(project, applied, desired));
 *   for (const change of diffSchedules(desired, existing)) ...
 * } finally {
 *   await schedules.close();
 * }
 */
export class TemporalSchedules {
  private constructor(
    private readonly client: Client,
    private readonly project: string,
    readonly temporal: { readonly address: string; readonly namespace: string },
  ) {}

  /** Connects to the profile's Temporal; throws TemporalUnreachableError when no server answers. */
  static async connect(project: string, temporal: ResolvedTemporalConfig): Promise<TemporalSchedules> {
    const connection = await connectClient(temporal);
    // Schedules start workflows with Flywheel's search attributes, which a cluster must know first.
    try {
      await registerSearchAttributes(connection, temporal.namespace, FLYWHEEL_SEARCH_ATTRIBUTES);
    } catch (error) {
      await connection.close();
      throw error;
    }
    return new TemporalSchedules(new Client({ connection, namespace: temporal.namespace }), project, { address: temporal.address, namespace: temporal.namespace });
  }

  /**
   * Connects to read only (the UI's Plan page): no search attributes are registered, since reading
   * changes nothing on the cluster. A cluster that has never seen Flywheel's attributes cannot list
   * by them; `read` then fails with a FlywheelError saying so.
   */
  static async connectToRead(project: string, temporal: TemporalConfig): Promise<TemporalSchedules> {
    const connection = await connectClient(temporal);
    return new TemporalSchedules(new Client({ connection, namespace: temporal.namespace }), project, { address: temporal.address, namespace: temporal.namespace });
  }

  close(): Promise<void> {
    return this.client.connection.close();
  }

  /**
   * The project's schedules that exist: `ids` are described for certain (listing is eventually
   * consistent, so a schedule created a moment ago may not be listed yet), plus any other schedule
   * listed with `FlywheelProject = <project>` whose id is a training-set or materialization schedule
   * id of the project.
   */
  async read(ids: readonly string[]): Promise<ScheduleState[]> {
    const candidates = new Set(ids);
    try {
      for await (const summary of this.client.schedule.list({ query: `FlywheelProject = '${this.project}'` })) {
        if (scheduleTargetOfId(this.project, summary.scheduleId) !== undefined) candidates.add(summary.scheduleId);
      }
    } catch (cause) {
      throw new FlywheelError(`Cannot list the schedules of project "${this.project}" on Temporal at ${this.temporal.address}: ${(cause as Error).message}`, { cause });
    }
    const states: ScheduleState[] = [];
    for (const id of [...candidates].sort()) {
      const description = await this.describe(id);
      if (description) states.push(stateFromDescription(this.project, description));
    }
    return states;
  }

  async create(state: ScheduleState): Promise<void> {
    try {
      await this.client.schedule.create({ scheduleId: state.id, ...scheduleOptions(state), state: scheduleState(state) });
    } catch (error) {
      if (error instanceof ScheduleAlreadyRunning) {
        throw new FlywheelError(`Schedule ${state.id} was created by someone else since the plan was made; run flywheel plan again`, { cause: error });
      }
      throw error;
    }
  }

  /** Replaces the schedule's spec, action, policies, search attributes and paused state with `state`'s. */
  async update(state: ScheduleState): Promise<void> {
    await this.client.schedule.getHandle(state.id).update((): ScheduleUpdateOptions => ({ ...scheduleOptions(state), state: scheduleState(state) }));
  }

  /** Deletes the schedule (runs it already started keep running); a schedule already gone is fine. */
  async delete(id: string): Promise<void> {
    try {
      await this.client.schedule.getHandle(id).delete();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  }

  private async describe(id: string): Promise<ScheduleDescription | undefined> {
    try {
      return await this.client.schedule.getHandle(id).describe();
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return undefined;
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Flywheel → Temporal

/** Paused or not, with a note (shown in the Temporal UI) saying where to change it. */
function scheduleState(state: ScheduleState): { paused: boolean; note?: string } {
  return state.paused ? { paused: true, note: 'paused in its Flywheel definition (schedule.paused); flywheel apply keeps it so' } : { paused: false };
}

function scheduleOptions(state: ScheduleState): Omit<ScheduleOptions, 'scheduleId' | 'state'> {
  const searchAttributes = searchAttributePairs(state.searchAttributes);
  return {
    spec: scheduleSpec(state.times),
    action: {
      type: 'startWorkflow',
      workflowType: state.action.workflowType,
      workflowId: state.action.workflowId,
      taskQueue: state.action.taskQueue,
      args: [state.action.input],
      typedSearchAttributes: searchAttributePairs(state.action.searchAttributes),
    },
    policies: { overlap: overlapPolicy(state.overlap), catchupWindow: state.catchupWindowSeconds * 1000 },
    typedSearchAttributes: searchAttributes,
  };
}

function overlapPolicy(name: string): ScheduleOverlapPolicy {
  const policy = Object.values(ScheduleOverlapPolicy).find((value) => value === name);
  if (policy === undefined) throw new FlywheelError(`unknown schedule overlap policy "${name}"`);
  return policy;
}

function scheduleSpec(times: ScheduleTimes): ScheduleSpec {
  switch (times.type) {
    case 'calendar': return { calendars: [calendarSpec(times.calendar, times.cron)] };
    case 'interval': return { intervals: [{ every: times.everySeconds * 1000, offset: times.offsetSeconds * 1000 }] };
    case 'other': throw new FlywheelError(`cannot create a schedule from ${times.description}`);
  }
}

/** A calendar that fires at second 0 of every matched minute, any year, with the cron as its comment. */
function calendarSpec(calendar: CronCalendar, cron: string | undefined): CalendarSpec {
  const field = <T>(key: CronField, toUnit: (value: number) => T) => {
    const rule = CRON_FIELDS.find((f) => f.key === key)!;
    const values = calendar[key];
    if (values.length === (key === 'dayOfWeek' ? 7 : rule.max - rule.min + 1)) return '*' as const;
    return runsOf(values).map(([start, end]) => ({ start: toUnit(start), end: toUnit(end), step: 1 }));
  };
  return {
    second: 0,
    minute: field('minute', (v) => v),
    hour: field('hour', (v) => v),
    dayOfMonth: field('dayOfMonth', (v) => v),
    month: field('month', (v) => MONTHS[v - 1]!),
    dayOfWeek: field('dayOfWeek', (v) => DAYS_OF_WEEK[v]!),
    ...(cron !== undefined ? { comment: cron } : {}),
  };
}

/** Sorted distinct values as runs of consecutive values: [1,2,3,7] → [[1,3],[7,7]]. */
function runsOf(values: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const value of values) {
    const last = runs.at(-1);
    if (last && value === last[1] + 1) last[1] = value;
    else runs.push([value, value]);
  }
  return runs;
}

function searchAttributePairs(values: Readonly<Record<string, string>>): SearchAttributePair[] {
  const keys = [FLYWHEEL_PROJECT, FLYWHEEL_KIND, FLYWHEEL_OBJECT];
  return keys.filter((key) => values[key.name] !== undefined).map((key) => ({ key, value: values[key.name]! }));
}

// ---------------------------------------------------------------------------------------------
// Temporal → Flywheel

function stateFromDescription(project: string, description: ScheduleDescription): ScheduleState {
  const { action } = description;
  return {
    id: description.scheduleId,
    ...(scheduleTargetOfId(project, description.scheduleId) ?? { trainingSet: description.scheduleId }),
    times: timesFromSpec(description.spec),
    paused: description.state.paused,
    // The server treats an unspecified overlap policy as SKIP.
    overlap: description.policies.overlap ?? 'SKIP',
    catchupWindowSeconds: Math.round(description.policies.catchupWindow / 1000),
    searchAttributes: flywheelAttributes(description.typedSearchAttributes),
    action: {
      workflowType: action.workflowType,
      workflowId: action.workflowId ?? '',
      taskQueue: action.taskQueue,
      input: action.args?.length === 1 ? action.args[0] : action.args,
      searchAttributes: flywheelAttributes(action.typedSearchAttributes),
    },
  };
}

function flywheelAttributes(attributes: TypedSearchAttributes | readonly SearchAttributePair[] | undefined): Record<string, string> {
  const pairs = attributes === undefined ? [] : Array.isArray(attributes) ? attributes : (attributes as TypedSearchAttributes).getAll();
  const names = new Set([FLYWHEEL_PROJECT.name, FLYWHEEL_KIND.name, FLYWHEEL_OBJECT.name]);
  return Object.fromEntries(pairs.filter((pair) => names.has(pair.key.name)).map((pair) => [pair.key.name, String(pair.value)]));
}

/** The times of a described schedule, when they are one calendar or one interval as Flywheel writes them. */
function timesFromSpec(spec: ScheduleDescription['spec']): ScheduleTimes {
  const calendars = spec.calendars ?? [];
  const intervals = spec.intervals ?? [];
  const extras = [
    spec.skip && spec.skip.length > 0 ? 'skipped times' : undefined,
    spec.startAt ? `start ${spec.startAt.toISOString()}` : undefined,
    spec.endAt ? `end ${spec.endAt.toISOString()}` : undefined,
    spec.timezone && spec.timezone !== 'UTC' ? `time zone ${spec.timezone}` : undefined,
  ].filter((extra) => extra !== undefined);
  if (extras.length === 0 && calendars.length === 1 && intervals.length === 0) {
    const calendar = calendarFromDescription(calendars[0]!);
    if (calendar) return { type: 'calendar', calendar, ...(calendars[0]!.comment ? { cron: calendars[0]!.comment } : {}) };
    extras.push('seconds or years in its calendar');
  }
  if (extras.length === 0 && intervals.length === 1 && calendars.length === 0) {
    // A zero offset comes back absent, whatever the type says.
    const { every, offset } = intervals[0]! as { every: number; offset?: number };
    return { type: 'interval', everySeconds: Math.round(every / 1000), offsetSeconds: Math.round((offset ?? 0) / 1000) };
  }
  const parts = [`${calendars.length} calendar(s)`, `${intervals.length} interval(s)`, ...extras];
  return { type: 'other', description: `a spec Flywheel does not write (${parts.join(', ')})` };
}

/** The values a described calendar matches, or undefined when it restricts seconds or years (Flywheel never does). */
function calendarFromDescription(description: CalendarSpecDescription): CronCalendar | undefined {
  const expand = <T>(ranges: readonly Range<T>[], toNumber: (unit: T) => number): number[] => {
    const values = new Set<number>();
    for (const range of ranges) {
      const start = toNumber(range.start);
      const end = Math.max(start, toNumber(range.end));
      for (let value = start; value <= end; value += Math.max(1, range.step)) values.add(value);
    }
    return [...values].sort((a, b) => a - b);
  };
  const seconds = expand(description.second, (v) => v);
  if (seconds.length !== 1 || seconds[0] !== 0 || description.year.length > 0) return undefined;
  return {
    minute: expand(description.minute, (v) => v),
    hour: expand(description.hour, (v) => v),
    dayOfMonth: expand(description.dayOfMonth, (v) => v),
    month: expand(description.month, (m) => MONTHS.indexOf(m) + 1),
    dayOfWeek: expand(description.dayOfWeek, (d) => DAYS_OF_WEEK.indexOf(d)),
  };
}
