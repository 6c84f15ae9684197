import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import type { ResolvedTemporalConfig } from '../core/config.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { ingestSweepDocument, type IngestSweepDocument } from '../core/ingest/sweep.ts';
import { toPlanDocument, type Plan } from '../core/plan/plan.ts';
import { desiredSchedules, diffSchedules, knownScheduleIds, planDocumentWithSchedules, schedulesInvolved, type PlanDocumentWithSchedules, type SchedulePlan, type ScheduleState } from '../core/plan/schedules.ts';
import { changedRetentions, retentionCutoff, type RetentionChange } from '../core/retention/cutoff.ts';
import { compileCountExpired } from '../core/sql/retention.ts';

/**
 * The parts of `flywheel plan` beyond the registry diff, shared by the CLI (plan and apply) and the
 * UI's Plan page so both show the same thing: the schedules on Temporal against the desired ones,
 * the stored events a changed retention deletes, and the JSON document (`flywheel plan --json`,
 * format flywheel.plan/v1) that holds them all. The diffs are pure, in core/; here they meet the
 * warehouse and Temporal.
 */

/** Reads a project's schedules on Temporal (runtime/temporal-schedules.ts). */
export interface ScheduleReader {
  read(ids: readonly string[]): Promise<ScheduleState[]>;
}

/** Streams whose retention changes, with the stored events the new retention deletes, counted at `countedAt`. */
export interface RetentionPlan {
  readonly countedAt: string;
  readonly changes: readonly RetentionChange[];
}

/**
 * The schedules to create, update and delete on Temporal; undefined when neither the definitions nor
 * the applied version schedule anything (then Temporal is not asked at all: `schedules` is not called).
 */
export async function planSchedules(args: {
  readonly project: string;
  readonly applied: ProjectSpec | undefined;
  readonly desired: ProjectSpec;
  readonly temporal: Pick<ResolvedTemporalConfig, 'address' | 'namespace' | 'taskQueues'>;
  readonly schedules: () => Promise<ScheduleReader>;
}): Promise<SchedulePlan | undefined> {
  const { project, applied, desired, temporal } = args;
  if (!schedulesInvolved(applied, desired)) return undefined;
  const existing = await (await args.schedules()).read(knownScheduleIds(project, applied, desired));
  const changes = diffSchedules(desiredSchedules({ project, spec: desired, taskQueues: temporal.taskQueues }), existing);
  return { temporal: { address: temporal.address, namespace: temporal.namespace }, changes };
}

/**
 * For each applied stream whose retention the definitions change, the stored events older than the
 * new retention as of `countedAt`: what the next retention run deletes (docs/collect.md, "Retention").
 */
export async function countRetentionChanges(engine: OfflineEngine, applied: ProjectSpec | undefined, desired: ProjectSpec, countedAt: string): Promise<RetentionPlan> {
  const changes: RetentionChange[] = [];
  for (const { stream, beforeSeconds } of changedRetentions(applied, desired)) {
    const cutoff = retentionCutoff(countedAt, stream.retentionSeconds);
    const [row] = await engine.all<{ rows: number | bigint }>(compileCountExpired(stream, { cutoff }, engine.dialect));
    changes.push({ stream: stream.name, beforeSeconds, afterSeconds: stream.retentionSeconds, cutoff, rows: Number(row?.rows ?? 0) });
  }
  return { countedAt, changes };
}

/** The plan document with `retention` (only when a stream's retention changes, so documents of other plans are as they were). */
export function withRetention<T extends object>(document: T, retention: RetentionPlan): T & { retention?: readonly RetentionChange[] } {
  return retention.changes.length > 0 ? { ...document, retention: retention.changes } : document;
}

/** What `flywheel plan --json` prints. */
export type FullPlanDocument = PlanDocumentWithSchedules & { readonly retention?: readonly RetentionChange[]; readonly ingestSweep?: IngestSweepDocument };

export function fullPlanDocument(args: { readonly plan: Plan; readonly schedules: SchedulePlan | undefined; readonly retention: RetentionPlan; readonly desired: ProjectSpec }): FullPlanDocument {
  const sweep = ingestSweepDocument(args.plan.project, args.desired);
  return { ...withRetention(planDocumentWithSchedules(toPlanDocument(args.plan), args.schedules), args.retention), ...(sweep ? { ingestSweep: sweep } : {}) };
}
