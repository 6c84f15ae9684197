import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source, trainingSet } from '../index.ts';
import type { LatestValueView } from '../core/sql/point-in-time.ts';
import { factTables, joinWithTableFacts, type TableFacts } from '../core/training-set/table-facts.ts';
import { resolveTrainingSet } from '../core/training-set/resolve-training-set.ts';
import { validateProject } from '../core/validation/validate-project.ts';

// A spine over a table, and three plain views: over a keyed table, over a table keyed otherwise, and with a transformation.
const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const spine = source({ name: 'spine', table: 'raw.spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' } });
const spendSrc = source({ name: 'spend_src', table: 'raw.spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
const eventsSrc = source({ name: 'events_src', table: 'raw.events', timestampField: 'ts', columns: { event_id: 'int64', user_id: 'int64', ts: 'timestamp', clicks: 'int64' } });
const spend = featureView({ name: 'spend', entities: [user], source: spendSrc, features: { amount: 'float64' } });
const clicks = featureView({ name: 'clicks', entities: [user], source: eventsSrc, features: { clicks: 'int64' } });
const doubled = featureView({ name: 'doubled', entities: [user], source: spendSrc, features: { amount2: 'float64' }, transformation: 'SELECT user_id, ts, amount * 2 AS amount2 FROM {{source}}' });
const service = featureService({ name: 'model', features: [spend, clicks, doubled] });
const training = trainingSet({ name: 'ts', spine, features: service, output: { path: 'ts', partitionBy: 'day' } });
const project = validateProject([user, spine, spendSrc, eventsSrc, spend, clicks, doubled, service, training].map((definition) => ({ file: 'test', definition })));
const resolved = resolveTrainingSet(project, 'ts');

const latest = (index: number, facts: ReadonlyMap<string, TableFacts>) => joinWithTableFacts(resolved, facts).views[index] as LatestValueView;
const table = (uniqueColumnSets: string[][]): TableFacts => ({ isTable: true, uniqueColumnSets });

describe('table facts for a training set join', () => {
  it('asks about the spine table and the tables plain views read row for row, each once', () => {
    expect(factTables(resolved)).toEqual(['raw.spine', 'raw.spend', 'raw.events']);
  });

  it('skips the tie-break of a view only when an enforced unique set lies within its keys and event time', () => {
    // (user_id, ts) and any subset of it: no two rows can tie.
    expect(latest(0, new Map([['raw.spend', table([['user_id', 'ts']])]])).uniqueEventTimes).toBe(true);
    expect(latest(0, new Map([['raw.spend', table([['TS', 'User_Id']])]])).uniqueEventTimes).toBe(true);
    expect(latest(0, new Map([['raw.spend', table([['amount'], ['ts']])]])).uniqueEventTimes).toBe(true);
    // A key on other columns says nothing about ties on (user_id, ts).
    expect(latest(1, new Map([['raw.events', table([['event_id']])]])).uniqueEventTimes).toBeUndefined();
    expect(latest(1, new Map([['raw.events', table([['event_id', 'user_id', 'ts']])]])).uniqueEventTimes).toBeUndefined();
    expect(latest(0, new Map())).not.toHaveProperty('uniqueEventTimes');
    // A transformation's rows are not the table's, whatever its keys.
    expect(latest(2, new Map([['raw.spend', table([['user_id', 'ts']])]])).uniqueEventTimes).toBeUndefined();
  });

  it('skips the tie-break of a view whose source declares a unique set within its keys and event time, whatever the source reads', () => {
    const declared = (unique: string[], location: { parquet: string } | { query: string } | { table: string }, transformation?: string) => {
      const src = source({ name: 'src', ...location, timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' }, unique } as Parameters<typeof source>[0]);
      const view = featureView({ name: 'v', entities: [user], source: src, features: { amount: 'float64' }, ...(transformation ? { transformation } : {}) });
      const models = featureService({ name: 'm', features: [view] });
      const set = trainingSet({ name: 't', spine, features: models, output: { path: 't' } });
      const p = validateProject([user, spine, src, view, models, set].map((definition) => ({ file: 'test', definition })));
      return (resolveTrainingSet(p, 't').join.views[0] as LatestValueView).uniqueEventTimes;
    };
    expect(declared(['user_id', 'ts'], { parquet: 'data/spend/*.parquet' })).toBe(true);
    expect(declared(['ts', 'user_id'], { query: 'SELECT * FROM raw.spend' })).toBe(true);
    expect(declared(['user_id', 'ts'], { table: 'raw.spend' })).toBe(true);
    // A subset is an even stronger promise.
    expect(declared(['ts'], { parquet: 'x.parquet' })).toBe(true);
    // A set with a column outside the keys and time says nothing about ties on (user_id, ts).
    expect(declared(['user_id', 'ts', 'amount'], { parquet: 'x.parquet' })).toBeUndefined();
    // A transformation's rows are not the source's.
    expect(declared(['user_id', 'ts'], { parquet: 'x.parquet' }, 'SELECT user_id, ts, amount FROM {{source}}')).toBeUndefined();
  });

  it('reads a spine that is a stored table from the table, numbered by row id; a view stays as it is', () => {
    const stored = joinWithTableFacts(resolved, new Map([['raw.spine', table([])]])).spine;
    expect(stored).toMatchObject({ relation: 'raw.spine', rowIds: true });
    const view = joinWithTableFacts(resolved, new Map([['raw.spine', { isTable: false, uniqueColumnSets: [] }]])).spine;
    expect(view).toEqual(resolved.join.spine);
    expect(view.relation).toBe('flywheel.src_spine');
  });
});
