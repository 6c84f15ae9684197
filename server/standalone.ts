/**
 * Runs the log API without a project, its streams read from a JSON file (an array of StreamSchema).
 * For tests, benchmarks and trying the API; a project runs it with `flywheel serve`.
 *
 *     FLYWHEEL_TOKENS="dev=write:*" npx tsx server/standalone.ts --state-dir /tmp/s --streams streams.json --port 8080
 *
 * With `--object-store <folder>` (or an object store config as JSON, `{"type":"s3",...}`) each sealed
 * segment is uploaded there under the node id (`--node-id`, else FLYWHEEL_NODE_ID, else the host name
 * and a hash of the state folder) and its local copy deleted, as `flywheel serve` does.
 *
 * Prints `listening on <url>` on stdout once it accepts requests.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ObjectStoreSegmentStore, resolveNodeId } from '../connectors/log-store/index.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { readQuarantineCounts } from '../connectors/log-store/quarantine-counts.ts';
import type { ObjectStoreConfig } from '../core/config.ts';
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
    'object-store': { type: 'string' },
    'node-id': { type: 'string' },
  },
});
if (!values['state-dir'] || !values.streams) {
  process.stderr.write('usage: server/standalone.ts --state-dir <dir> --streams <streams.json> [--host h] [--port n] [--max-body-bytes n] [--max-batch-events n] [--segment-max-bytes n] [--segment-max-age-ms n] [--object-store <folder or JSON config>] [--node-id id]\n');
  process.exit(2);
}
const num = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const maxBodyBytes = num(values['max-body-bytes']);
const maxBatchEvents = num(values['max-batch-events']);
const maxBytes = num(values['segment-max-bytes']);
const maxAgeMs = num(values['segment-max-age-ms']);

const objectStoreFlag = values['object-store'];
const objects = objectStoreFlag === undefined ? undefined : createObjectStore(objectStoreFlag.startsWith('{') ? (JSON.parse(objectStoreFlag) as ObjectStoreConfig) : { type: 'local', root: objectStoreFlag });
const sealedSegments = objects === undefined
  ? undefined
  : { store: new ObjectStoreSegmentStore(objects), nodeId: resolveNodeId({ flag: values['node-id'], stateDir: values['state-dir'] }) };

const server = await startLogServer({
  stateDir: values['state-dir'],
  streams: JSON.parse(readFileSync(values.streams, 'utf8')) as StreamSchema[],
  tokens: TokenTable.fromEnv(),
  host: values.host,
  port: Number(values.port),
  limits: { ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}), ...(maxBatchEvents !== undefined ? { maxBatchEvents } : {}) },
  segments: { ...(maxBytes !== undefined ? { maxBytes } : {}), ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) },
  ...(sealedSegments ? { sealedSegments } : {}),
  ...(objects ? { quarantineCounts: () => readQuarantineCounts(objects) } : {}),
});
process.stdout.write(`listening on ${server.url}\n`);
await closeOnSignal(server);
