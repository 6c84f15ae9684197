import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../../core/duration.ts';
import { TokenTable } from '../../server/auth/bearer-tokens.ts';
import { closeOnSignal } from '../../server/close-on-signal.ts';
import { namingPortFlag } from '../serve/port-in-use.ts';
import { explorationSecretFromEnv } from '../serve/exploration-secret.ts';
import { loadConfigFor } from './global-options.ts';

interface ServeOptions {
  port: number;
  host: string;
  maxBody: number;
  maxBatch: number;
  segmentSize: number;
  segmentAge: number;
  ingest: boolean;
  warmUp: boolean;
  nodeId?: string;
}

/**
 * `flywheel serve`: the log API for the project's event streams (docs/collect-api.md) and the
 * serving API for its feature services (docs/serving.md), one server. Segments go to
 * `<stateDir>/segments/` until sealed, then to the profile's object store under the node id (docs/deployment.md); features are read from the profile's online store; tokens come from
 * FLYWHEEL_TOKENS, the decision API's exploration secret from FLYWHEEL_EXPLORATION_SECRET. Ctrl-C or SIGTERM stops accepting, lets requests in flight finish and closes the
 * open segments and the online store.
 */
export function registerServeCommand(program: Command): Command {
  return program
    .command('serve')
    .description("run the log API (POST /v1/streams/<stream>/events) and the serving API (POST /v1/features) for the project until Ctrl-C")
    .option('--port <port>', 'port to listen on', parsePort, 8080)
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    // Defaults shown in the units they are given in (--help: "default: 64MiB", "default: 10s").
    .addOption(new Option('--max-body <size>', 'largest request body (bytes, or with KiB/MiB)').argParser(parseSize).default(10 * 1024 * 1024, '10MiB'))
    .option('--max-batch <n>', 'most events in one request', parsePositive, 10_000)
    .addOption(new Option('--segment-size <size>', 'close a segment at this size (bytes, or with KiB/MiB/GiB)').argParser(parseSize).default(64 * 1024 * 1024, '64MiB'))
    .addOption(new Option('--segment-age <duration>', 'close a segment this long after it was opened (10s, 1m)').argParser(parseSeconds).default(10, '10s'))
    .option('--no-ingest', 'only accept events: do not start ingestion workflows on Temporal')
    .option('--no-warm-up', 'listen at once, without first warming the serving path (about 2 s; docs/serving.md)')
    .option('--node-id <id>', 'this node\'s id, under which its sealed segments go to the object store (default: $FLYWHEEL_NODE_ID, else the host name and a hash of the state folder)')
    .action(async (options: ServeOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const explorationSecret = explorationSecretFromEnv();
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { startProjectServer } = await import('../serve/start-project-server.ts');
      const running = await namingPortFlag('--port', () => startProjectServer(config, {
        tokens: TokenTable.fromEnv(),
        host: options.host,
        port: options.port,
        maxBodyBytes: options.maxBody,
        maxBatchEvents: options.maxBatch,
        segmentBytes: options.segmentSize,
        segmentAgeMs: options.segmentAge * 1000,
        ingest: options.ingest,
        ...(options.warmUp ? {} : { warmUp: false }),
        ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
        ...(explorationSecret !== undefined ? { explorationSecret } : {}),
      }));
      const [first, ...rest] = running.description;
      process.stderr.write(`${[`${first} Ctrl-C stops it.`, ...rest].join('\n')}\n`);
      await closeOnSignal(running.server);
      await running.close();
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError(`not a port: ${value}`);
  return port;
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, k: 1024, mib: 1024 ** 2, m: 1024 ** 2, gib: 1024 ** 3, g: 1024 ** 3 };

function parseSize(value: string): number {
  const match = /^(\d+)\s*([a-zA-Z]*)$/.exec(value.trim());
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined || Number(match[1]) <= 0) throw new InvalidArgumentError('expected a size such as 10MiB, 512KiB or 1048576');
  return Number(match[1]) * unit;
}

function parseSeconds(value: string): number {
  const parsed = parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  if ('error' in parsed) throw new InvalidArgumentError(parsed.error);
  return parsed.seconds;
}

