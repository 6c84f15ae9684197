import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, select, source, trainingSet } from '../index.ts';
import { DefinitionError } from '../core/errors.ts';
import { validateProject, type LoadedDefinition } from '../core/validation/validate-project.ts';
import type { Definition } from '../core/definitions/definition.ts';

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const txns = source({
  name: 'txns', table: 'raw.transactions', timestampField: 'ts', createdTimestampField: 'loaded_at',
  columns: { user_id: 'int64', amount: 'float64', country: 'string', ts: 'timestamp', loaded_at: 'timestamp' },
});
const spend = featureView({ name: 'spend', entities: [user], source: txns, ttl: '7d', features: { amount: 'float64', country: { type: 'string', description: 'ISO code' } } });
const spine = source({ name: 'labels', table: 'labels', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', is_fraud: 'bool' } });
const service = featureService({ name: 'fraud', features: [{ view: spend, features: ['amount'] }] });
const training = trainingSet({ name: 'fraud_training', spine, features: service });

const at = (file: string, ...definitions: Definition[]): LoadedDefinition[] => definitions.map((definition) => ({ file, definition }));

function issuesOf(loaded: LoadedDefinition[]) {
  try {
    validateProject(loaded);
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    return (error as DefinitionError).issues.map((i) => ({ file: i.file, object: i.object, field: i.field, message: i.message }));
  }
  throw new Error('expected validation to fail');
}

describe('validateProject', () => {
  it('normalizes a valid project', () => {
    const project = validateProject(at('defs.ts', user, txns, spend, spine, service, training));
    expect(project.featureViews.spend).toEqual({
      kind: 'featureView', name: 'spend', entities: ['user'], source: 'txns',
      features: [{ name: 'amount', type: 'float64' }, { name: 'country', type: 'string', description: 'ISO code' }],
      ttlSeconds: 604_800, online: true, offline: true, tags: {},
    });
    expect(project.sources.txns?.location).toEqual({ type: 'table', table: 'raw.transactions' });
    expect(project.trainingSets.fraud_training).toMatchObject({ spine: 'labels', features: { service: 'fraud' }, output: { format: 'parquet', path: 'training_sets/fraud_training' } });
  });

  it('names file, object and field for a wrong type', () => {
    const bad = featureView({ name: 'bad', entities: [user], source: txns, features: { amount: 'float' as never } });
    expect(issuesOf([...at('a.ts', user, txns), ...at('views/bad.ts', bad)])).toEqual([
      { file: 'views/bad.ts', object: 'bad', field: 'features.amount', message: 'unknown type "float"; expected one of int32, int64, float32, float64, string, bool, timestamp, date' },
    ]);
  });

  it('reports an unknown column and a type that does not match the source', () => {
    const bad = featureView({ name: 'bad', entities: [user], source: txns, features: { amout: 'float64', country: 'int64' } });
    expect(issuesOf([...at('a.ts', user, txns), ...at('b.ts', bad)])).toEqual([
      { file: 'b.ts', object: 'bad', field: 'features.amout', message: '"amout" is an unknown column (did you mean "amount"?) in source "txns"' },
      { file: 'b.ts', object: 'bad', field: 'features.country', message: '"country" is declared int64 but the column is string in source "txns"' },
    ]);
  });

  it('reports a duplicate name with both files', () => {
    const again = entity({ name: 'user', joinKeys: { id: 'string' } });
    expect(issuesOf([...at('entities.ts', user), ...at('more.ts', again)])).toEqual([
      { file: 'more.ts', object: 'user', field: 'name', message: 'duplicate name: an entity named "user" is also defined in entities.ts' },
    ]);
  });

  it('reports a missing entity key in the source and in the spine', () => {
    const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'int64' } });
    const bad = featureView({ name: 'bad', entities: [user, merchant], source: txns, features: { amount: 'float64' } });
    const badTraining = trainingSet({ name: 'bad_training', spine, features: [bad] });
    expect(issuesOf(at('d.ts', user, merchant, txns, spine, bad, badTraining))).toEqual([
      { file: 'd.ts', object: 'bad', field: 'entities', message: 'entity "merchant" join key "merchant_id" is an unknown column (known: user_id, amount, country, ts, loaded_at) in source "txns"' },
      { file: 'd.ts', object: 'bad_training', field: 'spine', message: 'entity "merchant" (used by feature view "bad") join key "merchant_id" is an unknown column (known: user_id, ts, is_fraud) in spine source "labels"' },
    ]);
  });

  it('reports unknown references, bad identifiers, bad durations and time columns', () => {
    const badSource = source({ name: 'evil"name', table: 'x; drop', timestampField: 'amount', columns: { amount: 'float64' } });
    const badView = featureView({ name: 'v', entities: ['nobody'], source: 'nowhere', ttl: '3 days', features: { x: 'int64' } });
    const badService = featureService({ name: 's', features: [{ view: 'v', features: ['y'] }] });
    expect(issuesOf(at('e.ts', badSource, badView, badService))).toEqual([
      { file: 'e.ts', object: 'evil"name', field: 'name', message: '"evil\\"name" is not a valid identifier: must start with a letter or underscore and contain only letters, digits and underscores' },
      { file: 'e.ts', object: 'evil"name', field: 'table', message: '"x; drop" is not a valid table name: "x; drop" must start with a letter or underscore and contain only letters, digits and underscores' },
      { file: 'e.ts', object: 'v', field: 'ttl', message: 'expected a duration such as "30m", "1h", "7d" or "2w", got "3 days"' },
      // No 'unknown feature view "v"' on s: v's own problem is reported on v (one mistake, one message).
    ]);
  });

  it('reports one mistake once: nothing on the definitions that refer to a broken one, by name or by object', () => {
    const brokenView = featureView({ name: 'spend', entities: user as never, source: txns, features: { amount: 'float64' } });
    const service = featureService({ name: 'model', features: [brokenView] });
    const training = trainingSet({ name: 'training', spine, features: service });
    expect(issuesOf(at('g.ts', user, txns, spine, brokenView, service, training))).toEqual([
      { file: 'g.ts', object: 'spend', field: 'entities', message: 'Invalid input: expected array, received object' },
    ]);
    // A name that is not a string: its service's reference (by object) and the training set's (by name) say nothing more.
    const unnamed = featureView({ name: 42 as never, entities: [user], source: txns, features: { amount: 'float64' } });
    const service2 = featureService({ name: 'model', features: [unnamed] });
    const training2 = trainingSet({ name: 'training', spine, features: service2 });
    expect(issuesOf(at('h.ts', user, txns, spine, unnamed, service2, training2))).toEqual([
      { file: 'h.ts', object: '(unnamed)', field: 'name', message: 'Invalid input: expected string, received number' },
    ]);
  });

  it('names both files when an entity and a source disagree on a key', () => {
    const textUser = entity({ name: 'user', joinKeys: { user_id: 'string' } });
    const view = featureView({ name: 'spend', entities: [textUser], source: txns, features: { amount: 'float64' } });
    expect(issuesOf([...at('definitions/entities.ts', textUser), ...at('definitions/sources.ts', txns), ...at('definitions/features.ts', view)])).toEqual([
      {
        file: 'definitions/features.ts', object: 'spend', field: 'entities',
        message: 'entity "user" (definitions/entities.ts) join key "user_id" is declared string but the column is int64 in source "txns" (definitions/sources.ts)',
      },
    ]);
  });

  it('reports a time column that is not a timestamp, and a selected feature that does not exist', () => {
    const badTime = source({ name: 'src', table: 't', timestampField: 'day', columns: { user_id: 'int64', day: 'string', v: 'int64' } });
    const view = featureView({ name: 'view', entities: [user], source: badTime, features: { v: 'int64' } });
    const service2 = featureService({ name: 'svc', features: [{ view, features: ['w' as never] }] });
    expect(issuesOf(at('f.ts', user, badTime, view, service2))).toEqual([
      { file: 'f.ts', object: 'src', field: 'timestampField', message: 'column "day" has type string; a time column must be a timestamp' },
      { file: 'f.ts', object: 'svc', field: 'features.0.features', message: 'feature view "view" has no feature "w" (known: v)' },
    ]);
  });
});

describe('validateProject name rules', () => {
  it('rejects names that differ only in case, and explains a bad record key', () => {
    const upper = entity({ name: 'User', joinKeys: { '1st': 'int64' } });
    expect(issuesOf(at('g.ts', user, upper))).toEqual([
      { file: 'g.ts', object: 'User', field: 'name', message: 'duplicate name: an entity named "user" is also defined in g.ts (names may not differ only in case)' },
    ]);
    const badKey = entity({ name: 'card', joinKeys: { '1st': 'int64' } });
    expect(issuesOf(at('h.ts', badKey))).toEqual([
      { file: 'h.ts', object: 'card', field: 'joinKeys.1st', message: '"1st" is not a valid identifier: must start with a letter or underscore and contain only letters, digits and underscores' },
    ]);
  });

  it('keeps a source\'s unique columns, and names an unknown, repeated or missing one', () => {
    const keyed = source({ name: 'keyed', parquet: 'data/k.parquet', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' }, unique: ['user_id', 'ts'] });
    expect(validateProject(at('u.ts', keyed)).sources.keyed?.unique).toEqual(['user_id', 'ts']);
    expect(validateProject(at('u.ts', txns)).sources.txns).not.toHaveProperty('unique');
    const bad = (unique: string[]) => source({ name: 'bad', table: 't', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' }, unique });
    expect(issuesOf(at('u.ts', bad(['user_id', 'tz'])))).toEqual([
      { file: 'u.ts', object: 'bad', field: 'unique', message: 'unknown column "tz"; the source\'s columns are user_id, ts' },
    ]);
    expect(issuesOf(at('u.ts', bad(['ts', 'ts'])))).toEqual([{ file: 'u.ts', object: 'bad', field: 'unique', message: 'a column is named twice in [ts, ts]' }]);
    expect(issuesOf(at('u.ts', bad([])))).toEqual([{ file: 'u.ts', object: 'bad', field: 'unique', message: 'name at least one column' }]);
  });

  it('accepts a selection object without a feature list as the whole view', () => {
    const project = validateProject(at('i.ts', user, txns, spend, featureService({ name: 'all', features: [{ view: spend } as never] })));
    expect(project.featureServices.all?.features).toEqual([{ view: 'spend', features: ['amount', 'country'] }]);
  });
});

describe('validateProject aggregations', () => {
  const events = source({
    name: 'events', table: 'events', timestampField: 'ts', createdTimestampField: 'loaded_at',
    columns: { user_id: 'int64', amount: 'float64', qty: 'int32', merchant: 'string', flagged: 'bool', ts: 'timestamp', loaded_at: 'timestamp' },
  });
  const windows = featureView({
    name: 'user_windows', entities: [user], source: events,
    aggregations: [
      { function: 'count', windows: ['1h', '1d', '7d'] },
      { column: 'amount', function: 'sum', windows: ['1d', '30d'] },
      { column: 'qty', function: 'sum', windows: ['1d'] },
      { column: 'amount', function: 'avg', windows: ['7d'], name: 'avg_ticket_7d', description: 'Average ticket' },
      { column: 'merchant', function: 'distinct_count', windows: ['30d'] },
      { column: 'merchant', function: 'max', windows: [86_400] },
      { column: 'flagged', function: 'last', windows: ['2 d'] },
      { column: 'qty', function: 'min', windows: ['1h'] },
    ],
  });

  it('generates one feature per window, typed by function and column, and keeps the aggregations and their inputs', () => {
    const project = validateProject(at('w.ts', user, events, windows));
    expect(project.featureViews.user_windows).toEqual({
      kind: 'featureView', name: 'user_windows', entities: ['user'], source: 'events',
      features: [
        { name: 'count_1h', type: 'int64' }, { name: 'count_1d', type: 'int64' }, { name: 'count_7d', type: 'int64' },
        { name: 'amount_sum_1d', type: 'float64' }, { name: 'amount_sum_30d', type: 'float64' },
        { name: 'qty_sum_1d', type: 'int64' },
        { name: 'avg_ticket_7d', type: 'float64', description: 'Average ticket' },
        { name: 'merchant_distinct_count_30d', type: 'int64' },
        { name: 'merchant_max_1d', type: 'string' },
        { name: 'flagged_last_2d', type: 'bool' },
        { name: 'qty_min_1h', type: 'int32' },
      ],
      aggregations: [
        { name: 'count_1h', function: 'count', windowSeconds: 3600 },
        { name: 'count_1d', function: 'count', windowSeconds: 86_400 },
        { name: 'count_7d', function: 'count', windowSeconds: 604_800 },
        { name: 'amount_sum_1d', function: 'sum', column: 'amount', windowSeconds: 86_400 },
        { name: 'amount_sum_30d', function: 'sum', column: 'amount', windowSeconds: 2_592_000 },
        { name: 'qty_sum_1d', function: 'sum', column: 'qty', windowSeconds: 86_400 },
        { name: 'avg_ticket_7d', function: 'avg', column: 'amount', windowSeconds: 604_800 },
        { name: 'merchant_distinct_count_30d', function: 'distinct_count', column: 'merchant', windowSeconds: 2_592_000 },
        { name: 'merchant_max_1d', function: 'max', column: 'merchant', windowSeconds: 86_400 },
        { name: 'flagged_last_2d', function: 'last', column: 'flagged', windowSeconds: 172_800 },
        { name: 'qty_min_1h', function: 'min', column: 'qty', windowSeconds: 3600 },
      ],
      aggregationInputs: [{ name: 'amount', type: 'float64' }, { name: 'qty', type: 'int32' }, { name: 'merchant', type: 'string' }, { name: 'flagged', type: 'bool' }],
      ttlSeconds: null, online: true, offline: true, tags: {},
    });
  });

  it('lets services and training sets select generated features, checked by the compiler', () => {
    const service = featureService({ name: 'velocity', features: [select(windows, ['count_1h', 'avg_ticket_7d', 'merchant_max_1d'])] });
    // @ts-expect-error: no aggregation generates count_2h
    select(windows, ['count_2h']);
    const training = trainingSet({ name: 'velocity_training', spine, features: service });
    const project = validateProject(at('w.ts', user, events, windows, spine, service, training));
    expect(project.featureServices.velocity?.features).toEqual([{ view: 'user_windows', features: ['count_1h', 'avg_ticket_7d', 'merchant_max_1d'] }]);
  });

  it('reads the columns of a transformation from its declared inputs', () => {
    const converted = featureView({
      name: 'usd_windows', entities: [user], source: events,
      transformation: 'SELECT user_id, ts, amount * 1.1 AS amount_usd FROM {{source}}',
      inputs: { amount_usd: 'float64' },
      aggregations: [{ column: 'amount_usd', function: 'sum', windows: ['1d'] }, { function: 'count', windows: ['1d'] }],
    });
    const view = validateProject(at('w.ts', user, events, converted)).featureViews.usd_windows;
    expect(view?.features).toEqual([{ name: 'amount_usd_sum_1d', type: 'float64' }, { name: 'count_1d', type: 'int64' }]);
    expect(view?.aggregationInputs).toEqual([{ name: 'amount_usd', type: 'float64' }]);
  });

  it('reports shape problems: features and aggregations together, a ttl, columns, names, functions and windows', () => {
    const both = featureView({ name: 'both', entities: [user], source: events, ttl: '1d', features: { amount: 'float64' }, aggregations: [{ function: 'count', windows: ['1h'] }] });
    const neither = featureView({ name: 'neither', entities: [user], source: events });
    const shapes = featureView({
      name: 'shapes', entities: [user], source: events,
      aggregations: [
        { function: 'count', column: 'amount', windows: ['1h'] },
        { function: 'sum', windows: ['1h'] },
        { function: 'avg', column: 'amount', windows: ['1h', '2h'], name: 'avg_amount' },
        { function: 'median' as never, column: 'amount', windows: ['1 day'] },
        { function: 'max', column: 'amount', windows: [] },
      ],
    });
    const strayInputs = featureView({ name: 'stray_inputs', entities: [user], source: events, inputs: { amount: 'float64' }, aggregations: [{ function: 'count', windows: ['1h'] }] });
    expect(issuesOf(at('v.ts', user, events, both, neither, shapes, strayInputs))).toEqual([
      { file: 'v.ts', object: 'both', field: 'aggregations', message: 'give either features or aggregations, not both (declare the aggregations in a view of their own)' },
      { file: 'v.ts', object: 'both', field: 'ttl', message: 'a view with aggregations takes no ttl: each window says how long an event counts' },
      { file: 'v.ts', object: 'neither', field: 'features', message: "declare features (the latest row's values) or aggregations (over trailing windows)" },
      { file: 'v.ts', object: 'shapes', field: 'aggregations.0.column', message: 'count counts events and takes no column (distinct_count counts distinct values of a column)' },
      { file: 'v.ts', object: 'shapes', field: 'aggregations.1.column', message: 'sum needs a column' },
      { file: 'v.ts', object: 'shapes', field: 'aggregations.2.name', message: "a name is allowed only with a single window (got 2); without one, each window's feature gets a generated name" },
      { file: 'v.ts', object: 'shapes', field: 'aggregations.3.function', message: 'unknown function "median"; expected one of count, sum, avg, min, max, last, distinct_count' },
      { file: 'v.ts', object: 'shapes', field: 'aggregations.3.windows.0', message: 'expected a duration such as "30m", "1h", "7d" or "2w", got "1 day"' },
      { file: 'v.ts', object: 'shapes', field: 'aggregations.4.windows', message: 'give at least one window, such as ["1h", "1d"]' },
      { file: 'v.ts', object: 'stray_inputs', field: 'inputs', message: "inputs declare columns of a transformation's output; without a transformation, aggregations read the source's columns" },
    ]);
  });

  it('reports columns the source lacks or a function refuses, reserved and duplicate names', () => {
    const bad = featureView({
      name: 'bad', entities: [user], source: events,
      aggregations: [
        { column: 'amout', function: 'sum', windows: ['1h'] },
        { column: 'merchant', function: 'avg', windows: ['1h'] },
        { column: 'flagged', function: 'max', windows: ['1h'] },
        { column: 'user_id', function: 'distinct_count', windows: ['1h'] },
        { column: 'loaded_at', function: 'last', windows: ['1h'] },
        { function: 'count', windows: ['1h', '60m', 3600] },
        { function: 'count', windows: ['1h'] },
        { function: 'count', windows: ['1d'], name: 'ts' },
        { column: 'amount', function: 'distinct_count', windows: ['1h'], name: 'x'.repeat(64) },
      ],
    });
    const transformed = featureView({
      name: 'transformed', entities: [user], source: events, transformation: 'SELECT * FROM {{source}}',
      inputs: { amount_usd: 'float64', unused: 'string' },
      aggregations: [{ column: 'amount_usd', function: 'sum', windows: ['1h'] }, { column: 'amount', function: 'sum', windows: ['1h'] }],
    });
    // A shape problem (a bad name) stops the checks of that view until it is fixed.
    expect(issuesOf(at('v.ts', user, events, bad))).toEqual([
      { file: 'v.ts', object: 'bad', field: 'aggregations.8.name', message: `"${'x'.repeat(64)}" is not a valid identifier: must be at most 63 characters` },
    ]);
    const fixed = featureView({ ...bad.input, entities: [user], source: events, aggregations: bad.input.aggregations!.slice(0, 8) } as never);
    expect(issuesOf(at('v.ts', user, events, fixed, transformed))).toEqual([
      { file: 'v.ts', object: 'bad', field: 'aggregations.0.column', message: '"amout" is an unknown column (did you mean "amount"?) in source "events"' },
      { file: 'v.ts', object: 'bad', field: 'aggregations.1.column', message: 'avg cannot aggregate "merchant", a string column in source "events"; it takes int32, int64, float32, float64' },
      { file: 'v.ts', object: 'bad', field: 'aggregations.2.column', message: 'max cannot aggregate "flagged", a bool column in source "events"; it takes int32, int64, float32, float64, string, timestamp, date' },
      { file: 'v.ts', object: 'bad', field: 'aggregations.3.column', message: '"user_id" is a join key; aggregate another column' },
      { file: 'v.ts', object: 'bad', field: 'aggregations.4.column', message: '"loaded_at" is the created timestamp field; aggregate another column' },
      { file: 'v.ts', object: 'bad', field: 'aggregations.5.windows.2', message: 'the feature "count_1h" is already generated by another window of this aggregation; feature names must be unique (and differ in more than case)' },
      { file: 'v.ts', object: 'bad', field: 'aggregations.6.windows.0', message: 'the feature "count_1h" is already generated by aggregations.5; feature names must be unique (and differ in more than case)' },
      { file: 'v.ts', object: 'bad', field: 'aggregations.7.name', message: 'a feature cannot have the name of the timestamp field ("ts")' },
      { file: 'v.ts', object: 'transformed', field: 'aggregations.1.column', message: `"amount" is not declared in inputs; with a transformation, declare the type of each column the aggregations read (for example inputs: { amount: 'float64' })` },
      { file: 'v.ts', object: 'transformed', field: 'inputs.unused', message: 'no aggregation reads "unused"' },
    ]);
  });

  it('reports a generated name that is too long', () => {
    const long = source({ name: 'long', table: 'long', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', [`amount_${'y'.repeat(50)}`]: 'float64' } });
    const view = featureView({ name: 'long_windows', entities: [user], source: long, aggregations: [{ column: `amount_${'y'.repeat(50)}`, function: 'distinct_count', windows: ['1h'] }] });
    expect(issuesOf(at('l.ts', user, long, view))).toEqual([
      {
        file: 'l.ts', object: 'long_windows', field: 'aggregations.0.windows.0',
        message: `the generated feature name "amount_${'y'.repeat(50)}_distinct_count_1h" is not a valid identifier: must be at most 63 characters; give this window an aggregation of its own with a name`,
      },
    ]);
  });
});

describe('validateProject event streams', () => {
  const clicks = eventStream({
    name: 'clicks', entities: [user], timestampField: 'ts', eventIdField: 'click_id', retention: '90d',
    fields: { click_id: 'string', item_id: 'int64', dwell_ms: { type: 'int64', nullable: true, description: 'Time on the item' }, page: 'string' },
    owner: 'growth@acme.example',
  });

  it('normalizes a stream: keys from its entities, fields non-null unless nullable, retention in seconds', () => {
    const project = validateProject(at('streams.ts', user, clicks));
    expect(project.eventStreams.clicks).toEqual({
      kind: 'eventStream', name: 'clicks', entities: ['user'], keys: [{ name: 'user_id', type: 'int64' }], timestampField: 'ts', eventIdField: 'click_id',
      fields: [
        { name: 'click_id', type: 'string', nullable: false },
        { name: 'item_id', type: 'int64', nullable: false },
        { name: 'dwell_ms', type: 'int64', nullable: true, description: 'Time on the item' },
        { name: 'page', type: 'string', nullable: false },
      ],
      retentionSeconds: 7_776_000, owner: 'growth@acme.example', tags: {},
    });
  });

  it('normalizes `from`: a column watermark is event time, loadedAtColumn load time', () => {
    const byEventTime = eventStream({ name: 'a', entities: ['user'], timestampField: 'ts', fields: {}, retention: '30d', from: { table: 'raw.app_clicks', watermark: 'ts', lookback: '1h' } });
    const byLoadTime = eventStream({ name: 'b', entities: ['user'], timestampField: 'ts', fields: {}, retention: 86_400, from: { table: 'db.raw.t', watermark: { loadedAtColumn: 'loaded_at' }, lookback: 600 } });
    const project = validateProject(at('streams.ts', user, byEventTime, byLoadTime));
    expect(project.eventStreams.a?.from).toEqual({ table: 'raw.app_clicks', watermark: { type: 'eventTime', column: 'ts' }, lookbackSeconds: 3600 });
    expect(project.eventStreams.b?.from).toEqual({ table: 'db.raw.t', watermark: { type: 'loadedAt', column: 'loaded_at' }, lookbackSeconds: 600 });
  });

  it('is a source of feature views: its keys, timestamp and fields are its columns', () => {
    const recent = featureView({ name: 'recent_click', entities: [user], source: clicks, ttl: '1d', features: { item_id: 'int64', dwell_ms: 'float64' } });
    const windows = featureView({ name: 'click_windows', entities: [user], source: 'clicks', aggregations: [{ function: 'count', windows: ['1h'] }, { column: 'dwell_ms', function: 'avg', windows: ['1d'] }] });
    const project = validateProject(at('views.ts', user, clicks, recent, windows));
    expect(project.featureViews.recent_click).toMatchObject({ source: 'clicks', features: [{ name: 'item_id', type: 'int64' }, { name: 'dwell_ms', type: 'float64' }] });
    expect(project.featureViews.click_windows?.aggregationInputs).toEqual([{ name: 'dwell_ms', type: 'int64' }]);

    const bad = featureView({ name: 'bad', entities: [user], source: clicks, features: { dwel_ms: 'int64', page: 'int64', ts: 'timestamp' } });
    const typo = featureView({ name: 'typo', entities: [user], source: 'click', features: { page: 'string' } });
    expect(issuesOf(at('views.ts', user, clicks, bad, typo))).toEqual([
      { file: 'views.ts', object: 'bad', field: 'features.dwel_ms', message: '"dwel_ms" is an unknown column (did you mean "dwell_ms"?) in event stream "clicks"' },
      { file: 'views.ts', object: 'bad', field: 'features.page', message: '"page" is declared int64 but the column is string in event stream "clicks"' },
      { file: 'views.ts', object: 'bad', field: 'features.ts', message: 'a feature cannot have the name of the timestamp field' },
      { file: 'views.ts', object: 'typo', field: 'source', message: 'unknown source "click" (did you mean "clicks"?)' },
    ]);
  });

  it('reports bad shapes: types, retention, `from` table and lookback, unknown keys', () => {
    const bad = eventStream({
      name: 'bad', entities: [], timestampField: 'ts', retention: '3 months',
      fields: { item_id: 'int' as never, page: { type: 'string', nulable: true } as never },
      from: { table: 'raw.app-clicks', watermark: { loadedAt: 'x' } as never, lookback: 0 },
    });
    expect(issuesOf(at('streams.ts', user, bad))).toEqual([
      { file: 'streams.ts', object: 'bad', field: 'entities', message: 'declare at least one entity' },
      { file: 'streams.ts', object: 'bad', field: 'fields.item_id', message: 'unknown type "int"; expected one of int32, int64, float32, float64, string, bool, timestamp, date' },
      { file: 'streams.ts', object: 'bad', field: 'fields.page', message: 'Unrecognized key: "nulable"' },
      { file: 'streams.ts', object: 'bad', field: 'retention', message: 'expected a duration such as "30m", "1h", "7d" or "2w", got "3 months"' },
      { file: 'streams.ts', object: 'bad', field: 'from.table', message: '"raw.app-clicks" is not a valid table name: "app-clicks" must start with a letter or underscore and contain only letters, digits and underscores' },
      { file: 'streams.ts', object: 'bad', field: 'from.watermark.loadedAtColumn', message: 'expected the name of the column that holds when each row was loaded' },
      { file: 'streams.ts', object: 'bad', field: 'from.watermark', message: 'Unrecognized key: "loadedAt"' },
      { file: 'streams.ts', object: 'bad', field: 'from.lookback', message: 'expected a positive whole number of seconds, got 0' },
    ]);
  });

  it('reports names that clash with keys, the timestamp or Flywheel columns, and a bad event id field', () => {
    const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'string', user_id: 'string' } });
    const clash = eventStream({
      name: 'clash', entities: [user, 'merchant', 'nobody'], timestampField: 'user_id', eventIdField: 'n', retention: '1d',
      fields: { USER_ID: 'int64', _batch: 'string', n: { type: 'string', nullable: true } },
    });
    const idType = eventStream({ name: 'id_type', entities: [user], timestampField: '_ts', eventIdField: 'n', retention: '1d', fields: { n: 'int64', ts: 'timestamp' } });
    const idMissing = eventStream({ name: 'id_missing', entities: [user], timestampField: 'ts', eventIdField: 'click', retention: '1d', fields: { clicks: 'string' } });
    const watermark = eventStream({ name: 'wm', entities: [user], timestampField: 'ts', retention: '1d', fields: { day: 'date' }, from: { table: 't', watermark: 'day', lookback: '1h' } });
    expect(issuesOf(at('streams.ts', user, merchant, clash, idType, idMissing, watermark))).toEqual([
      { file: 'streams.ts', object: 'clash', field: 'entities.2', message: 'unknown entity "nobody" (known: user, merchant)' },
      { file: 'streams.ts', object: 'clash', field: 'entities', message: 'entity "merchant" join key "user_id" is string, but another entity of the stream declares it int64' },
      { file: 'streams.ts', object: 'clash', field: 'timestampField', message: '"user_id" is a join key; the timestamp field needs a column of its own' },
      { file: 'streams.ts', object: 'clash', field: 'fields.USER_ID', message: 'a field cannot have the name of a join key (the keys are columns of every event already)' },
      { file: 'streams.ts', object: 'clash', field: 'fields._batch', message: 'the field "_batch" starts with "_", which is reserved for Flywheel\'s columns (_event_id, _received_at, _batch)' },
      { file: 'streams.ts', object: 'clash', field: 'eventIdField', message: 'field "n" is nullable; every event needs an id' },
      { file: 'streams.ts', object: 'id_type', field: 'timestampField', message: 'the timestamp field "_ts" starts with "_", which is reserved for Flywheel\'s columns (_event_id, _received_at, _batch)' },
      { file: 'streams.ts', object: 'id_type', field: 'eventIdField', message: 'field "n" is int64; an event id field must be a string' },
      { file: 'streams.ts', object: 'id_missing', field: 'eventIdField', message: '"click" is not a field of the stream (did you mean "clicks"?); declare it in fields as a string' },
      { file: 'streams.ts', object: 'wm', field: 'from.watermark', message: 'column "day" is date; a watermark must be a timestamp' },
    ]);
  });

  it('refuses a stream and a source of the same name: feature views name either', () => {
    const source_ = source({ name: 'Clicks', table: 'raw.clicks', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
    expect(issuesOf(at('streams.ts', user, source_, clicks))).toEqual([
      { file: 'streams.ts', object: 'clicks', field: 'name', message: 'a source named "Clicks" exists; feature views name their source or event stream, so the two may not share a name' },
    ]);
  });
});
