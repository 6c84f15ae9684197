import { NotFoundError } from '../core/errors.ts';
import { planLoop, selectStages, type LoopStage } from '../core/loop/plan-loop.ts';
import { withEngine, type ActivityDeps } from './deps.ts';
import { atBoundary } from './failures.ts';

export interface PlanFlywheelLoopInput {
  /** A declared loop: its `only` and concurrency apply. Absent: every stage of the project. */
  readonly loop?: string;
  /** Stage kinds or ids; replaces the declared loop's `only`. */
  readonly only?: readonly string[];
  /** The instant the run is for (ISO-8601). */
  readonly asOf: string;
}

export interface FlywheelLoopPlan {
  readonly registryVersion: number;
  /** The stages to run, in loop order (core/loop/plan-loop.ts). */
  readonly stages: readonly LoopStage[];
  /** The declared loop's concurrency, when a declared loop was named. */
  readonly concurrency?: number;
}

/** The flywheel loop's one activity: read the latest applied definitions and plan the stages (docs/loop.md). */
export function createLoopActivities(deps: ActivityDeps) {
  return {
    /**
     * The stages of the project's loop as of `asOf`, from the latest applied registry version, cut
     * down to the declared loop's (or the given) `only`. A name in `only` the loop does not have, or a
     * loop that is not declared, fails without retries.
     */
    async planFlywheelLoop(input: PlanFlywheelLoopInput): Promise<FlywheelLoopPlan> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const applied = await deps.registry(engine).latest(deps.project);
          if (!applied) throw new NotFoundError('registry', deps.project, 'Run `flywheel apply` first');
          let only = input.only;
          let concurrency: number | undefined;
          if (input.loop !== undefined) {
            const declared = applied.spec.loops?.[input.loop];
            if (!declared) {
              const known = Object.keys(applied.spec.loops ?? {}).sort();
              throw new NotFoundError('loop', input.loop, known.length > 0 ? `Declared loops: ${known.join(', ')}` : 'No loop is applied; declare one with loop() and run flywheel apply, or run the whole loop without a name');
            }
            only = only && only.length > 0 ? only : declared.only;
            concurrency = declared.concurrency;
          }
          const stages = selectStages(planLoop(applied.spec, { project: deps.project, asOf: input.asOf, registryVersion: applied.version }), only);
          return { registryVersion: applied.version, stages, ...(concurrency !== undefined ? { concurrency } : {}) };
        }),
      );
    },
  };
}

export type LoopActivities = ReturnType<typeof createLoopActivities>;
