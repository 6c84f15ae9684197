import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, source, trainingSet } from '../index.ts';
import type { EventStreamInput } from '../core/definitions/event-stream.ts';
import type { AggregationInput } from '../core/definitions/feature-view.ts';
import type { Definition } from '../core/definitions/definition.ts';
import { emptyProject, type ProjectSpec } from '../core/definitions/specs.ts';
import { canonicalJson, definitionHash } from '../core/plan/definition-hash.ts';
import { diffProjects, summarizeChanges, type ModifyChange, type PlanChange } from '../core/plan/diff.ts';
import { createPlan, toPlanDocument } from '../core/plan/plan.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import type { ValueType } from '../core/types.ts';

/** The inputs of a small project, with knobs for each test to turn. */
function build(options: {
  userKeys?: Record<string, ValueType>;
  columns?: Record<string, ValueType>;
  timestampField?: string;
  features?: Record<string, ValueType>;
  serviceFeatures?: string[];
  trainingViews?: boolean;
  withService?: boolean;
  withTraining?: boolean;
  withView?: boolean;
  extra?: Definition[];
} = {}): ProjectSpec {
  const user = entity({ name: 'user', joinKeys: options.userKeys ?? { user_id: 'int64' } });
  const txns = source({
    name: 'txns', table: 'raw.transactions', timestampField: options.timestampField ?? 'ts',
    columns: options.columns ?? { user_id: 'int64', amount: 'float32', country: 'string', ts: 'timestamp', loaded_at: 'timestamp' },
  });
  const labels = source({ name: 'labels', table: 'labels', timestampField: 'ts', columns: { user_id: 'int64', region: 'string', ts: 'timestamp', is_fraud: 'bool' } });
  const spend = featureView({ name: 'spend', entities: [user], source: txns, ttl: '7d', features: options.features ?? { amount: 'float32', country: 'string' } });
  const service = featureService({ name: 'fraud', features: [{ view: spend, features: options.serviceFeatures ?? ['amount'] }] });
  const training = trainingSet({
    name: 'fraud_training', spine: labels,
    features: options.trainingViews ? [{ view: spend, features: options.serviceFeatures ?? ['amount'] }] : service,
  });
  const definitions: Definition[] = [user, txns, labels];
  if (options.withView !== false) definitions.push(spend);
  if (options.withService !== false) definitions.push(service);
  if (options.withTraining !== false) definitions.push(training);
  definitions.push(...(options.extra ?? []));
  return validateProject(definitions.map((definition) => ({ file: 'defs.ts', definition })));
}

const only = (changes: PlanChange[], kind: PlanChange['kind'], name: string) => {
  const found = changes.filter((c) => c.kind === kind && c.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const modified = (changes: PlanChange[], kind: PlanChange['kind'], name: string) => {
  const change = only(changes, kind, name);
  expect(change.action).toBe('change');
  return change as ModifyChange;
};

describe('diffProjects', () => {
  it('adds everything against an empty registry, in kind order then by name, none breaking', () => {
    const changes = diffProjects(undefined, build());
    expect(changes.map((c) => [c.action, c.kind, c.name, c.breaking])).toEqual([
      ['add', 'entity', 'user', false],
      ['add', 'source', 'labels', false],
      ['add', 'source', 'txns', false],
      ['add', 'featureView', 'spend', false],
      ['add', 'featureService', 'fraud', false],
      ['add', 'trainingSet', 'fraud_training', false],
    ]);
    expect(summarizeChanges(changes)).toEqual({ add: 6, change: 0, remove: 0, breaking: 0 });
    expect(diffProjects(emptyProject(), build())).toEqual(changes);
  });

  it('finds no changes between equal projects', () => {
    expect(diffProjects(build(), build())).toEqual([]);
  });

  it('does not count a reorder of features, columns or join keys as a change', () => {
    const before = build({
      userKeys: { user_id: 'int64', region: 'string' },
      columns: { user_id: 'int64', region: 'string', amount: 'float32', country: 'string', ts: 'timestamp', loaded_at: 'timestamp' },
      features: { amount: 'float32', country: 'string' },
    });
    const after = build({
      userKeys: { region: 'string', user_id: 'int64' },
      columns: { ts: 'timestamp', loaded_at: 'timestamp', country: 'string', amount: 'float32', region: 'string', user_id: 'int64' },
      features: { country: 'string', amount: 'float32' },
    });
    expect(diffProjects(before, after)).toEqual([]);
  });

  it('reports an added feature and a type change at field level', () => {
    const before = build();
    const after = build({
      columns: { user_id: 'int64', amount: 'float64', country: 'string', ts: 'timestamp', loaded_at: 'timestamp' },
      features: { amount: 'float64', country: 'string', loaded_at: 'timestamp' },
    });
    const view = modified(diffProjects(before, after), 'featureView', 'spend');
    expect(view.fields).toEqual([
      { path: 'features.amount.type', before: 'float32', after: 'float64', breaking: true },
      { path: 'features.loaded_at', after: { name: 'loaded_at', type: 'timestamp' }, breaking: false },
    ]);
    expect(view.breaking).toBe(true);
    expect(view.reasons).toEqual([
      'feature view "spend": feature "amount" changes type float32 → float64; readers and stored values of the old type break',
    ]);
    const txns = modified(diffProjects(before, after), 'source', 'txns');
    expect(txns.fields).toEqual([{ path: 'columns.amount.type', before: 'float32', after: 'float64', breaking: true }]);
    expect(txns.reasons).toEqual(['source "txns": column "amount" changes type float32 → float64; views and readers of the old type break']);
  });

  it('reports plain fields, nested objects and tags by path', () => {
    const before = build();
    const after = structuredClone(before) as unknown as { -readonly [K in keyof ProjectSpec]: Record<string, Record<string, unknown>> };
    after.featureViews.spend!.ttlSeconds = null;
    after.featureViews.spend!.tags = { team: 'risk' };
    after.sources.txns!.location = { type: 'query', query: 'SELECT 1' };
    const changes = diffProjects(before, after as unknown as ProjectSpec);
    expect(modified(changes, 'featureView', 'spend').fields).toEqual([
      { path: 'ttlSeconds', before: 604_800, after: null, breaking: false },
      { path: 'tags.team', after: 'risk', breaking: false },
    ]);
    expect(modified(changes, 'source', 'txns').fields).toEqual([
      { path: 'location.type', before: 'table', after: 'query', breaking: false },
      { path: 'location.table', before: 'raw.transactions', breaking: false },
      { path: 'location.query', after: 'SELECT 1', breaking: false },
    ]);
    expect(changes.every((c) => !c.breaking)).toBe(true);
  });

  it('reports removed objects', () => {
    const changes = diffProjects(build(), build({ withTraining: false }));
    expect(changes).toEqual([
      { action: 'remove', kind: 'trainingSet', name: 'fraud_training', before: build().trainingSets.fraud_training, breaking: false, reasons: [] },
    ]);
  });

  describe('breaking rules', () => {
    it('a feature type change', () => {
      const change = modified(diffProjects(build(), build({ features: { amount: 'float64', country: 'string' } })), 'featureView', 'spend');
      expect(change.breaking).toBe(true);
      expect(change.fields.find((f) => f.path === 'features.amount.type')?.breaking).toBe(true);
    });

    it('a source column type change', () => {
      const changes = diffProjects(build(), build({ columns: { user_id: 'int64', amount: 'float32', country: 'string', ts: 'timestamp', loaded_at: 'timestamp', extra: 'int32' } }));
      expect(modified(changes, 'source', 'txns')).toMatchObject({ breaking: false, fields: [{ path: 'columns.extra', after: { name: 'extra', type: 'int32' }, breaking: false }] });
      const retyped = diffProjects(build(), build({ columns: { user_id: 'int64', amount: 'float32', country: 'string', ts: 'timestamp', loaded_at: 'date' } }));
      expect(modified(retyped, 'source', 'txns')).toMatchObject({ breaking: true, fields: [{ path: 'columns.loaded_at.type', before: 'timestamp', after: 'date', breaking: true }] });
    });

    it('a removed feature still used by a feature service or training set', () => {
      // The service selected "country"; the desired project still has the service (now without it) and drops the feature.
      const before = build({ serviceFeatures: ['amount', 'country'] });
      const after = build({ serviceFeatures: ['amount'], features: { amount: 'float32' } });
      const changes = diffProjects(before, after);
      const view = modified(changes, 'featureView', 'spend');
      expect(view.fields).toEqual([{ path: 'features.country', before: { name: 'country', type: 'string' }, breaking: true }]);
      expect(view.reasons).toEqual(['feature view "spend": feature "country" is removed but feature service "fraud" still uses it']);

      const viaTraining = diffProjects(
        build({ serviceFeatures: ['amount', 'country'], trainingViews: true, withService: false }),
        build({ serviceFeatures: ['amount'], trainingViews: true, withService: false, features: { amount: 'float32' } }),
      );
      expect(modified(viaTraining, 'featureView', 'spend').reasons).toEqual([
        'feature view "spend": feature "country" is removed but training set "fraud_training" still uses it',
      ]);
    });

    it('a removed feature nobody uses is compatible', () => {
      const change = modified(diffProjects(build(), build({ features: { amount: 'float32' } })), 'featureView', 'spend');
      expect(change).toMatchObject({ breaking: false, reasons: [], fields: [{ path: 'features.country', breaking: false }] });
    });

    it('a removed feature view still used by a consumer; unused, it is compatible', () => {
      const before = build({ trainingViews: true, withService: false });
      // A pure diff need not see validated input: the training set still selects the removed view.
      const after = build({ trainingViews: true, withService: false, withView: false, withTraining: false });
      const stillUsed = { ...after, trainingSets: before.trainingSets };
      expect(only(diffProjects(before, stillUsed), 'featureView', 'spend')).toMatchObject({
        action: 'remove', breaking: true, reasons: ['feature view "spend" is removed but training set "fraud_training" still uses it'],
      });
      const unused = diffProjects(before, after);
      expect(only(unused, 'featureView', 'spend')).toMatchObject({ action: 'remove', breaking: false, reasons: [] });
    });

    it('join key changes of an entity', () => {
      const added = modified(diffProjects(build(), build({ userKeys: { user_id: 'int64', region: 'string' }, columns: { user_id: 'int64', region: 'string', amount: 'float32', country: 'string', ts: 'timestamp', loaded_at: 'timestamp' } })), 'entity', 'user');
      expect(added).toMatchObject({ breaking: true, fields: [{ path: 'joinKeys.region', after: { name: 'region', type: 'string' }, breaking: true }] });
      expect(added.reasons).toEqual(['entity "user": join key "region" is added; feature views keyed by it, their stored rows and training spines no longer match']);
      const narrowed = structuredClone(build()) as unknown as { entities: { user: { joinKeys: { name: string; type: string }[] } } };
      narrowed.entities.user.joinKeys[0]!.type = 'int32';
      const retyped = modified(diffProjects(build(), narrowed as unknown as ProjectSpec), 'entity', 'user');
      expect(retyped.fields).toEqual([{ path: 'joinKeys.user_id.type', before: 'int64', after: 'int32', breaking: true }]);
      expect(retyped.reasons[0]).toContain('join key "user_id" changes type int64 → int32');
    });

    it("a source's timestamp field change", () => {
      const change = modified(diffProjects(build(), build({ timestampField: 'loaded_at' })), 'source', 'txns');
      expect(change.fields).toEqual([{ path: 'timestampField', before: 'ts', after: 'loaded_at', breaking: true }]);
      expect(change.reasons).toEqual(['source "txns": timestamp field changes "ts" → "loaded_at"; event times of existing features and training sets change meaning']);
    });

    it('removing a feature from a service; adding one is compatible', () => {
      const removed = modified(diffProjects(build({ serviceFeatures: ['amount', 'country'] }), build({ serviceFeatures: ['amount'] })), 'featureService', 'fraud');
      expect(removed.fields).toEqual([{ path: 'features.spend.features.country', before: 'country', breaking: true }]);
      expect(removed.reasons).toEqual(['feature service "fraud": no longer serves "spend.country"; readers of the service break']);
      const added = modified(diffProjects(build(), build({ serviceFeatures: ['amount', 'country'] })), 'featureService', 'fraud');
      expect(added).toMatchObject({ breaking: false, fields: [{ path: 'features.spend.features.country', after: 'country', breaking: false }] });
    });

    it("reports a new order of a service's features (the model's inputs) as a compatible change", () => {
      const change = modified(diffProjects(build({ serviceFeatures: ['amount', 'country'] }), build({ serviceFeatures: ['country', 'amount'] })), 'featureService', 'fraud');
      expect(change).toMatchObject({ breaking: false, fields: [{ path: 'features.$order', before: ['spend.amount', 'spend.country'], after: ['spend.country', 'spend.amount'], breaking: false }] });
    });
  });
});

describe('diffProjects on aggregation views', () => {
  const windowed = (aggregations: readonly AggregationInput[], serviceFeatures: string[]) => {
    const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
    const txns = source({ name: 'txns', table: 'raw.transactions', timestampField: 'ts', columns: { user_id: 'int64', amount: 'float64', ts: 'timestamp' } });
    const windows = featureView({ name: 'windows', entities: [user], source: txns, aggregations });
    const service = featureService({ name: 'velocity', features: [{ view: windows, features: serviceFeatures as never[] }] });
    return validateProject([user, txns, windows, service].map((definition) => ({ file: 'defs.ts', definition })));
  };

  it('keys aggregations by feature name: a new window of a named aggregation is a compatible change', () => {
    const before = windowed([{ function: 'count', windows: ['1h'] }, { column: 'amount', function: 'avg', windows: ['7d'], name: 'avg_ticket' }], ['count_1h']);
    const after = windowed([{ function: 'count', windows: ['1h'] }, { column: 'amount', function: 'avg', windows: ['30d'], name: 'avg_ticket' }], ['count_1h']);
    expect(modified(diffProjects(before, after), 'featureView', 'windows')).toMatchObject({
      breaking: false,
      fields: [{ path: 'aggregations.avg_ticket.windowSeconds', before: 604_800, after: 2_592_000, breaking: false }],
    });
  });

  it('a generated feature that disappears while a service uses it is breaking', () => {
    const before = windowed([{ function: 'count', windows: ['1h', '1d'] }], ['count_1h', 'count_1d']);
    const after = windowed([{ function: 'count', windows: ['1h'] }], ['count_1h']);
    const view = modified(diffProjects(before, after), 'featureView', 'windows');
    expect(view.fields.map((f) => [f.path, f.breaking])).toEqual([['features.count_1d', true], ['aggregations.count_1d', false]]);
    expect(view.reasons).toEqual(['feature view "windows": feature "count_1d" is removed but feature service "velocity" still uses it']);
  });
});

describe('diffProjects: event streams', () => {
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const region = entity({ name: 'region', joinKeys: { region_id: 'string' } });
  /** A project with the stream `clicks` (overridable) and, optionally, a view reading its `page` field. */
  const streams = (overrides: Partial<EventStreamInput> = {}, options: { view?: 'plain' | 'transformation' } = {}): ProjectSpec => {
    const clicks = eventStream({
      name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
      fields: { item_id: 'int32', page: 'string', dwell_ms: { type: 'int64', nullable: true } },
      from: { table: 'raw.app_clicks', watermark: 'ts', lookback: '1h' },
      ...overrides,
    });
    const views = options.view === 'plain' ? [featureView({ name: 'last_page', entities: [user], source: clicks, features: { page: 'string' } })]
      : options.view === 'transformation' ? [featureView({ name: 'pages', entities: [user], source: clicks, transformation: 'SELECT user_id, ts, length(PAGE) AS n FROM {{source}}', features: { n: 'int64' } })]
      : [];
    return validateProject([user, region, clicks, ...views].map((definition) => ({ file: 'defs.ts', definition })));
  };
  const streamChange = (before: ProjectSpec, after: ProjectSpec) => modified(diffProjects(before, after), 'eventStream', 'clicks');

  it('adds a stream after sources and before feature views, compatibly', () => {
    expect(diffProjects(undefined, streams({}, { view: 'plain' })).map((c) => [c.action, c.kind, c.name, c.breaking])).toEqual([
      ['add', 'entity', 'region', false], ['add', 'entity', 'user', false], ['add', 'eventStream', 'clicks', false], ['add', 'featureView', 'last_page', false],
    ]);
  });

  it('an added field, a field made nullable and a longer lookback are compatible', () => {
    const change = streamChange(streams(), streams({
      fields: { item_id: 'int32', page: { type: 'string', nullable: true }, dwell_ms: { type: 'int64', nullable: true }, referrer: 'string' },
      from: { table: 'raw.app_clicks', watermark: 'ts', lookback: '2h' },
    }));
    expect(change).toMatchObject({ breaking: false, reasons: [] });
    expect(change.fields.map((f) => f.path)).toEqual(['fields.page.nullable', 'fields.referrer', 'from.lookbackSeconds']);
  });

  it('a removed field is compatible unless a feature view reads it (its column is kept)', () => {
    const fewer = { fields: { item_id: 'int32', dwell_ms: { type: 'int64', nullable: true } } } as const;
    expect(streamChange(streams(), streams(fewer))).toMatchObject({ breaking: false, fields: [{ path: 'fields.page', breaking: false }] });
    // The applied view read "page"; the desired one is gone (or would no longer validate).
    expect(streamChange(streams({}, { view: 'plain' }), streams(fewer)).reasons).toEqual([
      'event stream "clicks": field "page" is removed but feature view "last_page" read it; its column and values are kept in the table, and new events leave it null',
    ]);
    // A transformation that names the column (in any case) counts as reading it.
    expect(streamChange(streams({}, { view: 'transformation' }), streams(fewer, { view: 'transformation' })).breaking).toBe(true);
  });

  it('a field or key type change is breaking; apply converts it where the warehouse can', () => {
    const change = streamChange(streams(), streams({ fields: { item_id: 'int64', page: 'string', dwell_ms: { type: 'int64', nullable: true } } }));
    expect(change.fields).toEqual([{ path: 'fields.item_id.type', before: 'int32', after: 'int64', breaking: true }]);
    expect(change.reasons).toEqual([
      'event stream "clicks": field "item_id" changes type int32 → int64; apply --allow-breaking converts the stored column if the warehouse can (to a wider type, or to string), and stops otherwise',
    ]);
  });

  it('new or removed keys, a new timestamp or event id field, a shorter retention and a new table to load are breaking', () => {
    const change = streamChange(streams(), streams({
      entities: [region], timestampField: 'event_ts', eventIdField: 'page', retention: '30d',
      from: { table: 'raw.app_clicks_v2', watermark: 'event_ts', lookback: '1h' },
    }));
    expect(change.reasons).toEqual([
      'event stream "clicks": join key "user_id" is removed; its column and values are kept in the table, and new events leave it null',
      'event stream "clicks": join key "region_id" is added; the stored events have no value for it, so apply refuses (declare a new event stream)',
      'event stream "clicks": timestamp field changes "ts" → "event_ts"; the stored events keep their time in the old column',
      'event stream "clicks": retention shrinks 90d → 30d; stored events older than 30d will be deleted',
      'event stream "clicks": it loads from another table, which the last load\'s watermark does not describe; rows older than that watermark (minus the lookback) are skipped',
      'event stream "clicks": it loads from another watermark column, which the last load\'s watermark does not describe; rows older than that watermark (minus the lookback) are skipped',
      'event stream "clicks": event id field changes null → "page"; an event sent or loaded again after the change gets another id and is stored twice',
    ]);
    expect(streamChange(streams(), streams({ retention: '180d' })).breaking).toBe(false);
  });

  it('removing a stream is breaking: apply keeps its table', () => {
    const without = validateProject([user, region].map((definition) => ({ definition })));
    expect(only(diffProjects(streams(), without), 'eventStream', 'clicks')).toMatchObject({
      action: 'remove', breaking: true,
      reasons: ['event stream "clicks" is removed; apply keeps its table flywheel.stream_clicks and the events in it (drop the table by hand to delete them)'],
    });
  });

  it('reads a registry version applied before streams existed as having none', () => {
    const { eventStreams: _none, ...old } = validateProject([user].map((definition) => ({ definition })));
    expect(diffProjects(old as ProjectSpec, streams()).map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual(['add entity region', 'add eventStream clicks']);
  });
});

describe('definitionHash', () => {
  it('is the sha256 of canonical JSON: key order does not matter, array order does', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: undefined } })).toBe('{"a":{"d":[2,1]},"b":1}');
    expect(definitionHash(build())).toBe(definitionHash(JSON.parse(JSON.stringify(build())) as ProjectSpec));
    const reordered = Object.fromEntries(Object.entries(build()).reverse()) as unknown as ProjectSpec;
    expect(definitionHash(reordered)).toBe(definitionHash(build()));
    expect(definitionHash(build())).toMatch(/^[0-9a-f]{64}$/);
    expect(definitionHash(build({ features: { amount: 'float64', country: 'string' } }))).not.toBe(definitionHash(build()));
  });

  it('is stable across releases for the same spec (stored in registries and manifests)', () => {
    expect(definitionHash(emptyProject())).toBe('c55616b62d2e3fcc8972ea958233e1bb9115829cd1eee13f1f176a627089ee29');
    // A kind added later (event streams) leaves the hash of a project that declares none as it was.
    const { eventStreams: _none, ...before } = build();
    expect(definitionHash(build())).toBe(definitionHash(before as ProjectSpec));
  });
});

describe('toPlanDocument', () => {
  it('is a stable JSON document', () => {
    const plan = createPlan({
      project: 'demo',
      applied: { version: 3, hash: 'abc', appliedAt: '2025-01-01T00:00:00.000Z', spec: build() },
      desired: build({ features: { amount: 'float64', country: 'string' }, withTraining: false }),
    });
    expect(toPlanDocument(plan)).toEqual({
      format: 'flywheel.plan/v1',
      project: 'demo',
      applied: { version: 3, hash: 'abc', appliedAt: '2025-01-01T00:00:00.000Z' },
      desiredHash: plan.desiredHash,
      hasChanges: true,
      summary: { add: 0, change: 1, remove: 1, breaking: 1 },
      changes: [
        {
          action: 'change', kind: 'featureView', name: 'spend', breaking: true,
          reasons: ['feature view "spend": feature "amount" changes type float32 → float64; readers and stored values of the old type break'],
          fields: [{ path: 'features.amount.type', before: 'float32', after: 'float64', breaking: true }],
        },
        { action: 'remove', kind: 'trainingSet', name: 'fraud_training', breaking: false, reasons: [] },
      ],
    });
  });
});
