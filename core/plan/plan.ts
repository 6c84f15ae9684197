import type { ProjectSpec } from '../definitions/specs.ts';
import type { WarehouseObjectNode } from '../sql/warehouse-objects.ts';
import { definitionHash } from './definition-hash.ts';
import { diffProjects, summarizeChanges, type PlanChange, type PlanSummary } from './diff.ts';

/** The registry version a plan was made against. */
export interface AppliedVersion {
  readonly version: number;
  readonly hash: string;
  /** ISO 8601 instant. */
  readonly appliedAt: string;
}

/** What `flywheel plan` computes and `flywheel apply` carries out: the changes from the applied version to the definitions. */
export interface Plan {
  readonly project: string;
  /** Undefined when nothing has been applied to this project yet. */
  readonly applied: AppliedVersion | undefined;
  readonly desiredHash: string;
  readonly changes: readonly PlanChange[];
  readonly summary: PlanSummary;
}

export function createPlan(args: {
  project: string;
  applied: (AppliedVersion & { readonly spec: ProjectSpec }) | undefined;
  desired: ProjectSpec;
}): Plan {
  const changes = diffProjects(args.applied?.spec, args.desired);
  const applied = args.applied ? { version: args.applied.version, hash: args.applied.hash, appliedAt: args.applied.appliedAt } : undefined;
  return { project: args.project, applied, desiredHash: definitionHash(args.desired), changes, summary: summarizeChanges(changes) };
}

export function breakingChanges(plan: Plan): PlanChange[] {
  return plan.changes.filter((change) => change.breaking);
}

export const PLAN_DOCUMENT_FORMAT = 'flywheel.plan/v1';

/** A field of a changed object; `before` is absent when the field was added, `after` when it was removed. */
export interface PlanDocumentField {
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly breaking: boolean;
}

export interface PlanDocumentChange {
  readonly action: PlanChange['action'];
  readonly kind: PlanChange['kind'];
  readonly name: string;
  readonly breaking: boolean;
  readonly reasons: readonly string[];
  /** Present for action "change" only. */
  readonly fields?: readonly PlanDocumentField[];
}

/**
 * The stable JSON form of a plan (`flywheel plan --json`), for CI. Keys and their order are fixed
 * for a given `format`; new keys may be added, none renamed or removed without a new format.
 */
export interface PlanDocument {
  readonly format: typeof PLAN_DOCUMENT_FORMAT;
  readonly project: string;
  readonly applied: AppliedVersion | null;
  readonly desiredHash: string;
  readonly hasChanges: boolean;
  readonly summary: PlanSummary;
  readonly changes: readonly PlanDocumentChange[];
}

export function toPlanDocument(plan: Plan): PlanDocument {
  return {
    format: PLAN_DOCUMENT_FORMAT,
    project: plan.project,
    applied: plan.applied ? { version: plan.applied.version, hash: plan.applied.hash, appliedAt: plan.applied.appliedAt } : null,
    desiredHash: plan.desiredHash,
    hasChanges: plan.changes.length > 0,
    summary: { add: plan.summary.add, change: plan.summary.change, remove: plan.summary.remove, breaking: plan.summary.breaking },
    changes: plan.changes.map((change) => ({
      action: change.action,
      kind: change.kind,
      name: change.name,
      breaking: change.breaking,
      reasons: change.reasons,
      ...(change.action === 'change'
        ? {
            fields: change.fields.map((field) => ({
              path: field.path,
              ...('before' in field ? { before: field.before } : {}),
              ...('after' in field ? { after: field.after } : {}),
              breaking: field.breaking,
            })),
          }
        : {}),
    })),
  };
}

/** What `flywheel apply --json` prints: the plan, and what was applied (null when nothing was). */
export interface ApplyDocument extends PlanDocument {
  readonly result: {
    readonly version: number;
    readonly hash: string;
    /** The warehouse objects created, altered, dropped or kept, in the order their statements ran. */
    readonly objects: readonly { readonly action: WarehouseObjectNode['kind']; readonly name: string; readonly column?: string }[];
  } | null;
}
