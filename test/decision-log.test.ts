import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source } from '../index.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { openSegmentLog, readSegment, type ClosedSegment, type SegmentLog, type StoredEvent } from '../connectors/log-store/segment-log/index.ts';
import { StreamIngest } from '../server/stream-ingest.ts';
import { streamSchemaFromSpec } from '../server/stream-schema.ts';
import { uuidv7 } from '../server/event-ids.ts';
import { createDecisionLog, decisionSampleFraction, sampledIn, type DecisionLogOptions } from '../server/serving/decision-log.ts';
import type { ServedDecision, ServedRow } from '../server/serving/served-decision.ts';

/**
 * The decision log (server/serving/decision-log.ts) on a real segment log: what it appends, how it
 * samples, what it drops when its queue is full, and that nothing it meets reaches the caller.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'string' } });
const txns = source({
  name: 'txns', table: 'raw.txns', timestampField: 'ts',
  columns: { user_id: 'int64', merchant_id: 'string', ts: 'timestamp', amount: 'float64', txn_count: 'int64', risk: 'float32' },
});
const spend = featureView({ name: 'spend', entities: [user], source: txns, ttl: '2d', features: { amount: 'float64', txn_count: 'int64' } });
const risk = featureView({ name: 'risk', entities: [merchant], source: txns, features: { risk: 'float32' } });
const fraud = featureService({ name: 'fraud_model', features: [spend, risk], logging: { sampleRate: 1 } });
const sampled = featureService({ name: 'sampled', features: [spend], logging: { sampleRate: 0.1 } });
const unlogged = featureService({ name: 'unlogged', features: [spend] });
const project: ProjectSpec = validateProject([user, merchant, txns, spend, risk, fraud, sampled, unlogged].map((definition) => ({ definition })));
const STREAMS = ['fraud_model_decisions', 'sampled_decisions'];

let dir: string;
let segmentLog: SegmentLog;
let closed: ClosedSegment[];
let streams: Map<string, StreamIngest>;

async function openLog(): Promise<void> {
  closed = [];
  segmentLog = await openSegmentLog({ stateDir: dir, streams: STREAMS, onSegmentClosed: (segment) => void closed.push(segment), log: () => undefined });
  streams = new Map(STREAMS.map((name) => [name, new StreamIngest(streamSchemaFromSpec(project.eventStreams[name]!), segmentLog, { recentIds: 10_000, maxIssues: 100 })]));
}

/** Every stored event of a stream, in order, without `_received_at` (the time of the append). */
async function storedEvents(stream: string): Promise<Omit<StoredEvent, '_received_at'>[]> {
  await segmentLog.close();
  const events: Omit<StoredEvent, '_received_at'>[] = [];
  for (const segment of closed.filter((s) => s.stream === stream).sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1))) {
    for await (const { _received_at: receivedAt, ...event } of readSegment(segment.path)) {
      expect(receivedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      events.push(event);
    }
  }
  return events;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flywheel-decision-log-'));
  await openLog();
});

afterEach(async () => {
  await segmentLog.close();
  await rm(dir, { recursive: true, force: true });
});

const row = (userId: number, merchantId: string, overrides: Partial<ServedRow> = {}): ServedRow => ({
  keys: { user_id: userId, merchant_id: merchantId },
  values: { amount: 12.5, txn_count: 3, risk: null },
  eventTimes: { amount: '2026-11-26T09:00:00.000Z', txn_count: '2026-11-26T09:00:00.000Z', risk: null },
  statuses: { amount: 'present', txn_count: 'present', risk: 'missing' },
  ...overrides,
});

const decision = (decisionId: string, rows: ServedRow[] = [row(42, 'm1')], service = 'fraud_model'): ServedDecision => ({
  decisionId, service, servedAt: '2026-11-26T10:00:00.000Z', context: { user_id: 42 }, features: ['amount', 'txn_count', 'risk'], rows,
});

const logOf = (options: Partial<DecisionLogOptions> = {}) => {
  const lines: string[] = [];
  const log = createDecisionLog({ streams, project, log: (line) => lines.push(line), ...options });
  return { log, lines };
};

describe('the decision log', () => {
  it('appends one event per served row, with typed columns and the id <decision id>:<row>', async () => {
    const { log, lines } = logOf();
    expect(log.logs('fraud_model')).toBe(true);
    expect(log.logs('unlogged')).toBe(false);
    log.offer(decision('d-1', [
      row(42, 'm1'),
      row(42, 'm2', {
        values: { amount: 12.5, txn_count: 3, risk: 0.25 },
        eventTimes: { amount: '2026-11-26T09:00:00.000Z', txn_count: '2026-11-26T09:00:00.000Z', risk: '2026-11-25T00:00:00.000Z' },
        statuses: { amount: 'present', txn_count: 'present', risk: 'present' },
      }),
    ]));
    log.offer({ ...decision('d-2', [row(7, 'm1', { values: { amount: null, txn_count: null, risk: null }, eventTimes: { amount: '2026-11-01T00:00:00.000Z', txn_count: '2026-11-01T00:00:00.000Z', risk: null }, statuses: { amount: 'expired', txn_count: 'expired', risk: 'missing' } })]), context: undefined });
    log.offer(decision('d-3', [row(1, 'm1')], 'unlogged')); // not logged: not counted either
    expect(log.stats()).toEqual({ logged: 0, sampledOut: 0, dropped: 0, failed: 0, queued: 2 });
    await log.close();
    expect(log.stats()).toEqual({ logged: 2, sampledOut: 0, dropped: 0, failed: 0, queued: 0 });
    expect(lines).toEqual([]);

    expect(await storedEvents('fraud_model_decisions')).toEqual([
      {
        _event_id: 'd-1:0', user_id: 42, merchant_id: 'm1', served_at: '2026-11-26T10:00:00.000Z', decision_id: 'd-1', row_index: 0,
        amount: 12.5, txn_count: 3, risk: null, amount__status: 'present', txn_count__status: 'present', risk__status: 'missing',
        spend__event_time: '2026-11-26T09:00:00.000Z', risk__event_time: null, context: '{"user_id":42}',
      },
      {
        _event_id: 'd-1:1', user_id: 42, merchant_id: 'm2', served_at: '2026-11-26T10:00:00.000Z', decision_id: 'd-1', row_index: 1,
        amount: 12.5, txn_count: 3, risk: 0.25, amount__status: 'present', txn_count__status: 'present', risk__status: 'present',
        spend__event_time: '2026-11-26T09:00:00.000Z', risk__event_time: '2026-11-25T00:00:00.000Z', context: '{"user_id":42}',
      },
      {
        _event_id: 'd-2:0', user_id: 7, merchant_id: 'm1', served_at: '2026-11-26T10:00:00.000Z', decision_id: 'd-2', row_index: 0,
        amount: null, txn_count: null, risk: null, amount__status: 'expired', txn_count__status: 'expired', risk__status: 'missing',
        spend__event_time: '2026-11-01T00:00:00.000Z', risk__event_time: null, context: null,
      },
    ]);
  });

  it('stores a decision offered twice once', async () => {
    const { log } = logOf();
    log.offer(decision('d-1'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    log.offer(decision('d-1'));
    await log.close();
    // Both are logged (the second was stored already); the segment holds the rows once.
    expect(log.stats()).toMatchObject({ logged: 2, failed: 0 });
    expect((await storedEvents('fraud_model_decisions')).map((e) => e._event_id)).toEqual(['d-1:0']);
  });

  it('drops the new decision, whole, when its rows do not fit in the queue, and counts it', async () => {
    const { log } = logOf({ maxQueuedRows: 5 });
    const rows = (n: number) => Array.from({ length: n }, (_, i) => row(i, 'm1'));
    log.offer(decision('q-1', rows(2))); // 2 queued
    log.offer(decision('q-2', rows(2))); // 4 queued
    log.offer(decision('q-3', rows(2))); // 6 > 5: dropped
    log.offer(decision('q-4', rows(1))); // 5 queued
    log.offer(decision('q-5', rows(1))); // 6 > 5: dropped
    log.offer(decision('q-6', rows(9))); // bigger than the queue: always dropped
    expect(log.stats()).toEqual({ logged: 0, sampledOut: 0, dropped: 3, failed: 0, queued: 3 });
    await log.close();
    log.offer(decision('q-7')); // after close: dropped
    expect(log.stats()).toEqual({ logged: 3, sampledOut: 0, dropped: 4, failed: 0, queued: 0 });
    expect([...new Set((await storedEvents('fraud_model_decisions')).map((e) => e.decision_id))]).toEqual(['q-1', 'q-2', 'q-4']);
  });

  it('appends whole decisions in batches of at most rowsPerAppend rows', async () => {
    const { log } = logOf({ rowsPerAppend: 3 });
    for (let i = 0; i < 5; i++) log.offer(decision(`b-${i}`, [row(i, 'm1'), row(i, 'm2')]));
    await log.close();
    expect(log.stats()).toMatchObject({ logged: 5, failed: 0 });
    // One decision (2 rows) per append: 2 + 2 > 3.
    expect(segmentLog.stats().fraud_model_decisions).toMatchObject({ appends: 5, records: 10 });
    expect((await storedEvents('fraud_model_decisions')).map((e) => e._event_id)).toEqual(
      ['b-0:0', 'b-0:1', 'b-1:0', 'b-1:1', 'b-2:0', 'b-2:1', 'b-3:0', 'b-3:1', 'b-4:0', 'b-4:1'],
    );
  });

  it('counts an invalid decision as failed and still logs the others of its batch; never throws', async () => {
    const { log, lines } = logOf();
    log.offer(decision('ok-1'));
    log.offer(decision('bad-1', [row(1, 'm1', { keys: { user_id: 1 } })])); // no merchant_id
    log.offer(decision('bad-2', [row(1, 'm1', { values: { amount: 'lots', txn_count: 3, risk: null } })]));
    log.offer(decision('ok-2'));
    expect(() => log.offer(null as never)).not.toThrow();
    expect(() => log.offer({ service: 'fraud_model', decisionId: 'x' } as never)).not.toThrow();
    await log.close();
    expect(log.stats()).toEqual({ logged: 2, sampledOut: 0, dropped: 0, failed: 4, queued: 0 });
    expect(lines).toEqual([
      'decision log: 1 decision not logged, and later failures are only counted until an append succeeds (GET /healthz): decision bad-1: 1 of 1 events are invalid (1 problem); nothing was stored; the first: merchant_id: required key is missing (string)',
      'decision log: appending to stream "fraud_model_decisions" again',
    ]);
    expect((await storedEvents('fraud_model_decisions')).map((e) => e._event_id)).toEqual(['ok-1:0', 'ok-2:0']);
  });

  it('counts decisions it cannot append as failed: a stream the server lacks, a closed segment log', async () => {
    const { log, lines } = logOf({ streams: new Map([['sampled_decisions', streams.get('sampled_decisions')!]]) });
    expect(lines).toEqual(['decision log: feature service "fraud_model" logs to stream "fraud_model_decisions", which this server does not serve; its decisions will count as failed (apply the definitions and restart the server)']);
    log.offer(decision('d-1'));
    await log.close();
    expect(log.stats()).toMatchObject({ logged: 0, failed: 1 });

    await segmentLog.close();
    const after = logOf();
    after.log.offer(decision('d-2'));
    await after.log.close();
    expect(after.log.stats()).toMatchObject({ logged: 0, failed: 1 });
    expect(after.lines).toHaveLength(1);
    expect(after.lines[0]).toMatch(/^decision log: 1 decision not logged, .*: /);
  });
});

describe('sampling', () => {
  it('places ids by FNV-1a mixed with MurmurHash3\'s finalizer (values from an independent implementation)', () => {
    expect(decisionSampleFraction('a')).toBe(0x1a80b1b3 / 2 ** 32); // 0.1035…
    expect(decisionSampleFraction('0190f5a2-7c3e-7b1a-8f00-1234567890ab')).toBe(0x2b03e1b4 / 2 ** 32); // 0.1680…
    expect(decisionSampleFraction('d-6')).toBe(0x177af1c1 / 2 ** 32); // 0.0917…: kept at 0.1
    expect(sampledIn('d-6', 0.1)).toBe(true);
    expect(sampledIn('a', 0.1)).toBe(false);
    expect(sampledIn('a', 1)).toBe(true);
  });

  it('keeps the same decisions in every log, about the sample rate of them, and more at a higher rate', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `decision-${i}`);
    const keptAt = (rate: number) => new Set(ids.filter((id) => sampledIn(id, rate)));
    const tenth = keptAt(0.1);
    expect(tenth.size).toBe(1051); // counted by the independent implementation
    expect(tenth.size).toBeGreaterThan(900);
    expect(tenth.size).toBeLessThan(1100);
    expect(keptAt(0.5).size).toBe(5006);
    // A higher rate keeps a superset.
    const quarter = keptAt(0.25);
    expect([...tenth].every((id) => quarter.has(id))).toBe(true);
    // Random UUIDv7 ids too: within 5 standard deviations (30) of 1000.
    const uuids = Array.from({ length: 10_000 }, () => uuidv7());
    const keptUuids = uuids.filter((id) => sampledIn(id, 0.1)).length;
    expect(Math.abs(keptUuids - 1000)).toBeLessThan(150);

    // Two logs (two servers) offered the same decisions keep the same ones.
    const first = logOf().log;
    const second = logOf().log;
    for (const id of ids.slice(0, 2000)) {
      first.offer(decision(id, [row(1, 'm1')], 'sampled'));
      second.offer(decision(id, [row(1, 'm1')], 'sampled'));
    }
    await Promise.all([first.close(), second.close()]);
    const expected = ids.slice(0, 2000).filter((id) => tenth.has(id)).length;
    expect(first.stats()).toEqual({ logged: expected, sampledOut: 2000 - expected, dropped: 0, failed: 0, queued: 0 });
    expect(second.stats()).toEqual(first.stats());
    const stored = await storedEvents('sampled_decisions');
    // The second log's copies were duplicates of the first's: each kept decision is stored once.
    expect(stored.map((e) => e.decision_id)).toEqual(ids.slice(0, 2000).filter((id) => tenth.has(id)));
  });
});
