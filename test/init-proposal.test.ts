import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataInputsFromFiles, describeDataInputs } from '../cli/init/data-inputs.ts';
import { proposeProject, toIdentifier, type DataColumn, type DataRelation } from '../cli/init/propose-project.ts';
import { renderProject } from '../cli/init/render-project.ts';
import { loadDefinitions } from '../cli/project/load-definitions.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import type { ValueType } from '../core/types.ts';

/**
 * What `flywheel init --from` proposes from described columns (cli/init/propose-project.ts), and that
 * the definitions it renders load and validate, whatever the names. The end-to-end run is in
 * init.test.ts.
 */

const ENGINE_TYPES: Record<ValueType, string> = { int32: 'INTEGER', int64: 'BIGINT', float32: 'FLOAT', float64: 'DOUBLE', string: 'VARCHAR', bool: 'BOOLEAN', timestamp: 'TIMESTAMP WITH TIME ZONE', date: 'DATE' };

function relation(name: string, columns: Record<string, ValueType | string>, repeated: string[] = []): DataRelation {
  const described: DataColumn[] = Object.entries(columns).map(([column, type]) =>
    type in ENGINE_TYPES ? { name: column, engineType: ENGINE_TYPES[type as ValueType], type: type as ValueType } : { name: column, engineType: type, type: undefined });
  const keys = described.filter((c) => c.name === 'id' || c.name.endsWith('_id'));
  return {
    label: `data/${name}.parquet`, sourceName: name, location: { kind: 'parquet', path: `../data/${name}.parquet` }, columns: described,
    repeatedKeys: Object.fromEntries(keys.map((c) => [c.name, repeated.includes(c.name)])),
  };
}

describe('proposeProject', () => {
  it('takes the key in the most files, then one whose values repeat, then the first seen', () => {
    const clicks = relation('clicks', { click_id: 'int64', user_id: 'int64', ts: 'timestamp', page: 'string' }, ['user_id']);
    const users = relation('users', { user_id: 'int64', updated_at: 'timestamp', plan: 'string' });
    expect(proposeProject([clicks, users]).entity).toEqual({ name: 'user', key: 'user_id', type: 'int64' });
    // One file: click_id comes first but is unique on every row, so the repeating user_id wins.
    const one = proposeProject([clicks]);
    expect(one.entity.key).toBe('user_id');
    expect(one.reasons[1]).toBe('entity user: key user_id, in 1 of 1 file, its values repeat (several rows per entity); not click_id (in 1, unique on every row: a row id). Pass --entity <column> to choose another');
    // Neither repeats: the first seen, said so.
    const unique = proposeProject([relation('events', { event_id: 'string', device_id: 'int32', ts: 'timestamp', v: 'float64' })]);
    expect(unique.entity).toEqual({ name: 'event', key: 'event_id', type: 'string' });
    expect(unique.reasons[1]).toBe('entity event: key event_id, in 1 of 1 file, unique on every row (no column with repeating values was found); not device_id (in 1, unique on every row: a row id). Pass --entity <column> to choose another');
    // --entity overrides; an int32 key gives an int64 entity, which int32 columns feed.
    const given = proposeProject([relation('events', { event_id: 'string', device_id: 'int32', ts: 'timestamp', v: 'float64' })], { entityKey: 'device_id' });
    expect(given.entity).toEqual({ name: 'device', key: 'device_id', type: 'int64' });
    expect(given.featureViews).toEqual([{ name: 'events_features', source: 'events', features: [{ name: 'v', type: 'float64' }] }]);
  });

  it('takes the --timestamp column in the files that have it, the first timestamp column elsewhere', () => {
    const events = relation('events', { user_id: 'int64', created_at: 'timestamp', happened_at: 'timestamp', v: 'float64' }, ['user_id']);
    const users = relation('users', { user_id: 'int64', updated_at: 'timestamp', plan: 'string' });
    const proposal = proposeProject([events, users], { timestampField: 'happened_at' });
    expect(proposal.sources.map((s) => s.timestampField)).toEqual(['happened_at', 'updated_at']);
    expect(proposal.reasons[0]).toBe('source events: data/events.parquet, read in place from ../data/events.parquet; event time happened_at (TIMESTAMP WITH TIME ZONE, --timestamp)');
    // created_at is another time, not a feature.
    expect(proposal.featureViews[0]!.features).toEqual([{ name: 'v', type: 'float64' }]);
    expect(() => proposeProject([events], { timestampField: 'v' })).toThrow('data/events.parquet: --timestamp v is DOUBLE, not a TIMESTAMP or TIMESTAMPTZ');
    expect(() => proposeProject([events], { timestampField: 'when' })).toThrow('--timestamp: no file has a column "when"');
  });

  it('names a bare id entity after its source', () => {
    expect(proposeProject([relation('stores', { id: 'int64', opened_at: 'timestamp', size: 'int32' }, ['id'])]).entity).toEqual({ name: 'stores', key: 'id', type: 'int64' });
  });

  it('leaves out what cannot be a feature, serves each feature name once, and skips sources with nothing to serve', () => {
    const orders = relation('orders', { order_id: 'int64', customer_id: 'int64', ts: 'timestamp', placed_on: 'date', amount: 'float64', express: 'bool', 'Gross Amount': 'float64', items: 'INTEGER[]' }, ['customer_id']);
    const refunds = relation('refunds', { customer_id: 'int64', ts: 'timestamp', refunded_at: 'timestamp', amount: 'float64' });
    const codes = relation('codes', { customer_id: 'string', ts: 'timestamp', code: 'string' });
    const logins = relation('logins', { device_id: 'int64', ts: 'timestamp' });
    const proposal = proposeProject([orders, refunds, codes, logins]);
    expect(proposal.featureViews).toEqual([{ name: 'orders_features', source: 'orders', features: [{ name: 'amount', type: 'float64' }, { name: 'express', type: 'bool' }] }]);
    expect(proposal.sources.map((s) => [s.name, s.timestampField, s.columns.map((c) => c.name)])).toEqual([
      ['orders', 'ts', ['order_id', 'customer_id', 'ts', 'placed_on', 'amount', 'express']],
      ['refunds', 'ts', ['customer_id', 'ts', 'refunded_at', 'amount']],
      ['codes', 'ts', ['customer_id', 'ts', 'code']],
      ['logins', 'ts', ['device_id', 'ts']],
    ]);
    expect(proposal.leftOut).toEqual([
      'orders."Gross Amount": not an identifier (letters, digits and _); rename it or read it through a query source',
      'orders.items (INTEGER[]): Flywheel has no type for it',
      'orders.order_id: an id, not a feature',
      'orders.placed_on (DATE): a time, not a feature',
      'refunds.refunded_at (TIMESTAMP WITH TIME ZONE): a time, not a feature',
      'refunds.amount: feature view orders_features already serves a feature of that name',
    ]);
    expect(proposal.reasons.filter((r) => r.startsWith('no feature view') || r.startsWith('source refunds'))).toEqual([
      'source refunds: data/refunds.parquet, read in place from ../data/refunds.parquet; event time ts (TIMESTAMP WITH TIME ZONE, the first of its timestamp columns)',
      'no feature view over refunds: no numeric, string or boolean column is left once the key and time columns are set aside',
      'no feature view over codes: its customer_id is VARCHAR, not int64',
      'no feature view over logins: it has no customer_id column',
    ]);
    expect(proposal.trainingSet.spine).toEqual({
      name: 'orders_spine', label: 'data/orders.parquet', location: { kind: 'parquet', path: '../data/orders.parquet' }, timestampField: 'ts',
      columns: [{ name: 'customer_id', type: 'int64' }, { name: 'ts', type: 'timestamp' }],
    });
  });

  it('refuses data with no feature to serve', () => {
    expect(() => proposeProject([relation('logins', { user_id: 'int64', ts: 'timestamp', device_id: 'int64' }, ['user_id'])]))
      .toThrow('--from: no source has both the key user_id and a column to serve as a feature; nothing to serve');
  });
});

describe('dataInputsFromFiles and describeDataInputs', () => {
  it('makes one source of a quoted glob, named without its wildcards, and counts repeated keys across its files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flywheel-inputs-'));
    const engine = await openDuckDBEngine({ path: ':memory:' });
    try {
      mkdirSync(join(dir, 'data'));
      for (const [file, rows] of [['part-1', "(1, 7, TIMESTAMP '2026-11-01 10:00:00', 2.5)"], ['part-2', "(2, 7, TIMESTAMP '2026-11-02 10:00:00', 4.0)"]]) {
        await engine.run({ sql: `COPY (SELECT * FROM (VALUES ${rows}) AS t(visit_id, user_id, ts, spend)) TO '${join(dir, 'data', `${file}.parquet`)}' (FORMAT parquet)`, parameters: [] });
      }
      writeFileSync(join(dir, 'data', 'users.csv'), 'user_id,ts,plan\n7,2026-10-01T00:00:00Z,pro\n');
      const inputs = dataInputsFromFiles(['data/part-*.parquet', 'data/users.csv'], dir, join(dir, 'project'));
      expect(inputs.map((i) => [i.label, i.sourceName, i.location, i.reload])).toEqual([
        ['data/part-*.parquet', 'part', { kind: 'parquet', path: '../data/part-*.parquet' }, undefined],
        ['data/users.csv', 'users', { kind: 'table', table: 'users', loadedFrom: '../data/users.csv' }, `CREATE OR REPLACE TABLE "users" AS SELECT * FROM read_csv_auto('../data/users.csv')`],
      ]);
      const relations = await describeDataInputs(engine, inputs);
      expect(relations.map((r) => [r.sourceName, r.columns.map((c) => `${c.name} ${c.engineType} ${c.type}`), r.repeatedKeys])).toEqual([
        ['part', ['visit_id INTEGER int32', 'user_id INTEGER int32', 'ts TIMESTAMP timestamp', 'spend DECIMAL(2,1) float64'], { visit_id: false, user_id: true }],
        ['users', ['user_id BIGINT int64', 'ts TIMESTAMP WITH TIME ZONE timestamp', 'plan VARCHAR string'], { user_id: false }],
      ]);
      expect(proposeProject(relations).entity).toEqual({ name: 'user', key: 'user_id', type: 'int64' });
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('toIdentifier', () => {
  it('makes a name from any text', () => {
    expect(['My Data-2024', '2024 sales', '***', '__x__', 'Ünïcode'].map((t) => toIdentifier(t, 'data'))).toEqual(['my_data_2024', 'data_2024_sales', 'data', 'x', 'n_code']);
  });
});

describe('renderProject', () => {
  it('writes definitions that load and validate, with reserved and shared names made distinct', async () => {
    // Entity "order" (from order_id) and the source "order" share a name; "default" and "class" are reserved words.
    const proposal = proposeProject([
      relation('order', { order_id: 'int64', ts: 'timestamp', total: 'float64' }, ['order_id']),
      relation('default', { order_id: 'int64', ts: 'timestamp', class: 'string' }),
    ]);
    const files = renderProject(proposal, { project: 'names', packageName: 'names', flywheelSpec: '^0.1.0', typescriptSpec: '5.9.3', spineDays: undefined, exampleKey: undefined, loaded: [] });
    expect(files['definitions/entities.ts']).toContain("export const order = entity({ name: 'order', joinKeys: { order_id: 'int64' } });");
    expect(files['definitions/sources.ts']).toContain("export const orderSource = source({\n  name: 'order',");
    expect(files['definitions/sources.ts']).toContain("export const defaultSource = source({\n  name: 'default',");
    const dir = mkdtempSync(join(tmpdir(), 'flywheel-render-'));
    try {
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      const spec = await loadDefinitions(join(dir, 'definitions'), dir);
      expect(Object.keys(spec.sources).sort()).toEqual(['default', 'order', 'order_spine']);
      expect(Object.keys(spec.featureViews).sort()).toEqual(['default_features', 'order_features']);
      expect(spec.featureServices.order_model!.features).toEqual([{ view: 'order_features', features: ['total'] }, { view: 'default_features', features: ['class'] }]);
      expect(spec.trainingSets.order_training!.spine).toBe('order_spine');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
