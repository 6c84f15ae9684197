import type { Command } from 'commander';
import type { ResolvedConfig } from '../../runtime/load-config.ts';

export interface GlobalOptions {
  config?: string;
  profile?: string;
  debug?: boolean;
}

/** The options given before the subcommand (`flywheel --profile prod plan`). */
export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/** Loads the project's config; the loader (and its schema) is imported here so `flywheel --help` never loads it. */
export async function loadConfigFor(command: Command): Promise<ResolvedConfig> {
  const { config, profile } = globalOptions(command);
  const { loadConfig } = await import('../../runtime/load-config.ts');
  return loadConfig({ ...(config ? { config } : {}), ...(profile ? { profile } : {}) });
}
