import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source } from '../index.ts';
import { decisionLayoutsOf, decisionEventId } from '../core/definitions/decision-stream.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { openSegmentLog, readSegmentPayloads, RecordBuilder, type ClosedSegment, type SegmentLog } from '../connectors/log-store/segment-log/index.ts';
import { StreamIngest } from '../server/stream-ingest.ts';
import { streamSchemaFromSpec } from '../server/stream-schema.ts';
import { createDecisionLog, decisionEvents } from '../server/serving/decision-log.ts';
import { DecisionRecordEncoder } from '../server/serving/decision-records.ts';
import type { ServedFragments } from '../server/serving/served-decision.ts';
import { NumberKind, numbersPiece } from '../server/serving/numbers-piece.ts';
import { spellOut } from '../server/serving/served-fragments.ts';

/**
 * The decision log's direct encoding (server/serving/decision-records.ts) against the general path
 * it stands in for (the decision spelt out, its events validated by the stream's ingest and stored as
 * JSON.stringify writes them), each on a real segment log: the same bytes, record by record, for
 * decisions with every kind of value; and that the log bounds its work per turn of the event loop.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const item = entity({ name: 'item', joinKeys: { item_id: 'string' } });
const events = source({
  name: 'events', table: 'raw.events', timestampField: 'ts',
  columns: { user_id: 'int64', item_id: 'string', ts: 'timestamp', city: 'string', age: 'int32', signup: 'timestamp', vip: 'bool', ctr: 'float64', clicks: 'int64', price: 'float32' },
});
const profile = featureView({ name: 'profile', entities: [user], source: events, features: { city: 'string', age: 'int32', signup: 'timestamp', vip: 'bool' } });
const stats = featureView({ name: 'stats', entities: [item], source: events, ttl: '1d', features: { ctr: 'float64', clicks: 'int64', price: 'float32' } });
const ranking = featureService({ name: 'ranking', features: [profile, stats], logging: { sampleRate: 1 } });
const ranker = model({ name: 'ranker', service: ranking, inputs: ['ctr', 'price'], output: { name: 'click', kind: 'probability' }, artifact: { format: 'onnx' } });
const project: ProjectSpec = validateProject([user, item, events, profile, stats, ranking, ranker].map((definition) => ({ definition })));
const layout = decisionLayoutsOf(project).get('ranking_decisions')!;
const schema = streamSchemaFromSpec(project.eventStreams['ranking_decisions']!);

const RECEIVED_AT = '2026-11-26T10:00:01.000Z';
const T = '"2026-11-26T09:00:00.123456Z"';
const join3 = (...parts: string[]) => parts.join(',');

/**
 * Fragments as the serving path leaves them: the profile read once for the context's user (shared by
 * every row), and per item a stored record present, missing, expired, lacking a feature, or with an
 * int64 past 2^53 (as digits), an exponent and a `-0` in its text.
 */
function decision(decisionId: string, options: { scored: boolean; context: boolean }): ServedFragments {
  const items = ['a', 'Zürich "7", x', 'b', 'c', 'd'];
  const values = [
    JSON.stringify(['Zürich, "CH"\n', 41, '2026-11-20T08:00:00.000Z', true]).slice(1, -1), // 0: the profile
    '0.25,3,1.5', // 1: present
    'null,null,null', // 2: missing
    'null,null,null', // 3: expired
    '0.5,null,2', // 4: lacks `clicks` (added to the view since it was written)
    '1e-7,"9007199254740993",-0', // 5: an exponent, an int64 past 2^53, -0
  ];
  const statuses = [
    join3('"present"', '"present"', '"present"') + ',"present"',
    join3('"present"', '"present"', '"present"'),
    join3('"missing"', '"missing"', '"missing"'),
    join3('"expired"', '"expired"', '"expired"'),
    join3('"present"', '"missing"', '"present"'),
    join3('"present"', '"present"', '"present"'),
  ];
  const times = [join3(T, T, T) + `,${T}`, join3(T, T, T), 'null,null,null', join3('"2026-11-20T00:00:00.000Z"', '"2026-11-20T00:00:00.000Z"', '"2026-11-20T00:00:00.000Z"'), join3(T, 'null', T), join3(T, T, T)];
  return {
    decisionId, service: 'ranking', servedAt: '2026-11-26T10:00:00.000456Z', features: layout.features.map((f) => f.name),
    context: options.context ? { user_id: '9007199254740993' } : undefined,
    rowCount: items.length,
    keyNames: ['user_id', 'item_id'],
    key: (row, k) => (k === 0 ? '9007199254740993' : items[row]),
    groups: [{ features: ['city', 'age', 'signup', 'vip'] }, { features: ['ctr', 'clicks', 'price'] }],
    fragment: (row, g) => (g === 0 ? 0 : row + 1),
    values: (at) => values[at]!,
    statuses: (at) => statuses[at]!,
    eventTimes: (at) => times[at]!,
    ...(options.scored
      ? {
          scoring: {
            model: 'ranker', version: 'v3', explored: true, exploreKey: 'req-"1"',
            rows: [
              { score: 0.75, rank: 0, position: 1, propensity: 0.1 },
              { score: null, rank: null, position: null, propensity: null },
              { score: 0.5, rank: 1, position: 0, propensity: 0.55 },
              { score: 1e-9, rank: 2, position: null, propensity: null },
              { score: 0, rank: 3, position: null, propensity: null },
            ],
          },
        }
      : {}),
  };
}

let dir: string;
let logs: SegmentLog[];
let closed: ClosedSegment[];

async function ingestIn(name: string): Promise<{ ingest: StreamIngest; log: SegmentLog; payloads: () => Promise<Buffer[]> }> {
  const stateDir = join(dir, name);
  const log = await openSegmentLog({ stateDir, streams: [schema.name], onSegmentClosed: (segment) => void closed.push(segment), log: () => undefined });
  logs.push(log);
  const ingest = new StreamIngest(schema, log, { recentIds: 1000, maxIssues: 10 });
  const payloads = async () => {
    await log.close();
    const out: Buffer[] = [];
    for (const segment of closed.filter((s) => s.path.startsWith(stateDir)).sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1))) {
      for await (const payload of readSegmentPayloads(segment.path)) out.push(payload);
    }
    return out;
  };
  return { ingest, log, payloads };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flywheel-decision-records-'));
  logs = [];
  closed = [];
});

afterEach(async () => {
  for (const log of logs) await log.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the direct encoding of a decision', () => {
  it('stores the same bytes as the general checks, record by record', async () => {
    const general = await ingestIn('general');
    const direct = await ingestIn('direct');
    const encoder = new DecisionRecordEncoder(layout, schema);
    const cases = [decision('d-1', { scored: true, context: true }), decision('d-2', { scored: false, context: false })];
    for (const served of cases) {
      await general.ingest.accept({ events: decisionEvents(spellOut(served), layout) }, RECEIVED_AT).durable;
      const records = new RecordBuilder();
      expect(encoder.start(served, RECEIVED_AT)!.rows(0, served.rowCount, records)).toBe(true);
      const ids = Array.from({ length: served.rowCount }, (_, row) => decisionEventId(served.decisionId, row));
      await direct.ingest.acceptStored(records.finish(), ids).durable;
    }
    const expected = await general.payloads();
    const got = await direct.payloads();
    expect(got).toHaveLength(10);
    got.forEach((payload, i) => expect(payload.toString('utf8')).toBe(expected[i]!.toString('utf8')));
    expect(Buffer.concat(got).equals(Buffer.concat(expected))).toBe(true);

    // The values, worked out by hand: int64 past 2^53 kept as digits, -0 stored as 0, an exponent as JSON writes it,
    // a feature the record lacks null and missing, a view's event time its first feature's that is not null.
    const rows = got.map((payload) => JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
    expect(rows[1]).toEqual({
      _event_id: 'd-1:1', user_id: '9007199254740993', item_id: 'Zürich "7", x', served_at: '2026-11-26T10:00:00.000456Z', decision_id: 'd-1', row_index: 1,
      city: 'Zürich, "CH"\n', age: 41, signup: '2026-11-20T08:00:00.000Z', vip: true, ctr: null, clicks: null, price: null,
      city__status: 'present', age__status: 'present', signup__status: 'present', vip__status: 'present', ctr__status: 'missing', clicks__status: 'missing', price__status: 'missing',
      profile__event_time: '2026-11-26T09:00:00.123456Z', stats__event_time: null, context: '{"user_id":"9007199254740993"}',
      model_name: 'ranker', model_version: 'v3', model_score: null, model_rank: null, shown_position: null, propensity: null, explored: true, explore_key: 'req-"1"',
      _received_at: RECEIVED_AT,
    });
    expect(rows[3]).toMatchObject({ ctr: 0.5, clicks: null, price: 2, clicks__status: 'missing', stats__event_time: '2026-11-26T09:00:00.123456Z', model_score: 1e-9, model_rank: 2 });
    expect(rows[4]).toMatchObject({ ctr: 1e-7, clicks: '9007199254740993', price: 0, model_score: 0, model_rank: 3 });
    expect(got[4]!.toString('utf8')).toContain('"ctr":1e-7,"clicks":"9007199254740993","price":0,');
    expect(rows[7]).toMatchObject({ _event_id: 'd-2:2', context: null, ctr__status: 'expired', stats__event_time: '2026-11-20T00:00:00.000Z', model_name: null, explored: null, explore_key: null });
  });

  it('keeps a number as the store wrote it (the same value once read), and leaves to the general checks what it does not take', () => {
    const encoder = new DecisionRecordEncoder(layout, schema);
    const plain = decision('d-3', { scored: false, context: true });
    const text = (served: ServedFragments) => {
      const records = new RecordBuilder();
      const ok = encoder.start(served, RECEIVED_AT)?.rows(0, served.rowCount, records);
      return ok === true ? records.finish() : undefined;
    };
    // `1.50` and `3.0E0` are not how JSON.stringify writes them: the bytes differ, the values read back do not.
    const odd = { ...plain, values: (at: number) => (at === 1 ? '1.50,3,3.0E0' : plain.values(at)) };
    const framed = text(odd)!;
    const payload = framed.subarray(8, 8 + framed.readUInt32LE(0)).toString('utf8');
    expect(payload).toContain('"ctr":1.50,"clicks":3,"price":3.0E0,');
    expect(JSON.parse(payload)).toMatchObject({ ctr: 1.5, clicks: 3, price: 3 });
    // Refused: a string in a float64 column, a row without its item key, a status not one of the three, a served_at a day ahead.
    expect(text({ ...plain, values: (at) => (at === 1 ? '"high",3,1.5' : plain.values(at)) })).toBeUndefined();
    expect(text({ ...plain, key: (row, k) => (k === 1 && row === 2 ? undefined : plain.key(row, k)) })).toBeUndefined();
    expect(text({ ...plain, statuses: (at) => (at === 1 ? '"present","stale","present"' : plain.statuses(at)) })).toBeUndefined();
    expect(text({ ...plain, servedAt: '2026-11-28T10:00:00.000Z' })).toBeUndefined();
    // An int32 past its range, a float32 past its: each refused by its column's normalizer.
    expect(text({ ...plain, values: (at) => (at === 0 ? JSON.stringify(['x', 2 ** 31, '2026-11-20T08:00:00.000Z', true]).slice(1, -1) : plain.values(at)) })).toBeUndefined();
    expect(text({ ...plain, values: (at) => (at === 1 ? '0.5,3,4e38' : plain.values(at)) })).toBeUndefined();
  });
});

describe('a numeric selection read byte by byte', () => {
  const piece = (text: string, kinds: number[]) => {
    const prefixes = kinds.map((_, i) => Buffer.from(`,"f${i}":`));
    const out = Buffer.alloc(256);
    const end = numbersPiece(Buffer.from(text, 'latin1'), prefixes, Uint8Array.from(kinds), out);
    return end < 0 ? undefined : out.toString('latin1', 0, end);
  };
  const { float64, float32, int32, int64 } = NumberKind;

  it('copies what it takes as it is, and leaves the rest to JSON.parse and the normalizers', () => {
    expect(piece('0.25,-3,null,-0.5', [float64, int32, int64, float32])).toBe(',"f0":0.25,"f1":-3,"f2":null,"f3":-0.5');
    expect(piece('123456789,999999999999999', [int32, int64])).toBe(',"f0":123456789,"f1":999999999999999');
    // -0 and -0.0 (JSON.stringify writes 0), exponents, a fraction in an integer column, a digit past the quick range check,
    // a string, white space, a leading zero, a missing value, one too many.
    for (const [text, kinds] of [
      ['-0', [float64]], ['-0.0', [float64]], ['1e5', [float64]], ['2.5', [int32]], ['1234567890', [int32]], ['1234567890123456', [int64]],
      ['"7"', [int64]], [' 1', [float64]], ['01', [float64]], ['1,', [float64, float64]], ['1,2', [float64]], ['nul', [float64]],
    ] as const) {
      expect(piece(text, [...kinds])).toBeUndefined();
    }
  });
});

describe('the decision log', () => {
  it('encodes at most rowsPerTurn rows per turn of the event loop, and appends each decision whole', async () => {
    const target = await ingestIn('turns');
    const log = createDecisionLog({ streams: new Map([[schema.name, target.ingest]]), project, rowsPerTurn: 2, log: () => undefined });
    // Counts the turns of the event loop while the log works: each of its turns lets one of these run.
    let ticks = 0;
    let done = false;
    const tick = () => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    log.offer(decision('t-1', { scored: true, context: true }));
    log.offer(decision('t-2', { scored: true, context: true }));
    await log.close();
    done = true;
    expect(log.stats()).toEqual({ logged: 2, sampledOut: 0, dropped: 0, failed: 0, queued: 0 });
    // 10 rows, 2 per turn: 5 turns at least (a decision's first turn also waits for the turn after the answer).
    expect(ticks).toBeGreaterThanOrEqual(5);
    // One append per decision, its five rows in order.
    expect(target.log.stats()[schema.name]).toMatchObject({ appends: 2, records: 10 });
    const ids = (await target.payloads()).map((payload) => (JSON.parse(payload.toString('utf8')) as { _event_id: string })._event_id);
    expect(ids).toEqual(['t-1:0', 't-1:1', 't-1:2', 't-1:3', 't-1:4', 't-2:0', 't-2:1', 't-2:2', 't-2:3', 't-2:4']);
  });

  it('sends a decision the direct encoding refuses through the general checks, which name the problem', async () => {
    const target = await ingestIn('refused');
    const lines: string[] = [];
    const log = createDecisionLog({ streams: new Map([[schema.name, target.ingest]]), project, log: (line) => lines.push(line) });
    const plain = decision('r-1', { scored: true, context: true });
    log.offer({ ...plain, values: (at) => (at === 2 ? '"high",null,null' : plain.values(at)) });
    log.offer(decision('r-2', { scored: true, context: true }));
    await log.close();
    expect(log.stats()).toEqual({ logged: 1, sampledOut: 0, dropped: 0, failed: 1, queued: 0 });
    expect(lines[0]).toBe('decision log: 1 decision not logged, and later failures are only counted until an append succeeds (GET /healthz): decision r-1: 1 of 5 events are invalid (1 problem); nothing was stored; the first: ctr: expected float64 (a number), got string "high"');
    expect((await target.payloads()).length).toBe(5);
  });
});
