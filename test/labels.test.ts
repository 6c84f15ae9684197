import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, labels, source } from '../index.ts';
import { openDuckDBEngine, type DuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { isComplete, planLabelPartitions, runPartitions } from '../core/labels/plan-partitions.ts';
import { resolveLabels } from '../core/labels/resolve-labels.ts';
import { compileIngestBatch } from '../core/sql/ingest.ts';
import { compileLabelRows, compileLateEvents, compileStreamWatermark, type LabelRun } from '../core/sql/labels.ts';
import { compileWarehouseObjects, planWarehouseObjects } from '../core/sql/warehouse-objects.ts';
import { partitionsInRange } from '../core/training-set/partitions.ts';
import { validateProject } from '../core/validation/validate-project.ts';

/**
 * Label semantics (docs/labels.md) on a real DuckDB file: events stored through the real ingestion
 * statements, labels computed by the compiled SQL, every expected row worked out by hand.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
const spend = source({ name: 'spend', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
const itemSrc = source({ name: 'items', table: 'items', timestampField: 'ts', columns: { item_id: 'int64', ts: 'timestamp', ctr: 'float64' } });
const userSpend = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
const itemStats = featureView({ name: 'item_stats', entities: [item], source: itemSrc, features: { ctr: 'float64' } });
// A ranked feed: one decision, several rows (one per candidate item); its decision log is `feed_decisions`.
const feed = featureService({ name: 'feed', features: [userSpend, itemStats], logging: { sampleRate: 1 } });
const clicks = eventStream({ name: 'clicks', entities: [user, item], timestampField: 'ts', fields: { decision_id: { type: 'string', nullable: true } }, retention: '30d' });
const purchases = eventStream({
  name: 'purchases', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { amount: { type: 'float64', nullable: true }, status: { type: 'string', nullable: true }, qty: 'int32' },
});
// A declared decision stream with an id field, and outcomes matched on a nullable field.
const offers = eventStream({ name: 'offers', entities: [user], timestampField: 'offered_at', eventIdField: 'offer_id', fields: { offer_id: 'string', session: { type: 'string', nullable: true } }, retention: '30d' });
const accepts = eventStream({ name: 'accepts', entities: [user], timestampField: 'ts', fields: { session: { type: 'string', nullable: true } }, retention: '30d' });

const byKeys = (name: string, value: Parameters<typeof labels>[0]['value'], attribution: 'all' | 'last' = 'all') =>
  labels({ name, decisions: feed, outcomes: purchases, match: { by: 'keys', attribution }, window: '1h', value, output: { path: `labels/${name}` } });
const definitions = [
  user, item, spend, itemSrc, userSpend, itemStats, feed, clicks, purchases, offers, accepts,
  labels({ name: 'clicked', decisions: feed, outcomes: clicks, match: { by: 'decision_id', outcomeField: 'decision_id', keys: ['item_id'] }, window: '30m', value: { kind: 'any' } }),
  labels({ name: 'clicks_per_decision', decisions: 'feed_decisions', outcomes: 'clicks', match: { by: 'decision_id', outcomeField: 'decision_id' }, window: '30m', value: { kind: 'count' } }),
  byKeys('spend_all', { kind: 'sum', field: 'amount', default: 0 }),
  byKeys('spend_last', { kind: 'sum', field: 'amount', default: 0 }, 'last'),
  byKeys('avg_amount', { kind: 'avg', field: 'amount' }),
  byKeys('min_amount', { kind: 'min', field: 'amount' }),
  byKeys('max_status', { kind: 'max', field: 'status' }),
  byKeys('last_status', { kind: 'last', field: 'status', default: 'none' }),
  byKeys('units', { kind: 'sum', field: 'qty' }),
  labels({ name: 'accepted', decisions: offers, outcomes: accepts, match: { by: 'keys', keys: ['session'] }, window: '1d', value: { kind: 'any' } }),
];

let dir: string;
let engine: DuckDBEngine;
let project: ProjectSpec;
let batches = 0;

const T = (time: string) => `2024-03-01T${time}Z`;
const DAY1 = { from: '2024-03-01T00:00:00Z', to: '2024-03-02T00:00:00Z' };
const LATER = '2024-03-05T00:00:00Z';

/** Stores events through the ingestion statements, as one batch loaded at `loadedAt`. */
async function ingest(stream: string, events: Record<string, unknown>[], loadedAt = '2024-03-04T00:00:00Z'): Promise<void> {
  const spec = project.eventStreams[stream]!;
  const batch = `b${++batches}`;
  const file = join(dir, `${batch}.ndjson`);
  writeFileSync(file, events.map((e) => JSON.stringify({ _received_at: loadedAt, ...e })).join('\n'));
  await engine.transaction(async (tx) => {
    for (const statement of compileIngestBatch(spec, { batch, stagingRelation: { kind: 'staged', files: { locations: [file], format: 'jsonLines' } }, loadedAt }, engine.dialect)) await tx.run(statement);
  });
}

/** A feed decision row, as the decision log writes it. */
const served = (decision: string, row: number, userId: number, itemId: number, at: string) => ({
  _event_id: `${decision}:${row}`, user_id: userId, item_id: itemId, served_at: at, decision_id: decision, row_index: row,
  amount: null, ctr: null, amount__status: 'missing', ctr__status: 'missing', user_spend__event_time: null, item_stats__event_time: null, context: null,
});
const click = (id: string, decision: string | null, userId: number, itemId: number, at: string) => ({ _event_id: id, user_id: userId, item_id: itemId, ts: at, decision_id: decision });
const purchase = (id: string, userId: number, at: string, amount: number | null, status: string | null, qty: number) => ({ _event_id: id, user_id: userId, ts: at, amount, status, qty });

async function watermarkOf(stream: Parameters<typeof compileStreamWatermark>[0]): Promise<string | null> {
  return (await engine.all<{ watermark: string | null }>(compileStreamWatermark(stream, engine.dialect)))[0]?.watermark ?? null;
}

/** The label rows of `name` for a run (watermarks: the streams' current ones unless given). */
async function labelRows(name: string, run: Partial<LabelRun> = {}): Promise<Record<string, unknown>[]> {
  const { join: model } = resolveLabels(project, name);
  const watermarks = run.watermarks ?? { decisions: await watermarkOf(model.decisions), outcomes: await watermarkOf(model.outcomes) };
  return engine.all(compileLabelRows(model, { ...DAY1, asOf: LATER, ...run, watermarks }, engine.dialect));
}

const pick = (rows: Record<string, unknown>[], ...columns: string[]) => rows.map((row) => Object.fromEntries(columns.map((c) => [c, row[c]])));

beforeAll(async () => {
  project = validateProject(definitions.map((definition) => ({ file: 'definitions/all.ts', definition })));
  dir = mkdtempSync(join(tmpdir(), 'flywheel-labels-'));
  engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
  await engine.run({ sql: 'CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE); CREATE TABLE items (item_id BIGINT, ts TIMESTAMPTZ, ctr DOUBLE)', parameters: [] });
  for (const statement of compileWarehouseObjects(planWarehouseObjects({ desired: project, resolvePath: (p) => p }), engine.dialect)) await engine.run(statement);
});

afterAll(async () => {
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  for (const stream of Object.keys(project.eventStreams)) await engine.run({ sql: `DELETE FROM flywheel.stream_${stream}`, parameters: [] });
  await engine.run({ sql: 'DELETE FROM flywheel.ingest_ledger', parameters: [] });
});

describe('labels by decision id', () => {
  beforeEach(async () => {
    await ingest('feed_decisions', [served('d1', 0, 1, 10, T('10:00:00')), served('d1', 1, 1, 11, T('10:00:00')), served('d2', 0, 1, 10, T('10:20:00'))]);
    await ingest('clicks', [
      click('c1', 'd1', 1, 11, T('09:59:59.999999')), // before the decision: never counts
      click('c2', 'd1', 1, 11, T('10:00:00')), // at the decision time: counts
      click('c3', 'd1', 1, 11, T('10:30:00')), // exactly decision + 30m: counts
      click('c4', 'd1', 1, 11, T('10:30:00.000001')), // 1 µs past the window
      click('c5', 'd1', 1, 10, T('10:10:00')),
      click('c6', 'd2', 1, 10, T('10:25:00')),
      click('c7', null, 1, 10, T('10:21:00')), // no decision id: matches nothing
      click('c8', 'd9', 1, 10, T('10:22:00')), // an unknown decision
    ]);
  });

  it('counts outcomes in [d, d + window], both edges in, and matches the row by item', async () => {
    expect(pick(await labelRows('clicked'), 'decision_id', 'row_index', 'user_id', 'item_id', 'served_at', 'label', 'outcome_count', 'first_outcome_at', 'labeled_at')).toEqual([
      { decision_id: 'd1', row_index: 0, user_id: 1, item_id: 10, served_at: T('10:00:00.000'), label: 1, outcome_count: 1, first_outcome_at: T('10:10:00.000'), labeled_at: LATER.replace('Z', '.000Z') },
      { decision_id: 'd1', row_index: 1, user_id: 1, item_id: 11, served_at: T('10:00:00.000'), label: 1, outcome_count: 2, first_outcome_at: T('10:00:00.000'), labeled_at: LATER.replace('Z', '.000Z') },
      { decision_id: 'd2', row_index: 0, user_id: 1, item_id: 10, served_at: T('10:20:00.000'), label: 1, outcome_count: 1, first_outcome_at: T('10:25:00.000'), labeled_at: LATER.replace('Z', '.000Z') },
    ]);
  });

  it('without keys, an outcome counts for every row of its decision', async () => {
    expect(pick(await labelRows('clicks_per_decision'), 'decision_id', 'row_index', 'label', 'outcome_count')).toEqual([
      { decision_id: 'd1', row_index: 0, label: 3, outcome_count: 3 }, // c2, c3, c5
      { decision_id: 'd1', row_index: 1, label: 3, outcome_count: 3 },
      { decision_id: 'd2', row_index: 0, label: 1, outcome_count: 1 },
    ]);
  });

  it('labels a decision once d + window <= as of, exactly at the edge, and leaves immature ones out (never 0)', async () => {
    // d2 + 30m = 10:50: mature at 10:50 exactly, not a microsecond before.
    expect(pick(await labelRows('clicked', { asOf: T('10:50:00') }), 'decision_id', 'row_index', 'label')).toEqual([
      { decision_id: 'd1', row_index: 0, label: 1 }, { decision_id: 'd1', row_index: 1, label: 1 }, { decision_id: 'd2', row_index: 0, label: 1 },
    ]);
    expect(pick(await labelRows('clicked', { asOf: T('10:49:59.999999') }), 'decision_id', 'row_index', 'label')).toEqual([
      { decision_id: 'd1', row_index: 0, label: 1 }, { decision_id: 'd1', row_index: 1, label: 1 },
    ]);
    expect(await labelRows('clicked', { asOf: T('10:29:59.999999') })).toEqual([]);
  });

  it('without any outcome a mature decision is 0; an outcome sent twice counts once', async () => {
    await ingest('feed_decisions', [served('d3', 0, 2, 10, T('12:00:00'))]);
    await ingest('clicks', [click('c9', 'd3', 2, 10, T('12:01:00'))]);
    await ingest('clicks', [click('c9', 'd3', 2, 10, T('12:01:00')), click('c10', 'd3', 2, 10, T('12:02:00'))]); // c9 again, in another batch
    await ingest('feed_decisions', [served('d4', 0, 3, 10, T('13:00:00'))]);
    expect(pick(await labelRows('clicks_per_decision'), 'decision_id', 'label', 'first_outcome_at').slice(3)).toEqual([
      { decision_id: 'd3', label: 2, first_outcome_at: T('12:01:00.000') },
      { decision_id: 'd4', label: 0, first_outcome_at: null },
    ]);
    expect(pick(await labelRows('clicked'), 'decision_id', 'label', 'outcome_count').slice(3)).toEqual([
      { decision_id: 'd3', label: 1, outcome_count: 2 },
      { decision_id: 'd4', label: 0, outcome_count: 0 },
    ]);
  });

  it('reads only rows loaded up to the watermarks, and finds the later ones in the partition they change', async () => {
    const { join: model } = resolveLabels(project, 'clicked');
    const before = await watermarkOf(model.outcomes);
    expect(before).toBe('2024-03-04T00:00:00.000Z');
    await ingest('clicks', [click('c11', 'd2', 1, 10, T('10:40:00'))], '2024-03-04T06:00:00Z');
    // A build with the old watermark does not see c11; one with the new watermark does.
    const old = { decisions: await watermarkOf(model.decisions), outcomes: before };
    expect(pick(await labelRows('clicked', { watermarks: old }), 'decision_id', 'row_index', 'outcome_count')[2]).toEqual({ decision_id: 'd2', row_index: 0, outcome_count: 1 });
    expect(pick(await labelRows('clicked'), 'decision_id', 'row_index', 'outcome_count')[2]).toEqual({ decision_id: 'd2', row_index: 0, outcome_count: 2 });
    // c11 (10:40) can only change the partition of 2024-03-01: [start, end + 30m] holds it; the next day's does not.
    const checks = partitionsInRange('2024-02-29T00:00:00Z', '2024-03-03T00:00:00Z', 'day').map((p) => ({
      key: p.key, from: p.start!, to: new Date(Date.parse(p.end!) + 1_800_000).toISOString(), since: before,
    }));
    const late = await engine.all(compileLateEvents(model.outcomes, checks, { until: (await watermarkOf(model.outcomes))!, upper: 'inclusive', notNull: ['decision_id', 'item_id'] }, engine.dialect));
    expect(late).toEqual([{ key: 'day=2024-03-01', n: 1 }]);
  });
});

describe('labels by keys', () => {
  beforeEach(async () => {
    await ingest('feed_decisions', [
      served('d1', 0, 1, 10, T('10:00:00')), served('d1', 1, 1, 11, T('10:00:00')), // two rows of user 1 at 10:00
      served('d2', 0, 1, 10, T('10:20:00')),
      served('d3', 0, 2, 10, T('23:40:00')),
      served('d6', 0, 2, 10, '2024-03-02T00:10:00Z'), // the next day's partition
      served('d7', 0, 3, 10, T('12:00:00')),
    ]);
    await ingest('purchases', [
      purchase('p1', 1, T('10:10:00'), 5, 'b', 1),
      purchase('p2', 1, T('10:25:00'), 7, null, 2),
      purchase('p3', 1, T('11:00:00'), 11, 'a', 3), // exactly d1 + 1h
      purchase('p4', 1, T('11:10:00'), 13, 'c', 4),
      purchase('p5', 1, T('11:20:00.000001'), 17, 'd', 5), // 1 µs after d2 + 1h
      purchase('p8', 2, '2024-03-02T00:20:00Z', 3, null, 5), // in d3's window, and after d6
      purchase('p10', 3, T('12:05:00'), 1, 'y', 1), // two outcomes at one time: the greatest event id is the last
      purchase('p9', 3, T('12:05:00'), 2, 'x', 1),
    ]);
  });

  it('attribution all: an outcome counts for every decision of its keys whose window holds it', async () => {
    expect(pick(await labelRows('spend_all'), 'decision_id', 'row_index', 'label', 'outcome_count', 'first_outcome_at')).toEqual([
      { decision_id: 'd1', row_index: 0, label: 23, outcome_count: 3, first_outcome_at: T('10:10:00.000') }, // p1 + p2 + p3
      { decision_id: 'd1', row_index: 1, label: 23, outcome_count: 3, first_outcome_at: T('10:10:00.000') },
      { decision_id: 'd2', row_index: 0, label: 31, outcome_count: 3, first_outcome_at: T('10:25:00.000') }, // p2 + p3 + p4
      { decision_id: 'd7', row_index: 0, label: 3, outcome_count: 2, first_outcome_at: T('12:05:00.000') },
      { decision_id: 'd3', row_index: 0, label: 3, outcome_count: 1, first_outcome_at: '2024-03-02T00:20:00.000Z' }, // p8, across midnight
    ]);
  });

  it('attribution last: only the latest decision at or before the outcome takes it, even from the next partition', async () => {
    expect(pick(await labelRows('spend_last'), 'decision_id', 'row_index', 'label', 'outcome_count')).toEqual([
      { decision_id: 'd1', row_index: 0, label: 5, outcome_count: 1 }, // p1 only: both rows of d1 tie at 10:00
      { decision_id: 'd1', row_index: 1, label: 5, outcome_count: 1 },
      { decision_id: 'd2', row_index: 0, label: 31, outcome_count: 3 }, // p2, p3, p4; p5 is past its window and d1's
      { decision_id: 'd7', row_index: 0, label: 3, outcome_count: 2 },
      { decision_id: 'd3', row_index: 0, label: 0, outcome_count: 0 }, // p8 goes to d6 (00:10 next day); default 0
    ]);
  });

  it('aggregates an outcome field: avg, min, max, last (ties: greatest event id), sum of integers; default fills a null', async () => {
    const labelOf = async (name: string) => pick(await labelRows(name), 'decision_id', 'row_index', 'label').map((r) => `${String(r.decision_id)}/${String(r.row_index)}=${JSON.stringify(r.label)}`);
    expect(await labelOf('avg_amount')).toEqual(['d1/0=7.666666666666667', 'd1/1=7.666666666666667', 'd2/0=10.333333333333334', 'd7/0=1.5', 'd3/0=3']);
    expect(await labelOf('min_amount')).toEqual(['d1/0=5', 'd1/1=5', 'd2/0=7', 'd7/0=1', 'd3/0=3']);
    expect(await labelOf('max_status')).toEqual(['d1/0="b"', 'd1/1="b"', 'd2/0="c"', 'd7/0="y"', 'd3/0=null']);
    expect(await labelOf('last_status')).toEqual(['d1/0="a"', 'd1/1="a"', 'd2/0="c"', 'd7/0="x"', 'd3/0="none"']);
    expect(await labelOf('units')).toEqual(['d1/0=6', 'd1/1=6', 'd2/0=9', 'd7/0=2', 'd3/0=5']);
  });

  it('null match values never match; a declared stream is identified by its event id field', async () => {
    await ingest('offers', [
      { _event_id: 'o1', offer_id: 'o1', user_id: 1, offered_at: T('10:00:00'), session: 's1' },
      { _event_id: 'o2', offer_id: 'o2', user_id: 1, offered_at: T('10:00:00'), session: null },
    ]);
    await ingest('accepts', [{ _event_id: 'a1', user_id: 1, ts: T('10:30:00'), session: 's1' }, { _event_id: 'a2', user_id: 1, ts: T('10:30:00'), session: null }]);
    expect(pick(await labelRows('accepted'), 'offer_id', 'user_id', 'offered_at', 'label', 'outcome_count')).toEqual([
      { offer_id: 'o1', user_id: 1, offered_at: T('10:00:00.000'), label: 1, outcome_count: 1 },
      { offer_id: 'o2', user_id: 1, offered_at: T('10:00:00.000'), label: 0, outcome_count: 0 },
    ]);
    expect(resolveLabels(project, 'accepted').columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'offer_id:string', 'user_id:int64', 'offered_at:timestamp', 'label:int32', 'outcome_count:int64', 'first_outcome_at:timestamp', 'labeled_at:timestamp',
    ]);
  });
});

describe('partitions', () => {
  const window = 1800;
  const day = (date: string) => partitionsInRange(`${date}T00:00:00Z`, new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString(), 'day')[0]!;

  it('is complete when its end + window <= as of, exactly at the edge', () => {
    expect(isComplete(day('2024-03-01'), window, '2024-03-02T00:30:00.000Z')).toBe(true);
    expect(isComplete(day('2024-03-01'), window, '2024-03-02T00:29:59.999Z')).toBe(false);
  });

  it('covers the partitions from the first decision to the last one (up to as of), and every published one', () => {
    const args = { unit: 'day' as const, asOf: '2024-03-03T00:20:00.000Z', decisionTimes: { first: '2024-03-01T10:00:00.000Z', last: '2024-03-03T00:10:00.000Z' }, published: [] };
    expect(runPartitions(args).map((p) => p.key)).toEqual(['day=2024-03-01', 'day=2024-03-02', 'day=2024-03-03']);
    expect(runPartitions({ ...args, asOf: '2024-03-02T23:00:00.000Z' }).map((p) => p.key)).toEqual(['day=2024-03-01', 'day=2024-03-02']);
    expect(runPartitions({ ...args, decisionTimes: undefined, published: [day('2024-02-01')] }).map((p) => p.key)).toEqual(['day=2024-02-01']);
    expect(runPartitions({ ...args, range: { from: '2024-02-01T00:00:00.000Z', to: '2024-02-03T00:00:00.000Z' } }).map((p) => p.key)).toEqual(['day=2024-02-01', 'day=2024-02-02']);
  });

  it('says why it builds a partition, or why not', () => {
    const hash = 'h1';
    const published = (version: number, complete = true) => ({ version, build: 'b', complete, asOf: '2024-03-02T12:00:00.000Z', definitionHash: hash, watermarks: { decisions: null, outcomes: null } });
    const options = { asOf: '2024-03-03T00:20:00.000Z', windowSeconds: window, includeOpen: false, rebuild: false, definitionHash: hash };
    const states = [
      { partition: day('2024-02-27') },
      { partition: day('2024-02-28'), published: published(1) },
      { partition: day('2024-02-29'), published: published(2), late: { outcomes: 3, decisions: 0 } },
      { partition: day('2024-03-01'), published: { ...published(1), definitionHash: 'h0' } },
      { partition: day('2024-03-02'), published: published(1, false) },
      { partition: day('2024-03-03') },
    ];
    expect(planLabelPartitions(states, options)).toEqual([
      { key: 'day=2024-02-27', action: 'build', causes: ['new'], reason: 'new', expectedVersion: 0 },
      { key: 'day=2024-02-28', action: 'up-to-date', reason: 'up to date: nothing loaded since version 1 changes it', version: 1 },
      { key: 'day=2024-02-29', action: 'build', causes: ['late outcomes'], reason: 'late outcomes: 3 outcomes loaded after version 2', expectedVersion: 2 },
      { key: 'day=2024-03-01', action: 'build', causes: ['definition changed'], reason: 'definition changed since version 1', expectedVersion: 1 },
      { key: 'day=2024-03-02', action: 'open', reason: 'open: its last decisions mature at 2024-03-03T00:30:00.000Z', version: 1 },
      { key: 'day=2024-03-03', action: 'open', reason: 'open: its last decisions mature at 2024-03-04T00:30:00.000Z' },
    ]);
    const open = planLabelPartitions(states.slice(4), { ...options, includeOpen: true, rebuild: true });
    expect(open).toEqual([
      { key: 'day=2024-03-02', action: 'build', causes: ['requested', 'was open'], reason: 'requested; was open: version 1 was built as of 2024-03-02T12:00:00.000Z, before every decision matured (open: only the decisions mature as of 2024-03-03T00:20:00.000Z)', expectedVersion: 1 },
      { key: 'day=2024-03-03', action: 'build', causes: ['new'], reason: 'new (open: only the decisions mature as of 2024-03-03T00:20:00.000Z)', expectedVersion: 0 },
    ]);
  });
});
