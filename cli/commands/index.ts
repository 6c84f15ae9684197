import type { Command } from 'commander';
import { registerApplyCommand } from './apply.ts';
import { registerPlanCommand } from './plan.ts';
import { registerRunCommand } from './run.ts';
import { registerWorkerCommand } from './worker.ts';

/** Every subcommand, in the order `flywheel --help` lists them. Each file registers one command. */
export function registerCommands(program: Command): void {
  registerPlanCommand(program);
  registerApplyCommand(program);
  registerWorkerCommand(program);
  registerRunCommand(program);
}
