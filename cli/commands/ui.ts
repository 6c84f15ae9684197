import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, type Command } from 'commander';
import { TOKENS_ENV, TokenTable } from '../../server/auth/bearer-tokens.ts';
import { namingPortFlag } from '../serve/port-in-use.ts';
import { loadConfigFor } from './global-options.ts';

interface UiOptions {
  port: number;
  host: string;
  temporalUi?: string;
}

/**
 * `flywheel ui`: the project's UI in the browser (docs/ui.md): the loop as a graph with each
 * definition's health, feature views, datasets, labels, streams, runs and the plan, read-only, until
 * Ctrl-C. Tokens come from FLYWHEEL_TOKENS (a token with the `read` scope); without it, one is made up
 * for the session (`read`) and put in the printed address.
 */
export function registerUiCommand(program: Command): Command {
  return program
    .command('ui')
    .description('serve the project\'s UI (loop graph, feature views, datasets, labels, streams, runs, plan) on http://127.0.0.1:8300 until Ctrl-C')
    .option('--port <port>', 'port to listen on (0: any free port)', parsePort, 8300)
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--temporal-ui <url>', 'the Temporal Web UI that run links open (default http://localhost:8233 for a local Temporal)')
    .action(async (options: UiOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const { tokens, sessionToken } = uiTokens();
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { startProjectUi } = await import('../serve/start-project-ui.ts');
      const running = await namingPortFlag('--port', () => startProjectUi(config, {
        tokens, host: options.host, port: options.port, ...(options.temporalUi ? { temporalUiUrl: options.temporalUi } : {}), ...(sessionToken ? { sessionToken } : {}),
      }));
      process.stdout.write(`${running.description.join('\n')}\nCtrl-C stops it.\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await running.close();
    });
}

/** FLYWHEEL_TOKENS when set; else one read token made up for the session. */
export function uiTokens(env: NodeJS.ProcessEnv = process.env): { tokens: TokenTable; sessionToken: string | undefined } {
  const spec = env[TOKENS_ENV];
  if (spec && spec.trim() !== '') return { tokens: TokenTable.parse(spec), sessionToken: undefined };
  const sessionToken = randomBytes(18).toString('hex');
  return { tokens: TokenTable.parse(`${sessionToken}=read`, 'the session token'), sessionToken };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError(`not a port: ${value}`);
  return port;
}
