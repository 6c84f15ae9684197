/**
 * Runs the log API without a project, its streams read from a JSON file (an array of StreamSchema).
 * For tests, benchmarks and trying the API; a project runs it with `flywheel serve`.
 *
 *     FLYWHEEL_TOKENS="dev=write:*" npx tsx server/standalone.ts --state-dir /tmp/s --streams streams.json --port 8080
 *
 * Prints `listening on <url>` on stdout once it accepts requests.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TokenTable } from './auth/bearer-tokens.ts';
import { closeOnSignal } from './close-on-signal.ts';
import { startLogServer } from './log-server.ts';
import type { StreamSchema } from './stream-schema.ts';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string' },
    streams: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8080' },
    'max-body-bytes': { type: 'string' },
    'max-batch-events': { type: 'string' },
    'segment-max-bytes': { type: 'string' },
    'segment-max-age-ms': { type: 'string' },
  },
});
if (!values['state-dir'] || !values.streams) {
  process.stderr.write('usage: server/standalone.ts --state-dir <dir> --streams <streams.json> [--host h] [--port n] [--max-body-bytes n] [--max-batch-events n] [--segment-max-bytes n] [--segment-max-age-ms n]\n');
  process.exit(2);
}
const num = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const maxBodyBytes = num(values['max-body-bytes']);
const maxBatchEvents = num(values['max-batch-events']);
const maxBytes = num(values['segment-max-bytes']);
const maxAgeMs = num(values['segment-max-age-ms']);

const server = await startLogServer({
  stateDir: values['state-dir'],
  streams: JSON.parse(readFileSync(values.streams, 'utf8')) as StreamSchema[],
  tokens: TokenTable.fromEnv(),
  host: values.host,
  port: Number(values.port),
  limits: { ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}), ...(maxBatchEvents !== undefined ? { maxBatchEvents } : {}) },
  segments: { ...(maxBytes !== undefined ? { maxBytes } : {}), ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) },
});
process.stdout.write(`listening on ${server.url}\n`);
await closeOnSignal(server);
