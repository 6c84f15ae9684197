import type { Command } from 'commander';
import { registerApplyCommand } from './apply.ts';
import { registerBackfillCommand } from './backfill.ts';
import { registerDatasetsCommand } from './datasets.ts';
import { registerDevCommand } from './dev.ts';
import { registerInitCommand } from './init.ts';
import { registerLoopCommand } from './loop.ts';
import { registerLabelsCommand } from './labels.ts';
import { registerMaterializeCommand } from './materialize.ts';
import { registerModelsCommand } from './models.ts';
import { registerPlanCommand } from './plan.ts';
import { registerRetentionCommand } from './retention.ts';
import { registerRunCommand } from './run.ts';
import { registerScoreCommand } from './score.ts';
import { registerServeCommand } from './serve.ts';
import { registerStatusCommand } from './status.ts';
import { registerStreamsCommand } from './streams.ts';
import { registerUiCommand } from './ui.ts';
import { registerValidateCommand } from './validate.ts';
import { registerWorkerCommand } from './worker.ts';

/** Every subcommand, in the order `flywheel --help` lists them. Each file registers one command. */
export function registerCommands(program: Command): void {
  registerInitCommand(program);
  registerValidateCommand(program);
  registerPlanCommand(program);
  registerApplyCommand(program);
  // The worker (Temporal's worker package, every connector) loads only when `dev` starts one.
  registerDevCommand(program, async (config) => (await import('../../worker/start-project-worker.ts')).startProjectWorker(config));
  registerWorkerCommand(program);
  registerRunCommand(program);
  registerBackfillCommand(program);
  registerDatasetsCommand(program);
  registerLabelsCommand(program);
  registerMaterializeCommand(program);
  registerModelsCommand(program);
  registerScoreCommand(program);
  registerRetentionCommand(program);
  registerStatusCommand(program);
  registerStreamsCommand(program);
  registerLoopCommand(program);
  registerServeCommand(program);
  registerUiCommand(program);
}
