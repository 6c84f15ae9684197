import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source, trainingSet } from '../index.ts';
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
      { file: 'more.ts', object: 'user', field: 'name', message: 'duplicate name: a entity named "user" is also defined in entities.ts' },
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
      { file: 'e.ts', object: 's', field: 'features.0.view', message: 'unknown feature view "v"' },
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
      { file: 'g.ts', object: 'User', field: 'name', message: 'duplicate name: a entity named "user" is also defined in g.ts (names may not differ only in case)' },
    ]);
    const badKey = entity({ name: 'card', joinKeys: { '1st': 'int64' } });
    expect(issuesOf(at('h.ts', badKey))).toEqual([
      { file: 'h.ts', object: 'card', field: 'joinKeys.1st', message: '"1st" is not a valid identifier: must start with a letter or underscore and contain only letters, digits and underscores' },
    ]);
  });

  it('accepts a selection object without a feature list as the whole view', () => {
    const project = validateProject(at('i.ts', user, txns, spend, featureService({ name: 'all', features: [{ view: spend } as never] })));
    expect(project.featureServices.all?.features).toEqual([{ view: 'spend', features: ['amount', 'country'] }]);
  });
});
