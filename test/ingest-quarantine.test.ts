import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIngestActivities } from '../activities/ingest.ts';
import { createQuarantineActivities } from '../activities/quarantine.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine, type DuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { rowRejectionReason } from '../connectors/offline/row-rejection.ts';
import { TransientError } from '../core/errors.ts';
import { findRefusedEvents } from '../core/ingest/find-refused-events.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { entity, eventStream } from '../index.ts';
import { readQuarantineCounts } from '../connectors/log-store/quarantine-counts.ts';
import { encodeRecords, streamSegmentsDir } from '../connectors/log-store/segment-log/index.ts';
import { putSealedSegment, TEST_NODE } from './support/sealed-segments.ts';

/**
 * Events the warehouse refuses do not hold their stream up (docs/collect.md, "Quarantine"): on real
 * DuckDB files and real segment files, a segment with refused events loads the others exactly once
 * and keeps the refused ones, with the warehouse's reason, in the quarantine; later segments load;
 * retries change nothing; a replay after a fix loads them exactly once and clears them.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { item_id: 'int64', dwell_ms: { type: 'int64', nullable: true }, page: 'string' },
});
const project: ProjectSpec = validateProject([user, clicks].map((definition) => ({ definition })));

let dir: string;
let warehouse: string;
let stateDir: string;
let engine: DuckDBEngine | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flywheel-quarantine-'));
  warehouse = join(dir, 'warehouse.duckdb');
  stateDir = join(dir, 'state');
  await mkdir(streamSegmentsDir(stateDir, 'clicks'), { recursive: true });
  await mkdir(join(dir, 'scratch'), { recursive: true });
  await withWarehouse(async (e) => {
    for (const statement of warehouseObjectStatements({ desired: project, dialect: e.dialect, resolvePath: (p) => p })) await e.run(statement);
    await new WarehouseRegistry(e).save('quarantine_test', project);
  });
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Opens the warehouse for `work` only: the activities open it themselves. */
async function withWarehouse<T>(work: (e: DuckDBEngine) => Promise<T>): Promise<T> {
  const e = await openDuckDBEngine({ path: warehouse });
  try {
    return await work(e);
  } finally {
    await e.close();
  }
}
const query = (text: string) => withWarehouse((e) => e.all(sql(text)));

/**
 * Fault injection around the real engine: the first `crashes` transactions that write to the
 * quarantine fail after all their statements ran and before COMMIT (a connection lost, a worker gone).
 */
function crashingBeforeCommit(crashes: { left: number }) {
  return async () => {
    const real = await openDuckDBEngine({ path: warehouse });
    return new Proxy(real, {
      get(target, property) {
        if (property === 'transaction') {
          return <T>(work: (tx: Pick<DuckDBEngine, 'run' | 'all'>) => Promise<T>) =>
            target.transaction(async (tx) => {
              let quarantine = false;
              const result = await work({
                run: (q) => {
                  if (q.sql.includes('"ingest_quarantine"') && !q.sql.startsWith('SELECT')) quarantine = true;
                  return tx.run(q);
                },
                all: (q) => tx.all(q),
              });
              if (quarantine && crashes.left-- > 0) throw new TransientError('the connection was lost before COMMIT');
              return result;
            });
        }
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}

function activities(options: { openEngine?: () => Promise<DuckDBEngine> } = {}) {
  const deps = {
    project: 'quarantine_test', openEngine: options.openEngine ?? (() => openDuckDBEngine({ path: warehouse })), registry: (e: DuckDBEngine) => new WarehouseRegistry(e),
    objectStore: createObjectStore({ type: 'local', root: join(dir, 'objects') }), scratchDir: join(dir, 'scratch'), stateDir,
  } as const;
  const ingest = createIngestActivities(deps as never);
  const quarantine = createQuarantineActivities(deps as never);
  return {
    load: (segmentId: string) => new MockActivityEnvironment().run(ingest.ingestSegment, { stream: 'clicks', node: TEST_NODE, segmentId }),
    replay: (replayId: string) => new MockActivityEnvironment().run(quarantine.replayQuarantine, { stream: 'clicks', replayId }),
  };
}

/** A sealed segment in the object store as a log API node uploads it, its records the given JSON texts exactly. */
const segment = (segmentId: string, lines: readonly string[]) => putSealedSegment(objects(), { stream: 'clicks', segmentId }, encodeRecords(lines));
const objects = () => createObjectStore({ type: 'local', root: join(dir, 'objects') });

const event = (id: string, overrides: Record<string, unknown> = {}) => JSON.stringify({
  _event_id: id, user_id: 1, ts: '2024-05-01T10:00:00Z', item_id: 7, dwell_ms: 1200, page: 'home', _received_at: '2024-05-01T10:00:01Z', ...overrides,
});

const stored = () => query('SELECT _event_id, item_id, page, _batch FROM flywheel.stream_clicks ORDER BY _event_id');
const ledger = () => query("SELECT batch, rows FROM flywheel.ingest_ledger WHERE stream = 'clicks' ORDER BY loaded_at, batch");
const quarantined = () => query("SELECT batch, event_index, event_id, event, error FROM flywheel.ingest_quarantine WHERE stream = 'clicks' ORDER BY batch, event_index");

// The three refusals: a value that is not an int64, a lone surrogate (JSON DuckDB cannot read), a NOT NULL broken.
const notANumber = event('b', { item_id: 'abc' });
const loneSurrogate = '{"_event_id":"d","user_id":1,"ts":"2024-05-01T10:00:00Z","item_id":7,"dwell_ms":null,"page":"bad\\ud800","_received_at":"2024-05-01T10:00:01Z"}';
const nullPage = event('f', { page: null });
const CAST_ERROR = 'Invalid Input Error: JSON transform error in file "node-1/seg-1.seg", in line 1: Failed to cast value to numerical: "abc"';
// Byte 103 (1-based) is the quote after `\ud800`, where DuckDB finds no low surrogate; its line numbers are approximate.
const SURROGATE_ERROR = 'Invalid Input Error: Malformed JSON in file "node-1/seg-1.seg", at byte 103 in line 2: no low surrogate in string.';
const NOT_NULL_ERROR = 'Constraint Error: NOT NULL constraint failed: stream_clicks.page';

describe('a segment the warehouse refuses in part', () => {
  it('loads the other events once, quarantines the refused ones with the reason, and later segments still load', async () => {
    const { load } = activities();
    await segment('seg-1', [event('a'), notANumber, event('c'), loneSurrogate, event('e'), nullPage, event('g')]);
    expect(await load('seg-1')).toEqual({ stream: 'clicks', batch: 'node-1/seg-1', rows: 4, quarantined: 3, alreadyLoaded: false });
    expect(await stored()).toEqual(['a', 'c', 'e', 'g'].map((id) => ({ _event_id: id, item_id: 7, page: 'home', _batch: 'node-1/seg-1' })));
    expect(await ledger()).toEqual([{ batch: 'node-1/seg-1', rows: 4 }]);
    expect(await quarantined()).toEqual([
      { batch: 'node-1/seg-1', event_index: 1, event_id: 'b', event: notANumber, error: CAST_ERROR },
      { batch: 'node-1/seg-1', event_index: 3, event_id: 'd', event: loneSurrogate, error: SURROGATE_ERROR },
      { batch: 'node-1/seg-1', event_index: 5, event_id: 'f', event: nullPage, error: NOT_NULL_ERROR },
    ]);
    expect(await readQuarantineCounts(createObjectStore({ type: 'local', root: join(dir, 'objects') }))).toEqual({ clicks: 3 });
    expect(await readdir(join(dir, 'scratch'))).toEqual([]);

    // A retried activity (the first committed, then the worker died): nothing changes.
    expect(await load('seg-1')).toEqual({ stream: 'clicks', batch: 'node-1/seg-1', rows: 4, quarantined: 0, alreadyLoaded: true });
    expect(await quarantined()).toHaveLength(3);
    expect(await ledger()).toEqual([{ batch: 'node-1/seg-1', rows: 4 }]);

    // The next segment is not held up; one repeating a stored id keeps the stored row.
    await segment('seg-2', [event('h'), event('a', { page: 'again' })]);
    expect(await load('seg-2')).toEqual({ stream: 'clicks', batch: 'node-1/seg-2', rows: 1, quarantined: 0, alreadyLoaded: false });
    expect((await stored()).map((r) => [r._event_id, r.page, r._batch])).toEqual([
      ['a', 'home', 'node-1/seg-1'], ['c', 'home', 'node-1/seg-1'], ['e', 'home', 'node-1/seg-1'], ['g', 'home', 'node-1/seg-1'], ['h', 'home', 'node-1/seg-2'],
    ]);
  });

  it('quarantines a whole segment of refused events, and a one-event segment', async () => {
    const { load } = activities();
    await segment('seg-1', [notANumber, nullPage]);
    expect(await load('seg-1')).toEqual({ stream: 'clicks', batch: 'node-1/seg-1', rows: 0, quarantined: 2, alreadyLoaded: false });
    await segment('seg-2', [event('x', { item_id: 'x' })]);
    expect(await load('seg-2')).toEqual({ stream: 'clicks', batch: 'node-1/seg-2', rows: 0, quarantined: 1, alreadyLoaded: false });
    expect((await quarantined()).map((r) => [r.batch, r.event_index, r.event_id])).toEqual([['node-1/seg-1', 0, 'b'], ['node-1/seg-1', 1, 'f'], ['node-1/seg-2', 0, 'x']]);
    expect(await ledger()).toEqual([{ batch: 'node-1/seg-1', rows: 0 }, { batch: 'node-1/seg-2', rows: 0 }]);
    expect(await stored()).toEqual([]);
  });

  it('stores nothing when the transaction fails before COMMIT; the retry stores exactly what a clean load does', async () => {
    const crashes = { left: 1 };
    const { load } = activities({ openEngine: crashingBeforeCommit(crashes) });
    await segment('seg-1', [event('a'), notANumber, event('c'), nullPage]);
    await expect(load('seg-1')).rejects.toThrow('the connection was lost before COMMIT');
    expect(crashes.left).toBe(0);
    expect(await stored()).toEqual([]);
    expect(await quarantined()).toEqual([]);
    expect(await ledger()).toEqual([]);
    expect(await load('seg-1')).toEqual({ stream: 'clicks', batch: 'node-1/seg-1', rows: 2, quarantined: 2, alreadyLoaded: false });
    expect((await stored()).map((r) => r._event_id)).toEqual(['a', 'c']);
    expect((await quarantined()).map((r) => [r.event_index, r.event_id, r.error])).toEqual([[1, 'b', CAST_ERROR], [3, 'f', NOT_NULL_ERROR]]);
    expect(await ledger()).toEqual([{ batch: 'node-1/seg-1', rows: 2 }]);
  });

  it('quarantines refused events of a segment that also repeats ids, keeping the first occurrence of each', async () => {
    const { load } = activities();
    await segment('seg-1', [event('a', { page: 'first' }), event('a', { page: 'second' }), notANumber, event('c')]);
    expect(await load('seg-1')).toEqual({ stream: 'clicks', batch: 'node-1/seg-1', rows: 2, quarantined: 1, alreadyLoaded: false });
    expect((await stored()).map((r) => [r._event_id, r.page])).toEqual([['a', 'first'], ['c', 'home']]);
    expect((await quarantined()).map((r) => [r.event_index, r.event_id])).toEqual([[2, 'b']]);
  });

  it('blames no event for a failing warehouse: a probe that fails for another reason fails the load, quarantining nothing', async () => {
    // The fast load is refused for its rows; then the warehouse goes away (every later transaction fails).
    let transactions = 0;
    const failing = async () => {
      const real = await openDuckDBEngine({ path: warehouse });
      return new Proxy(real, {
        get(target, property) {
          if (property === 'transaction') {
            return <T>(work: (tx: Pick<DuckDBEngine, 'run' | 'all'>) => Promise<T>) =>
              ++transactions === 1 ? target.transaction(work) : Promise.reject(new TransientError('the warehouse went away'));
          }
          const value = Reflect.get(target, property, target) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    };
    const { load } = activities({ openEngine: failing });
    await segment('seg-1', [event('a'), notANumber]);
    await expect(load('seg-1')).rejects.toThrow('the warehouse went away');
    expect(transactions).toBe(2);
    expect(await quarantined()).toEqual([]);
    expect(await ledger()).toEqual([]);
    expect(await stored()).toEqual([]);
  });

  it('still fails a corrupt segment whole, storing and quarantining nothing', async () => {
    const { load } = activities();
    const bytes = encodeRecords([event('a'), notANumber]);
    bytes.writeUInt8(bytes.readUInt8(12) ^ 0x01, 12);
    await putSealedSegment(objects(), { stream: 'clicks', segmentId: 'seg-1' }, bytes);
    await expect(load('seg-1')).rejects.toThrow('is corrupt at byte 0: checksum mismatch');
    expect(await quarantined()).toEqual([]);
    expect(await ledger()).toEqual([]);
  });
});

describe('replaying the quarantine', () => {
  it('after a fix, loads the events the warehouse takes now exactly once and clears them; the others stay with the new reason', async () => {
    const { load, replay } = activities();
    await segment('seg-1', [event('a'), notANumber, nullPage, event('f2', { page: null })]);
    expect(await load('seg-1')).toMatchObject({ rows: 1, quarantined: 3 });
    // Meanwhile f2 arrives again, fixed, in a later segment: it is stored, and its quarantined copy must not be stored twice.
    await segment('seg-2', [event('f2', { page: 'fixed' })]);
    expect(await load('seg-2')).toMatchObject({ rows: 1, quarantined: 0 });

    // Nothing fixed yet: b and f stay and nothing is stored; f2's copy leaves, as its id is stored (its
    // null page is never inserted, so the warehouse has nothing to refuse).
    expect(await replay('r0')).toEqual({ stream: 'clicks', batch: 'replay:r0', events: 3, loaded: 0, alreadyStored: 1, refused: 2, alreadyReplayed: false });
    expect((await quarantined()).map((r) => [r.event_id, r.error])).toEqual([['b', CAST_ERROR], ['f', NOT_NULL_ERROR]]);

    // The fix: pages may be missing.
    await withWarehouse((e) => e.run(sql('ALTER TABLE flywheel.stream_clicks ALTER COLUMN page DROP NOT NULL')));
    expect(await replay('r1')).toEqual({ stream: 'clicks', batch: 'replay:r1', events: 2, loaded: 1, alreadyStored: 0, refused: 1, alreadyReplayed: false });
    expect((await stored()).map((r) => [r._event_id, r.page, r._batch])).toEqual([
      ['a', 'home', 'node-1/seg-1'], ['f', null, 'replay:r1'], ['f2', 'fixed', 'node-1/seg-2'],
    ]);
    expect(await quarantined()).toEqual([{ batch: 'node-1/seg-1', event_index: 1, event_id: 'b', event: notANumber, error: CAST_ERROR }]);
    expect(await ledger()).toEqual([{ batch: 'node-1/seg-1', rows: 1 }, { batch: 'node-1/seg-2', rows: 1 }, { batch: 'replay:r0', rows: 0 }, { batch: 'replay:r1', rows: 1 }]);
    expect(await readQuarantineCounts(createObjectStore({ type: 'local', root: join(dir, 'objects') }))).toEqual({ clicks: 1 });

    // The same replay retried after it committed: nothing changes.
    expect(await replay('r1')).toEqual({ stream: 'clicks', batch: 'replay:r1', events: 0, loaded: 1, alreadyStored: 0, refused: 0, alreadyReplayed: true });
    expect(await stored()).toHaveLength(3);
    expect(await quarantined()).toHaveLength(1);

    // The other fix, as `flywheel apply --allow-breaking` makes it: item_id becomes a string, in the
    // applied definition (which the load reads) and in the table. b loads; the quarantine is empty.
    const retyped = validateProject([user, eventStream({
      name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
      fields: { item_id: 'string', dwell_ms: { type: 'int64', nullable: true }, page: { type: 'string', nullable: true } },
    })].map((definition) => ({ definition })));
    await withWarehouse(async (e) => {
      await e.run(sql('ALTER TABLE flywheel.stream_clicks ALTER COLUMN item_id SET DATA TYPE VARCHAR'));
      await new WarehouseRegistry(e).save('quarantine_test', retyped);
    });
    expect(await replay('r3')).toEqual({ stream: 'clicks', batch: 'replay:r3', events: 1, loaded: 1, alreadyStored: 0, refused: 0, alreadyReplayed: false });
    expect((await stored()).map((r) => [r._event_id, r.item_id, r._batch])).toEqual([
      ['a', '7', 'node-1/seg-1'], ['b', 'abc', 'replay:r3'], ['f', '7', 'replay:r1'], ['f2', '7', 'node-1/seg-2'],
    ]);
    expect(await quarantined()).toEqual([]);
    expect(await readQuarantineCounts(createObjectStore({ type: 'local', root: join(dir, 'objects') }))).toEqual({ clicks: 0 });
  });
});

describe('a replay that fails before COMMIT', () => {
  it('changes nothing; its retry does what it would have done', async () => {
    const { load } = activities();
    await segment('seg-1', [event('a'), nullPage, notANumber]);
    expect(await load('seg-1')).toMatchObject({ rows: 1, quarantined: 2 });
    await withWarehouse((e) => e.run(sql('ALTER TABLE flywheel.stream_clicks ALTER COLUMN page DROP NOT NULL')));
    const crashes = { left: 1 };
    const { replay } = activities({ openEngine: crashingBeforeCommit(crashes) });
    await expect(replay('r1')).rejects.toThrow('the connection was lost before COMMIT');
    expect(crashes.left).toBe(0);
    expect((await quarantined()).map((r) => r.event_id)).toEqual(['f', 'b']);
    expect(await ledger()).toEqual([{ batch: 'node-1/seg-1', rows: 1 }]);
    expect(await replay('r1')).toEqual({ stream: 'clicks', batch: 'replay:r1', events: 2, loaded: 1, alreadyStored: 0, refused: 1, alreadyReplayed: false });
    expect((await quarantined()).map((r) => r.event_id)).toEqual(['b']);
    expect((await stored()).map((r) => [r._event_id, r.page, r._batch])).toEqual([['a', 'home', 'node-1/seg-1'], ['f', null, 'replay:r1']]);
    expect(await ledger()).toEqual([{ batch: 'node-1/seg-1', rows: 1 }, { batch: 'replay:r1', rows: 1 }]);
  });
});

describe('rowRejectionReason', () => {
  it("takes the engine's refusals of values for the events' fault, and nothing else", async () => {
    await withWarehouse(async (e) => {
      const failure = (text: string) => e.run(sql(text)).then(() => undefined, (error: unknown) => error);
      await e.run(sql('CREATE TABLE t (id VARCHAR PRIMARY KEY, n BIGINT NOT NULL)'));
      await e.run(sql("INSERT INTO t VALUES ('a', 1)"));
      expect(rowRejectionReason(await failure("INSERT INTO t VALUES ('b', NULL)"))).toBe('Constraint Error: NOT NULL constraint failed: t.n');
      expect(rowRejectionReason(await failure("INSERT INTO t SELECT 'c', CAST('x' AS BIGINT)"))).toBe("Conversion Error: Could not convert string 'x' to INT64");
      // A repeated primary key, a missing table, a syntax error: not the events' fault.
      expect(rowRejectionReason(await failure("INSERT INTO t VALUES ('a', 2)"))).toBeUndefined();
      expect(rowRejectionReason(await failure('SELECT * FROM missing'))).toBeUndefined();
      expect(rowRejectionReason(await failure('SELEC 1'))).toBeUndefined();
      expect(rowRejectionReason(new TransientError('lost'))).toBeUndefined();
    });
  });
});

describe('findRefusedEvents', () => {
  /** A probe over events where `bad` are refused, counting its calls. */
  const probeOf = (bad: ReadonlySet<number>) => {
    const calls: [number, number][] = [];
    const probe = async (start: number, end: number) => {
      calls.push([start, end]);
      for (let i = start; i < end; i++) if (bad.has(i)) return `refused ${i}`;
      return undefined;
    };
    return { probe, calls };
  };

  it.each([
    [1, []],
    [1, [0]],
    [8, [3]],
    [8, [0, 7]],
    [8, [0, 1, 2, 3, 4, 5, 6, 7]],
    [1000, [17, 500, 501, 999]],
  ])('finds exactly the refused among %i events %j, each with its own reason', async (count, bad) => {
    const { probe } = probeOf(new Set(bad));
    expect(await findRefusedEvents(count, probe)).toEqual(bad.map((index) => ({ index, reason: `refused ${index}`, alone: true })));
  });

  it('finds one refused event among 1024 in 14 probes (under 2·log2(1024)), not trying a half known to hold it', async () => {
    const { probe, calls } = probeOf(new Set([700]));
    expect(await findRefusedEvents(1024, probe, { knownRefused: 'refused 700' })).toEqual([{ index: 700, reason: 'refused 700', alone: true }]);
    // Each refused run tries its first half. When that loads, the second holds the refusal and is split
    // untried ([512, 1024], [640, 768], ...); when it does not, the second is tried too ([701, 702], [702, 704], ...).
    expect(calls).toEqual([
      [0, 512], [512, 768], [512, 640], [640, 704], [640, 672], [672, 688], [688, 696], [696, 700], [700, 702], [700, 701],
      [701, 702], [702, 704], [704, 768], [768, 1024],
    ]);
  });

  it('past maxProbes, keeps runs still refused whole with their reason, and tries a run not yet tried once', async () => {
    // Every event of 16 refused: without a limit, 2·16 - 1 probes (the first known refused, so 30).
    const all = probeOf(new Set(Array.from({ length: 16 }, (_, i) => i)));
    expect((await findRefusedEvents(16, all.probe, { knownRefused: 'refused 0' })).every((r) => r.alone)).toBe(true);
    expect(all.calls).toHaveLength(30);

    const limited = probeOf(new Set(Array.from({ length: 16 }, (_, i) => i)));
    const found = await findRefusedEvents(16, limited.probe, { knownRefused: 'refused 0', maxProbes: 4 });
    // [0,8) [0,4) [0,2) [0] tried: the limit. [1] is not known to be refused ([0] was), so it is tried (alone);
    // then each run left, [2,4) [4,8) [8,16), is tried once and kept whole with its reason.
    expect(limited.calls).toEqual([[0, 8], [0, 4], [0, 2], [0, 1], [1, 2], [2, 4], [4, 8], [8, 16]]);
    expect(found.map((r) => [r.index, r.reason, r.alone])).toEqual([
      [0, 'refused 0', true], [1, 'refused 1', true], [2, 'refused 2', false], [3, 'refused 2', false],
      ...[4, 5, 6, 7].map((i) => [i, 'refused 4', false]), ...[8, 9, 10, 11, 12, 13, 14, 15].map((i) => [i, 'refused 8', false]),
    ]);

    // A run that loads is still found to load past the limit: nothing good is quarantined for it.
    const some = probeOf(new Set([0, 1, 2, 3]));
    expect((await findRefusedEvents(16, some.probe, { knownRefused: 'refused 0', maxProbes: 2 })).map((r) => r.index)).toEqual([0, 1, 2, 3]);
    expect(some.calls).toEqual([[0, 8], [0, 4], [4, 8], [8, 16]]);
  });

  it('tries nothing for no events', async () => {
    const { probe, calls } = probeOf(new Set());
    expect(await findRefusedEvents(0, probe)).toEqual([]);
    expect(calls).toEqual([]);
  });
});
