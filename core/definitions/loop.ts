import { makeDefinition, type Definition } from './definition.ts';
import type { ScheduleInput } from './schedule-input.ts';

/** When a loop runs: a five-field cron or an interval, in UTC. */
export type LoopScheduleInput = ScheduleInput;

export interface LoopInput {
  name: string;
  /** Run it on a schedule (UTC); `flywheel apply` keeps the Temporal Schedule. Without one, `flywheel loop run <name>` runs it. */
  schedule?: LoopScheduleInput;
  /**
   * Only these stages: kinds (`'ingest'`, `'labels'`, `'trainingSet'`, `'materialize'`) or stage ids
   * (`'trainingSet:fraud_training'`, `'materialize:user_spend'`; `flywheel loop plan` lists them).
   * Default: every stage of the project.
   */
  only?: string[];
  /** Stages running at once, as their dependencies allow; default 2. */
  concurrency?: number;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

export type LoopDefinition = Definition<'loop', LoopInput>;

/**
 * A run of the flywheel loop (docs/loop.md): every stage of the project (ingest the event streams,
 * build labels and training sets, materialize online feature views) in the order their definitions
 * make them depend on each other, each stage a child workflow; a failed stage skips only what
 * depends on it.
 *
 * @example
 * export const hourly = loop({ name: 'hourly', schedule: { every: '1h', offset: '5m' }, only: ['ingest', 'materialize'] });
 * export const nightly = loop({ name: 'nightly', schedule: { cron: '0 3 * * *' } });
 */
export function loop(input: LoopInput): LoopDefinition {
  return makeDefinition('loop', input.name, input);
}
