import type { Command } from 'commander';
import { loadConfig, type ResolvedConfig } from '../project/load-config.ts';

export interface GlobalOptions {
  config?: string;
  profile?: string;
  debug?: boolean;
}

/** The options given before the subcommand (`flywheel --profile prod plan`). */
export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

export function loadConfigFor(command: Command): Promise<ResolvedConfig> {
  const { config, profile } = globalOptions(command);
  return loadConfig({ ...(config ? { config } : {}), ...(profile ? { profile } : {}) });
}
