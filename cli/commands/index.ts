import type { Command } from 'commander';

/** Every subcommand, in the order `flywheel --help` lists them. Each file registers one command. */
export function registerCommands(program: Command): void {
  void program;
}
