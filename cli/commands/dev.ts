import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, type Command } from 'commander';
import { TOKENS_ENV, TokenTable } from '../../server/auth/bearer-tokens.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';
import type { DevApiServer, DevWorker } from '../dev/run-dev.ts';
import { namingPortFlag } from '../serve/port-in-use.ts';
import { loadConfigFor } from './global-options.ts';

/**
 * `flywheel dev`: starts (or reuses) a local Temporal dev server with the Web UI on :8233, runs a
 * Flywheel worker against it and the project's API server (`flywheel serve`: the log API and the
 * serving API) on --port, until Ctrl-C. The worker is started by `startWorker`, which main.ts
 * passes in, so this command does not depend on how the worker wires connectors. Without
 * FLYWHEEL_TOKENS, the API takes one token made up for the session (`read,write:*`), printed.
 *
 * @example
 * registerDevCommand(program, startProjectWorker);
 */
export function registerDevCommand(program: Command, startWorker: (config: ResolvedConfig) => Promise<DevWorker>): Command {
  return program
    .command('dev')
    .description('run a local Temporal dev server (Web UI on http://localhost:8233), a Flywheel worker and the API server (flywheel serve) until Ctrl-C')
    .option('--ui-port <port>', 'port of the Temporal Web UI', parsePort, 8233)
    .option('--port <port>', 'port of the API server (log and serving API)', parsePort, 8080)
    .option('--no-serve', 'do not run the API server')
    .option('--flywheel-ui-port <port>', 'port of the Flywheel UI (flywheel ui)', parsePort, 8300)
    .option('--no-flywheel-ui', 'do not run the Flywheel UI')
    .action(async (options: { uiPort: number; port: number; serve: boolean; flywheelUiPort: number; flywheelUi: boolean }, command: Command) => {
      const config = await loadConfigFor(command);
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { runDev } = await import('../dev/run-dev.ts');
      await runDev({
        projectRoot: config.projectRoot,
        stateDir: config.stateDir,
        temporal: config.profile.temporal,
        uiPort: options.uiPort,
        startWorker: () => startWorker(config),
        ...(options.serve || options.flywheelUi
          ? { startServer: () => startDevApi(config, { port: options.serve ? options.port : undefined, uiPort: options.flywheelUi ? options.flywheelUiPort : undefined, temporalUiPort: options.uiPort }) }
          : {}),
      });
    });
}

/**
 * `flywheel serve` and `flywheel ui` on 127.0.0.1 (each unless turned off), with FLYWHEEL_TOKENS or one
 * token made up for the session (`read,write:*`: the UI reads with it too, and its address carries it).
 */
async function startDevApi(config: ResolvedConfig, ports: { port: number | undefined; uiPort: number | undefined; temporalUiPort: number }): Promise<DevApiServer> {
  const spec = process.env[TOKENS_ENV];
  const madeUp = spec && spec.trim() !== '' ? undefined : randomBytes(18).toString('hex');
  const tokens = madeUp === undefined ? TokenTable.fromEnv() : TokenTable.parse(`${madeUp}=read,write:*`, 'the dev token');
  const description: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closeOne of closers.reverse()) await closeOne();
  };
  try {
    if (ports.port !== undefined) {
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { startProjectServer } = await import('../serve/start-project-server.ts');
      const port = ports.port;
      const running = await namingPortFlag('--port', () => startProjectServer(config, { tokens, host: '127.0.0.1', port, ingest: true }));
      closers.push(() => running.close());
      description.push(
        `API server         ${running.server.url}`,
        ...running.description.map((line) => `                   ${line}`),
        madeUp === undefined
          ? `                   Tokens from ${TOKENS_ENV}.`
          : `                   Token (this session only; set ${TOKENS_ENV} to choose): Authorization: Bearer ${madeUp}`,
      );
    }
    if (ports.uiPort !== undefined) {
      const { startProjectUi } = await import('../serve/start-project-ui.ts');
      const uiPort = ports.uiPort;
      const ui = await namingPortFlag('--flywheel-ui-port', () => startProjectUi(config, {
        tokens, host: '127.0.0.1', port: uiPort, temporalUiUrl: `http://localhost:${ports.temporalUiPort}`, ...(madeUp ? { sessionToken: madeUp } : {}),
      }));
      closers.push(() => ui.close());
      description.push(...ui.description);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { description, close };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new InvalidArgumentError(`not a port: ${value}`);
  return port;
}
