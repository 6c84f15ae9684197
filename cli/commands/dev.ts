import { InvalidArgumentError, type Command } from 'commander';
import type { ResolvedConfig } from '../project/load-config.ts';
import { runDev, type DevWorker } from '../dev/run-dev.ts';
import { loadConfigFor } from './global-options.ts';

/**
 * `flywheel dev`: starts (or reuses) a local Temporal dev server with the Web UI on :8233 and runs
 * a Flywheel worker against it until Ctrl-C. The worker is started by `startWorker`, which main.ts
 * passes in, so this command does not depend on how the worker wires connectors.
 *
 * @example
 * registerDevCommand(program, startProjectWorker);
 */
export function registerDevCommand(program: Command, startWorker: (config: ResolvedConfig) => Promise<DevWorker>): Command {
  return program
    .command('dev')
    .description('run a local Temporal dev server (Web UI on http://localhost:8233) and a Flywheel worker until Ctrl-C')
    .option('--ui-port <port>', 'port of the Temporal Web UI', parsePort, 8233)
    .action(async (options: { uiPort: number }, command: Command) => {
      const config = await loadConfigFor(command);
      await runDev({
        projectRoot: config.projectRoot,
        stateDir: config.stateDir,
        temporal: config.profile.temporal,
        uiPort: options.uiPort,
        startWorker: () => startWorker(config),
      });
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new InvalidArgumentError(`not a port: ${value}`);
  return port;
}
