/**
 * The serving floor (issue 17, item 4): the least a server can do to answer bench/serving.ts's
 * requests from the records Flywheel's RedisOnlineStore wrote, so Flywheel's `POST /v1/features`
 * can be measured against it in the same run.
 *
 * It reads the same request body (`{"service": …, "entities": [{"item_id": 7}, …]}`), `JSON.parse`s
 * it, sends one `MGET` of the same keys (`<prefix><view>:[<id>]`, the same string layout, the same
 * client library) and concatenates each stored value's JSON array (the text after its third `|`)
 * into `{"rows":[{"values":[…]},…]}`. No token, no validation of the body or of the stored values,
 * no ttl, no statuses or event times, no decision id, no metrics: everything Flywheel does beyond
 * this is what its ratio to the floor measures.
 *
 * With `--metadata <features>` it answers the bytes of Flywheel's default answer instead: each row
 * `{"values":[…],"statuses":[…],"event_times":[…]}` with every status "present" and every event time
 * the stored record's, spelt once per distinct instant, `<features>` of each (still no checks). It
 * is the least a server can do to send an answer of that size, so it shows what the default answer's
 * bytes cost any server (writing them to the socket, the client reading them) apart from building them.
 *
 *   node --import tsx bench/floors/serving-floor.ts --redis-url redis://127.0.0.1:6379 --key-prefix fw:bench: --view item_features [--metadata 50]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { isoFromMicros } from '../../connectors/online-store/online-time.ts';

/** The JSON array of a stored record `<event µs>|<written µs>|<layout id>|<JSON array>`: after the third bar. */
function valuesOf(stored: string): string {
  const third = stored.indexOf('|', stored.indexOf('|', stored.indexOf('|') + 1) + 1);
  return stored.slice(third + 1);
}

/**
 * The answer with metadata, written into one Buffer (as Flywheel writes its answer): concatenated as
 * one string, an answer of 240 KB cost this floor more than Flywheel's whole request.
 */
function withMetadata(values: readonly (string | null)[], features: number, cache: Map<string, Buffer>): Buffer {
  let size = 16;
  for (const stored of values) size += 16 + (stored == null ? 4 : stored.length * 3 + metadataOf(stored, features, cache).length);
  const out = Buffer.allocUnsafe(size);
  let at = out.write('{"rows":[', 0, 'latin1');
  for (let i = 0; i < values.length; i++) {
    const stored = values[i];
    at += out.write(i === 0 ? '{"values":' : ',{"values":', at, 'latin1');
    if (stored == null) {
      at += out.write('null}', at, 'latin1');
      continue;
    }
    at += out.write(valuesOf(stored), at, 'utf8');
    const meta = metadataOf(stored, features, cache);
    out.set(meta, at);
    at += meta.length;
    out[at++] = 0x7d; // }
  }
  at += out.write(']}', at, 'latin1');
  return out.subarray(0, at);
}

/** `,"statuses":[…],"event_times":[…]` of a record of `features` features stored at `eventMicros` (the text before its first `|`). */
function metadataOf(stored: string, features: number, cache: Map<string, Buffer>): Buffer {
  const micros = stored.slice(0, stored.indexOf('|'));
  let bytes = cache.get(micros);
  if (bytes === undefined) {
    const statuses = new Array<string>(features).fill('"present"').join(',');
    const times = new Array<string>(features).fill(`"${isoFromMicros(Number(micros))}"`).join(',');
    cache.set(micros, (bytes = Buffer.from(`,"statuses":[${statuses}],"event_times":[${times}]`)));
  }
  return bytes;
}

/** Starts the floor on 127.0.0.1 and a free port; resolves with its URL once it listens and Redis is connected. */
export async function startServingFloor(options: { redisUrl: string; keyPrefix: string; view: string; metadataFeatures?: number }): Promise<{ url: string; close(): Promise<void> }> {
  const { metadataFeatures } = options;
  const metadata = new Map<string, Buffer>();
  const client = createClient({ url: options.redisUrl });
  await client.connect();
  const prefix = `${options.keyPrefix}${options.view}:[`;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { entities } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { entities: { item_id: number }[] };
      const args = new Array<string>(entities.length + 1);
      args[0] = 'MGET';
      for (let i = 0; i < entities.length; i++) args[i + 1] = `${prefix}${entities[i]!.item_id}]`;
      client.sendCommand<(string | null)[]>(args).then(
        (values) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          if (metadataFeatures !== undefined) {
            res.end(withMetadata(values, metadataFeatures, metadata));
            return;
          }
          let body = '{"rows":[';
          for (let i = 0; i < values.length; i++) {
            const stored = values[i];
            body += `${i === 0 ? '' : ','}{"values":${stored == null ? 'null' : valuesOf(stored)}}`;
          }
          res.end(`${body}]}`);
        },
        (error: unknown) => {
          res.writeHead(503);
          res.end(String(error));
        },
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await client.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { 'redis-url': { type: 'string' }, 'key-prefix': { type: 'string', default: 'fw:bench:' }, view: { type: 'string', default: 'item_features' }, metadata: { type: 'string' } } });
  const floor = await startServingFloor({ redisUrl: values['redis-url']!, keyPrefix: values['key-prefix'], view: values.view, ...(values.metadata !== undefined ? { metadataFeatures: Number(values.metadata) } : {}) });
  process.stdout.write(`listening on ${floor.url}\n`);
  process.once('SIGTERM', () => void floor.close().then(() => process.exit(0)));
}
