/**
 * Ingest rate: one closed log segment of N events into a stream's DuckDB table through Flywheel's
 * ingestion activity (stage as JSON lines, verify checksums, insert new ids only, ledger row, one
 * transaction), against a plain `INSERT ... SELECT FROM read_json` of the same events as JSON lines
 * into a twin table (same schema and primary key), in the same process. Every run's ids are new, the
 * common case, where the activity's insert is a plain one the primary key would refuse on a repeat.
 *
 *   npx tsx bench/ingest.ts [--events 1000000] [--runs 3]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createIngestActivities } from '../activities/ingest.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { entity, eventStream } from '../index.ts';
import { encodeRecords, streamSegmentsDir } from '../connectors/log-store/segment-log/index.ts';
import { ObjectStoreSegmentStore } from '../connectors/log-store/index.ts';
import { compareMs, report, type BenchResult } from './measure.ts';

export async function benchIngest(options: { events: number; runs: number }): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-ingest-'));
  const stateDir = join(dir, 'state');
  const warehousePath = join(dir, 'warehouse.duckdb');
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64', page: 'string', dwell_ms: { type: 'int64', nullable: true } } });
  // The baseline loads into a twin table with the same schema and primary key, created the same way.
  const twin = eventStream({ name: 'plain_clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64', page: 'string', dwell_ms: { type: 'int64', nullable: true } } });
  const spec = validateProject([user, clicks, twin].map((definition) => ({ file: 'bench', definition })));
  const engine = await openDuckDBEngine({ path: warehousePath });
  await new WarehouseRegistry(engine).save('bench', spec, { statements: warehouseObjectStatements({ desired: spec, resolvePath: (p) => p, dialect: engine.dialect }) });

  // Each run sends new event ids, so both tables grow as they would in production (and the dedupe
  // join runs against a table that already holds every earlier run's events).
  const eventsOf = (run: number) => {
    const lines: string[] = [];
    for (let i = 0; i < options.events; i++) {
      lines.push(JSON.stringify({ _event_id: `r${run}-e${i}`, user_id: i % 100_000, ts: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(), item_id: i % 5000, page: `/items/${i % 5000}`, dwell_ms: i % 7 === 0 ? null : i % 3000, _received_at: '2024-05-01T12:00:00.000Z' }));
    }
    return lines;
  };
  const segments = streamSegmentsDir(stateDir, 'clicks');
  await mkdir(segments, { recursive: true });
  await mkdir(join(dir, 'scratch'));
  const objectStore = createObjectStore({ type: 'local', root: join(dir, 'objects') });
  const activities = createIngestActivities({
    project: 'bench', openEngine: () => openDuckDBEngine({ path: warehousePath }), registry: (e) => new WarehouseRegistry(e),
    objectStore, scratchDir: join(dir, 'scratch'), stateDir,
  });
  // Inputs are written before the timed runs (not timed): the segment for Flywheel, JSON lines for the
  // baseline. The events are not kept: a heap holding every run's strings (a gigabyte at 1M events a
  // run) makes each garbage collection during the timed runs slow, and only the subject collects.
  for (let run = 0; run <= options.runs; run++) {
    const lines = eventsOf(run);
    await writeFile(join(segments, `seg-${run}.seg`), encodeRecords(lines));
    // Ingestion reads segments from the object store, as a log API node uploads them (the timed load downloads and checks it).
    await new ObjectStoreSegmentStore(objectStore).upload({ stream: 'clicks', node: 'bench', segmentId: `seg-${run}` }, join(segments, `seg-${run}.seg`), lines.length);
    await writeFile(join(dir, `plain-${run}.ndjson`), `${lines.join('\n')}\n`);
  }
  let subjectRun = 0;
  let baselineRun = 0;
  // Each run's time, to pair them up: on a busy machine the median of the pairs' ratios moves less
  // than the ratio of the medians, since both runs of a pair see about the same load.
  const subjectSamples: number[] = [];
  const baselineSamples: number[] = [];
  const sampled = (samples: number[], work: () => Promise<void>) => async () => {
    const start = performance.now();
    await work();
    samples.push(performance.now() - start);
  };
  const timed = await compareMs(
    options.runs,
    sampled(subjectSamples, async () => {
      const result = await new MockActivityEnvironment().run(activities.ingestSegment, { stream: 'clicks', node: 'bench', segmentId: `seg-${subjectRun++}` }) as { rows: number };
      if (result.rows !== options.events) throw new Error(`stored ${result.rows} of ${options.events}`);
    }),
    sampled(baselineSamples, async () => {
      const ndjson = join(dir, `plain-${baselineRun++}.ndjson`);
      await engine.run({ sql: `INSERT INTO flywheel.stream_plain_clicks SELECT _event_id, user_id, ts, item_id, page, dwell_ms, _received_at, 'plain' FROM read_json('${ndjson}', format = 'newline_delimited', columns = {_event_id: 'VARCHAR', user_id: 'BIGINT', ts: 'TIMESTAMPTZ', item_id: 'BIGINT', page: 'VARCHAR', dwell_ms: 'BIGINT', _received_at: 'TIMESTAMPTZ'})`, parameters: [] });
    }),
  );
  await engine.close();
  await rm(dir, { recursive: true, force: true });
  return {
    name: `Ingest: one log segment of ${options.events.toLocaleString('en-US')} events into DuckDB`,
    subject: { label: 'flywheel ingestSegment activity (checksums, staging, dedupe by id, ledger, one transaction)', medianMs: timed.subjectMs },
    baseline: { label: 'plain INSERT ... SELECT FROM read_json of the same events', medianMs: timed.baselineMs },
    details: {
      'rows/s (flywheel)': Math.round(options.events / (timed.subjectMs / 1000)).toLocaleString('en-US'),
      'rows/s (plain)': Math.round(options.events / (timed.baselineMs / 1000)).toLocaleString('en-US'),
      runs: options.runs,
      // The first pair is the untimed warm-up.
      'median ratio of the runs, paired': median(subjectSamples.slice(1).map((ms, i) => ms / baselineSamples[i + 1]!)).toFixed(2),
    },
  };
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' } } });
  report(await benchIngest({ events: Number(values.events), runs: Number(values.runs) }));
}
