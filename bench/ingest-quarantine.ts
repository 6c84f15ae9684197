/**
 * The cost of refused events: one closed log segment of N events into a stream's DuckDB table
 * through the ingestion activity, where `--refused` of its events (spread evenly) carry a value the
 * warehouse cannot convert, against a segment of N good events (the fast path, one statement). The
 * refused ones are found by bisection and quarantined (docs/collect.md, "Quarantine").
 *
 *   npx tsx bench/ingest-quarantine.ts [--events 100000] [--refused 1] [--runs 3]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createIngestActivities, type IngestedBatch } from '../activities/ingest.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { entity, eventStream } from '../index.ts';
import { encodeRecords, streamSegmentsDir } from '../connectors/log-store/segment-log/index.ts';
import { ObjectStoreSegmentStore } from '../connectors/log-store/index.ts';
import { compareMs, report, type BenchResult } from './measure.ts';

export async function benchIngestQuarantine(options: { events: number; refused: number; runs: number }): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-quarantine-'));
  const stateDir = join(dir, 'state');
  const warehousePath = join(dir, 'warehouse.duckdb');
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64', page: 'string', dwell_ms: { type: 'int64', nullable: true } } });
  const spec = validateProject([user, clicks].map((definition) => ({ file: 'bench', definition })));
  const engine = await openDuckDBEngine({ path: warehousePath });
  await new WarehouseRegistry(engine).save('bench', spec, { statements: warehouseObjectStatements({ desired: spec, resolvePath: (p) => p, dialect: engine.dialect }) });
  await engine.close();

  const every = options.refused > 0 ? Math.floor(options.events / options.refused) : Infinity;
  const segmentOf = (id: string, withRefused: boolean) => {
    const lines: string[] = [];
    for (let i = 0; i < options.events; i++) {
      const refused = withRefused && i % every === Math.floor(every / 2) && i / every < options.refused;
      lines.push(JSON.stringify({
        _event_id: `${id}-e${i}`, user_id: i % 100_000, ts: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(),
        item_id: refused ? 'not a number' : i % 5000, page: `/items/${i % 5000}`, dwell_ms: i % 7 === 0 ? null : i % 3000, _received_at: '2024-05-01T12:00:00.000Z',
      }));
    }
    return encodeRecords(lines);
  };
  const segments = streamSegmentsDir(stateDir, 'clicks');
  await mkdir(segments, { recursive: true });
  await mkdir(join(dir, 'scratch'));
  const objectStore = createObjectStore({ type: 'local', root: join(dir, 'objects') });
  // Ingestion reads segments from the object store, as a log API node uploads them.
  const sealed = new ObjectStoreSegmentStore(objectStore);
  for (let run = 0; run <= options.runs; run++) {
    for (const [name, refused] of [[`bad-${run}`, true], [`good-${run}`, false]] as const) {
      await writeFile(join(segments, `${name}.seg`), segmentOf(name, refused));
      await sealed.upload({ stream: 'clicks', node: 'bench', segmentId: name }, join(segments, `${name}.seg`), 0);
    }
  }
  const activities = createIngestActivities({
    project: 'bench', openEngine: () => openDuckDBEngine({ path: warehousePath }), registry: (e) => new WarehouseRegistry(e),
    objectStore, scratchDir: join(dir, 'scratch'), stateDir,
  });
  const load = (segmentId: string) => new MockActivityEnvironment().run(activities.ingestSegment, { stream: 'clicks', node: 'bench', segmentId }) as Promise<IngestedBatch>;
  let badRun = 0;
  let goodRun = 0;
  const timed = await compareMs(
    options.runs,
    async () => {
      const result = await load(`bad-${badRun++}`);
      if (result.quarantined !== options.refused || result.rows !== options.events - options.refused) throw new Error(`stored ${result.rows}, quarantined ${result.quarantined}`);
    },
    async () => {
      const result = await load(`good-${goodRun++}`);
      if (result.rows !== options.events) throw new Error(`stored ${result.rows} of ${options.events}`);
    },
  );
  await rm(dir, { recursive: true, force: true });
  return {
    name: `Ingest with refused events: one segment of ${options.events.toLocaleString('en-US')} events, ${options.refused} refused`,
    subject: { label: `ingestSegment, ${options.refused} refused (fast load refused, bisection, load with quarantine)`, medianMs: timed.subjectMs },
    baseline: { label: 'ingestSegment, no refused events (the fast load)', medianMs: timed.baselineMs },
    details: { runs: options.runs },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, refused: { type: 'string', default: '1' }, runs: { type: 'string', default: '3' } } });
  report(await benchIngestQuarantine({ events: Number(values.events), refused: Number(values.refused), runs: Number(values.runs) }));
}
