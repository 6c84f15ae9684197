import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '../../core/duration.ts';
import { createOnlineStore } from '../../connectors/online-store/create-online-store.ts';
import { closeOnSignal, pushedViewsOf, startLogServer, streamSchemasOf, TokenTable, type ClosedSegment } from '../../server/index.ts';
import { startIngestion } from '../serve/ingestion-starter.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { loadConfigFor } from './global-options.ts';

interface ServeOptions {
  port: number;
  host: string;
  maxBody: number;
  maxBatch: number;
  segmentSize: number;
  segmentAge: number;
  ingest: boolean;
}

/**
 * `flywheel serve`: the log API for the project's event streams (docs/collect-api.md). Segments go to
 * `<stateDir>/segments/`; tokens come from FLYWHEEL_TOKENS. Ctrl-C or SIGTERM stops accepting, lets
 * requests in flight finish and closes the open segments.
 */
export function registerServeCommand(program: Command): Command {
  return program
    .command('serve')
    .description("run the log API (POST /v1/streams/<stream>/events) for the project's event streams until Ctrl-C")
    .option('--port <port>', 'port to listen on', parsePort, 8080)
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--max-body <size>', 'largest request body (bytes, or with KiB/MiB)', parseSize, 10 * 1024 * 1024)
    .option('--max-batch <n>', 'most events in one request', parsePositive, 10_000)
    .option('--segment-size <size>', 'close a segment at this size (bytes, or with KiB/MiB/GiB)', parseSize, 64 * 1024 * 1024)
    .option('--segment-age <duration>', 'close a segment this long after it was opened (10s, 1m)', parseSeconds, 10)
    .option('--no-ingest', 'only accept events: do not start ingestion workflows on Temporal')
    .action(async (options: ServeOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const project = await loadDefinitions(config.definitionsDir, config.projectRoot);
      const streams = streamSchemasOf(project);
      const tokens = TokenTable.fromEnv();
      if (streams.length === 0) process.stderr.write(`warning: ${config.project} declares no event streams that receive events; every POST will answer 404\n`);
      // Each closed segment starts its ingestion workflow; a schedule runs the safety net.
      const pushed = pushedViewsOf(project);
      const ingestion = options.ingest ? await startIngestion({ project: config.project, temporal: config.profile.temporal }) : undefined;
      const server = await startLogServer({
        stateDir: config.stateDir,
        streams,
        tokens,
        host: options.host,
        port: options.port,
        limits: { maxBodyBytes: options.maxBody, maxBatchEvents: options.maxBatch },
        segments: { maxBytes: options.segmentSize, maxAgeMs: options.segmentAge * 1000 },
        onSegmentClosed: ingestion?.onSegmentClosed ?? printClosedSegment,
        // Feature views declared `push: true` get their latest values in the online store as events arrive.
        ...(pushed.length > 0 ? { push: { store: await createOnlineStore(config.profile.onlineStore, { project: config.project }), views: pushed } } : {}),
      });
      process.stderr.write(
        `Log API for ${config.project} on ${server.url}: POST /v1/streams/<stream>/events for ${streams.map((s) => s.name).join(', ') || 'no streams'}. ` +
          `Segments in ${config.stateDir}/segments. Ctrl-C stops it.\n`,
      );
      await closeOnSignal(server);
      await ingestion?.close();
    });
}

/** With --no-ingest, a closed segment is reported and left in place for `ingestPending`. */
function printClosedSegment(segment: ClosedSegment): void {
  process.stderr.write(`closed segment ${segment.stream}/${segment.segmentId} (${segment.events} events)\n`);
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

