import type { Command } from 'commander';
import { registerRunCommand } from './run.ts';
import { registerWorkerCommand } from './worker.ts';

/** Every subcommand, in the order `flywheel --help` lists them. Each file registers one command. */
export function registerCommands(program: Command): void {
  registerWorkerCommand(program);
  registerRunCommand(program);
}
