import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, source } from '../index.ts';
import { decisionStreamLayout, isLogged } from '../core/definitions/decision-stream.ts';
import type { Definition } from '../core/definitions/definition.ts';
import { DefinitionError } from '../core/errors.ts';
import { diffProjects } from '../core/plan/diff.ts';
import { duckdbDialect } from '../core/sql/dialect.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import { planWarehouseObjects, warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';

/**
 * The decision stream a feature service with `logging` derives (core/definitions/decision-stream.ts):
 * its spec, column by column; validation of `logging`; and the warehouse objects and plan changes it
 * gets as an event stream.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'string' } });
const txns = source({
  name: 'txns', table: 'raw.txns', timestampField: 'ts',
  columns: { user_id: 'int64', merchant_id: 'string', ts: 'timestamp', amount: 'float64', txn_count: 'int64', risk: 'float32', country: 'string', day: 'date' },
});
const spend = featureView({ name: 'spend', entities: [user], source: txns, ttl: '2d', features: { amount: 'float64', txn_count: 'int64' } });
const risk = featureView({ name: 'risk', entities: [merchant, user], source: txns, features: { risk: 'float32', country: 'string' } });
const fraud = featureService({ name: 'fraud_model', features: [spend, { view: risk, features: ['risk'] }], owner: 'risk@acme.example', logging: { sampleRate: 0.1 } });

const at = (file: string, ...definitions: Definition[]) => definitions.map((definition) => ({ file, definition }));
const base = [...at('defs.ts', user, merchant, txns, spend, risk)];

function issuesOf(definitions: ReturnType<typeof at>) {
  try {
    validateProject(definitions);
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    return (error as DefinitionError).issues.map((i) => ({ file: i.file, object: i.object, field: i.field, message: i.message }));
  }
  throw new Error('expected validation to fail');
}

describe('the decision stream of a logged feature service', () => {
  it('normalizes logging into the service spec, with the default stream name and retention', () => {
    const project = validateProject([...base, ...at('services.ts', fraud)]);
    expect(project.featureServices.fraud_model).toEqual({
      kind: 'featureService', name: 'fraud_model', owner: 'risk@acme.example', tags: {},
      features: [{ view: 'spend', features: ['amount', 'txn_count'] }, { view: 'risk', features: ['risk'] }],
      logging: { sampleRate: 0.1, stream: 'fraud_model_decisions', retentionSeconds: 365 * 86_400 },
    });
    // A service without logging has no `logging` key: specs applied before it existed hash the same.
    const plain = validateProject([...base, ...at('s.ts', featureService({ name: 'plain', features: [spend] }))]);
    expect('logging' in plain.featureServices.plain!).toBe(false);
    expect(Object.keys(plain.eventStreams)).toEqual([]);
  });

  it('derives an event stream: keys of the entities in order, served_at, then decision_id, row_index, features, statuses, view event times, context', () => {
    const project = validateProject([...base, ...at('services.ts', fraud)]);
    expect(project.eventStreams.fraud_model_decisions).toEqual({
      kind: 'eventStream',
      name: 'fraud_model_decisions',
      entities: ['user', 'merchant'],
      keys: [{ name: 'user_id', type: 'int64' }, { name: 'merchant_id', type: 'string' }],
      timestampField: 'served_at',
      fields: [
        { name: 'decision_id', type: 'string', nullable: false },
        { name: 'row_index', type: 'int32', nullable: false },
        { name: 'amount', type: 'float64', nullable: true },
        { name: 'txn_count', type: 'int64', nullable: true },
        { name: 'risk', type: 'float32', nullable: true },
        { name: 'amount__status', type: 'string', nullable: false },
        { name: 'txn_count__status', type: 'string', nullable: false },
        { name: 'risk__status', type: 'string', nullable: false },
        { name: 'spend__event_time', type: 'timestamp', nullable: true },
        { name: 'risk__event_time', type: 'timestamp', nullable: true },
        { name: 'context', type: 'string', nullable: true },
      ],
      retentionSeconds: 31_536_000,
      description: 'What feature service "fraud_model" served: one row per entity row of each logged decision (derived from the service\'s logging)',
      owner: 'risk@acme.example',
      tags: {},
    });
    const service = project.featureServices.fraud_model!;
    expect(isLogged(service) && decisionStreamLayout(service, project).views).toEqual([
      { view: 'spend', eventTimeColumn: 'spend__event_time', features: ['amount', 'txn_count'] },
      { view: 'risk', eventTimeColumn: 'risk__event_time', features: ['risk'] },
    ]);
  });

  it('takes a declared stream name and retention', () => {
    const named = featureService({ name: 'fraud_model', features: [spend], logging: { sampleRate: 1, stream: 'fraud_log', retention: '30d' } });
    const project = validateProject([...base, ...at('services.ts', named)]);
    expect(project.featureServices.fraud_model!.logging).toEqual({ sampleRate: 1, stream: 'fraud_log', retentionSeconds: 2_592_000 });
    expect(Object.keys(project.eventStreams)).toEqual(['fraud_log']);
    expect(project.eventStreams.fraud_log).toMatchObject({ entities: ['user'], keys: [{ name: 'user_id', type: 'int64' }], retentionSeconds: 2_592_000 });
  });

  it('gets a table like a declared stream: typed columns, keys and served_at NOT NULL, primary key _event_id', () => {
    const project = validateProject([...base, ...at('services.ts', fraud)]);
    const statements = warehouseObjectStatements({ desired: project, dialect: duckdbDialect, resolvePath: (p) => p }).map((s) => s.sql);
    expect(statements).toContain(
      'CREATE TABLE IF NOT EXISTS "flywheel"."stream_fraud_model_decisions" ("_event_id" VARCHAR NOT NULL, "user_id" BIGINT NOT NULL, "merchant_id" VARCHAR NOT NULL, ' +
        '"served_at" TIMESTAMPTZ NOT NULL, "decision_id" VARCHAR NOT NULL, "row_index" INTEGER NOT NULL, "amount" DOUBLE, "txn_count" BIGINT, "risk" FLOAT, ' +
        '"amount__status" VARCHAR NOT NULL, "txn_count__status" VARCHAR NOT NULL, "risk__status" VARCHAR NOT NULL, "spend__event_time" TIMESTAMPTZ, "risk__event_time" TIMESTAMPTZ, ' +
        '"context" VARCHAR, "_received_at" TIMESTAMPTZ NOT NULL, "_batch" VARCHAR NOT NULL, PRIMARY KEY ("_event_id"))',
    );
    expect(statements).toContain('CREATE TABLE IF NOT EXISTS "flywheel"."ingest_ledger" ("stream" VARCHAR NOT NULL, "batch" VARCHAR NOT NULL, "rows" BIGINT NOT NULL, "loaded_at" TIMESTAMPTZ NOT NULL, "watermark" VARCHAR, PRIMARY KEY ("stream", "batch"))');
    const snowflake = warehouseObjectStatements({ desired: project, dialect: snowflakeDialect, resolvePath: (p) => p }).map((s) => s.sql);
    expect(snowflake.find((s) => s.includes('stream_fraud_model_decisions'))).toContain('"user_id" NUMBER(19,0) NOT NULL, "merchant_id" VARCHAR NOT NULL, "served_at" TIMESTAMP_TZ NOT NULL');
  });

  it('plans a new feature as compatible columns, and a feature type change as breaking, as for a declared stream', () => {
    const before = validateProject([...base, ...at('services.ts', fraud)]);
    const more = featureService({ name: 'fraud_model', features: [spend, { view: risk, features: ['risk', 'country'] }], owner: 'risk@acme.example', logging: { sampleRate: 0.1 } });
    const after = validateProject([...base, ...at('services.ts', more)]);
    const changes = diffProjects(before, after);
    expect(changes.map((c) => [c.action, c.kind, c.name, c.breaking])).toEqual([['change', 'eventStream', 'fraud_model_decisions', false], ['change', 'featureService', 'fraud_model', false]]);
    expect(changes[0]!.action === 'change' && changes[0]!.fields.map((f) => [f.path, f.after, f.breaking])).toEqual([
      ['fields.country', { name: 'country', type: 'string', nullable: true }, false],
      ['fields.country__status', { name: 'country__status', type: 'string', nullable: false }, false],
    ]);
    const nodes = planWarehouseObjects({ desired: after, applied: before, resolvePath: (p) => p }).filter((n) => n.kind === 'addColumn');
    expect(nodes).toEqual([
      { kind: 'addColumn', table: 'flywheel.stream_fraud_model_decisions', column: 'country', type: 'string', required: false },
      { kind: 'addColumn', table: 'flywheel.stream_fraud_model_decisions', column: 'country__status', type: 'string', required: false },
    ]);

    const retyped = featureView({ name: 'spend', entities: [user], source: txns, ttl: '2d', features: { amount: 'float64', txn_count: 'float64' } });
    const typeChange = diffProjects(before, validateProject([...at('defs.ts', user, merchant, txns, retyped, risk), ...at('services.ts', fraud)]));
    const stream = typeChange.find((c) => c.kind === 'eventStream');
    expect(stream).toMatchObject({ action: 'change', breaking: true, reasons: [
      'event stream "fraud_model_decisions": field "txn_count" changes type int64 → float64; apply --allow-breaking converts the stored column if the warehouse can (to a wider type, or to string), and stops otherwise',
    ] });

    // A new sample rate changes the service only.
    const faster = featureService({ name: 'fraud_model', features: [spend, { view: risk, features: ['risk'] }], owner: 'risk@acme.example', logging: { sampleRate: 0.5 } });
    const rate = diffProjects(before, validateProject([...base, ...at('services.ts', faster)]));
    expect(rate).toMatchObject([{ action: 'change', kind: 'featureService', breaking: false, fields: [{ path: 'logging.sampleRate', before: 0.1, after: 0.5, breaking: false }] }]);
  });
});

describe('validating logging', () => {
  it('refuses a sample rate outside (0, 1], one that is not a number, and unknown keys', () => {
    const services = [
      featureService({ name: 's_zero', features: [spend], logging: { sampleRate: 0 } }),
      featureService({ name: 's_big', features: [spend], logging: { sampleRate: 1.5 } }),
      featureService({ name: 's_text', features: [spend], logging: { sampleRate: '0.1' as never } }),
      featureService({ name: 's_typo', features: [spend], logging: { sampleRate: 0.1, rate: 2 } as never }),
      featureService({ name: 's_stream', features: [spend], logging: { sampleRate: 0.1, stream: 'fraud-log' } }),
    ];
    expect(issuesOf([...base, ...at('services.ts', ...services)])).toEqual([
      { file: 'services.ts', object: 's_zero', field: 'logging.sampleRate', message: '0 is not a sample rate: give a number greater than 0 and at most 1 (0.1 logs one decision in ten, 1 logs every one); to log nothing, leave logging out' },
      { file: 'services.ts', object: 's_big', field: 'logging.sampleRate', message: '1.5 is not a sample rate: give a number greater than 0 and at most 1 (0.1 logs one decision in ten, 1 logs every one); to log nothing, leave logging out' },
      { file: 'services.ts', object: 's_text', field: 'logging.sampleRate', message: 'expected a number greater than 0 and at most 1, such as 0.1 (one decision in ten)' },
      { file: 'services.ts', object: 's_typo', field: 'logging', message: 'Unrecognized key: "rate"' },
      { file: 'services.ts', object: 's_stream', field: 'logging.stream', message: '"fraud-log" is not a valid identifier: must start with a letter or underscore and contain only letters, digits and underscores' },
    ]);
  });

  it('names both when the decision stream clashes with a declared stream, a source, or another service\'s', () => {
    const declared = eventStream({ name: 'fraud_model_decisions', entities: [user], timestampField: 'ts', fields: {}, retention: '1d' });
    const other = featureService({ name: 'other', features: [spend], logging: { sampleRate: 1, stream: 'fraud_log' } });
    const third = featureService({ name: 'third', features: [spend], logging: { sampleRate: 1, stream: 'FRAUD_LOG' } });
    const onSource = featureService({ name: 'on_source', features: [spend], logging: { sampleRate: 1, stream: 'txns' } });
    expect(issuesOf([...base, ...at('streams.ts', declared), ...at('services.ts', fraud, other, third, onSource)])).toEqual([
      {
        file: 'services.ts', object: 'fraud_model', field: 'logging.stream',
        message: 'feature service "fraud_model" logs its decisions to the event stream "fraud_model_decisions", and event stream "fraud_model_decisions" (streams.ts) is declared with that name; set logging.stream to another name or rename the declared stream',
      },
      {
        file: 'services.ts', object: 'third', field: 'logging.stream',
        message: 'feature service "third" logs its decisions to the event stream "FRAUD_LOG", and so does feature service "other"; each service needs a decision stream of its own',
      },
      {
        file: 'services.ts', object: 'on_source', field: 'logging.stream',
        message: 'feature service "on_source" logs its decisions to the event stream "txns", and source "txns" has that name (feature views name their source or stream, so the two may not share one); choose another logging.stream',
      },
    ]);
  });

  it('refuses a default stream name over 30 characters, columns taken twice, and join keys of two types', () => {
    const long = featureService({ name: 'a_feature_service_with_a_long_name', features: [spend], logging: { sampleRate: 1 } });
    const oddSource = source({ name: 'odd_src', table: 'odd', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', served_at: 'timestamp', amount__status: 'string' } });
    const odd = featureView({ name: 'odd', entities: [user], source: oddSource, features: { served_at: 'timestamp', amount__status: 'string' } });
    const clashing = featureService({ name: 'clashing', features: [spend, 'odd'], logging: { sampleRate: 1 } });
    const account = entity({ name: 'account', joinKeys: { user_id: 'string' } });
    const accounts = source({ name: 'accounts', table: 'accounts', timestampField: 'ts', columns: { user_id: 'string', ts: 'timestamp', tier: 'string' } });
    const tier = featureView({ name: 'tier', entities: [account], source: accounts, features: { tier: 'string' } });
    const mixed = featureService({ name: 'mixed', features: [spend, tier], logging: { sampleRate: 1 } });
    expect(issuesOf([...base, ...at('more.ts', oddSource, odd, account, accounts, tier), ...at('services.ts', long, clashing, mixed)])).toEqual([
      { file: 'services.ts', object: 'a_feature_service_with_a_long_name', field: 'logging.stream', message: 'the decision stream would be named "a_feature_service_with_a_long_name_decisions" (44 characters), and a stream name has at most 30; set logging.stream to a shorter name' },
      { file: 'services.ts', object: 'clashing', field: 'logging', message: 'the decision stream "clashing_decisions" would have two columns named "served_at": the time the decision was served and feature "served_at" (names are compared ignoring case); rename one of them' },
      { file: 'services.ts', object: 'clashing', field: 'logging', message: 'the decision stream "clashing_decisions" would have two columns named "amount__status": feature "amount__status" and the status of feature "amount" (names are compared ignoring case); rename one of them' },
      { file: 'services.ts', object: 'mixed', field: 'logging', message: 'entity "account" join key "user_id" is string, but another entity of the service declares it int64; the decision stream "mixed_decisions" has one column per join key' },
    ]);
  });

  it('says why a feature view cannot read a decision stream', () => {
    const reader = featureView({ name: 'reader', entities: [user], source: 'fraud_model_decisions', features: { amount: 'float64' } });
    expect(issuesOf([...base, ...at('reader.ts', reader), ...at('services.ts', fraud)])).toEqual([
      {
        file: 'reader.ts', object: 'reader', field: 'source',
        message: '"fraud_model_decisions" is the decision stream of feature service "fraud_model", which a feature view cannot read (decision streams are derived after the views); read its table flywheel.stream_fraud_model_decisions in a source instead',
      },
    ]);
  });
});
