import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, labels, source, trainingSet } from '../index.ts';
import type { Definition } from '../core/definitions/definition.ts';
import { DefinitionError } from '../core/errors.ts';
import { definitionHash } from '../core/plan/definition-hash.ts';
import { diffProjects } from '../core/plan/diff.ts';
import { resolveTrainingSet } from '../core/training-set/resolve-training-set.ts';
import { validateProject } from '../core/validation/validate-project.ts';

/** Training sets whose spine is a labels dataset: the specs they normalize to, what they resolve to, and every problem validation names. */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'string' } });
const stats = source({ name: 'stats', table: 'stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', ctr: 'float64', segment: 'string', label: 'int32' } });
const risk = source({ name: 'risk', table: 'risk', timestampField: 'ts', columns: { merchant_id: 'string', ts: 'timestamp', score: 'float64' } });
const userStats = featureView({ name: 'user_stats', entities: [user], source: stats, ttl: '1d', features: { ctr: 'float64', segment: 'string' } });
const userStatsCopy = featureView({ name: 'user_stats_copy', entities: [user], source: stats, features: { ctr: 'float64' } });
const labelView = featureView({ name: 'label_view', entities: [user], source: stats, features: { label: 'int32' } });
const merchantRisk = featureView({ name: 'merchant_risk', entities: [merchant], source: risk, features: { score: 'float64' } });
const ranker = featureService({ name: 'ranker', features: [{ view: userStats, features: ['ctr'] }], logging: { sampleRate: 1 } });
const rankerV2 = featureService({ name: 'ranker_v2', features: [userStats] });
const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { decision_id: 'string' }, retention: '30d' });
const visits = eventStream({ name: 'visits', entities: [user], timestampField: 'ts', fields: {}, retention: '30d' });
const spine = source({ name: 'click_spine', table: 'click_spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicked: 'int32' } });
const clicked = labels({ name: 'clicked', decisions: ranker, outcomes: clicks, match: { by: 'decision_id', outcomeField: 'decision_id', keys: ['user_id'] }, window: '1h', value: { kind: 'any' } });
const revisited = labels({ name: 'revisited', decisions: visits, outcomes: clicks, match: { by: 'keys' }, window: '1d', value: { kind: 'count' } });
const base = [user, merchant, stats, risk, userStats, userStatsCopy, labelView, merchantRisk, ranker, rankerV2, clicks, visits, spine, clicked, revisited];

function validate(...definitions: Definition[]) {
  return validateProject([...base, ...definitions].map((definition) => ({ file: definition.kind === 'trainingSet' ? 'definitions/training.ts' : 'definitions/base.ts', definition })));
}

function problems(...definitions: Definition[]): string[] {
  try {
    validate(...definitions);
  } catch (error) {
    if (error instanceof DefinitionError) return error.issues.map((i) => `${i.kind} "${i.object}", ${i.field ?? '-'}: ${i.message}`);
    throw error;
  }
  return [];
}

describe('training sets on labels', () => {
  it('normalize the spine to { labels, fromLog }: from the log by default over a decision log that holds a selected feature', () => {
    const project = validate(
      trainingSet({ name: 'from_log', spine: { labels: clicked }, features: { service: rankerV2 } }),
      trainingSet({ name: 'recomputed', spine: { labels: 'clicked' }, features: ranker, fromLog: false }),
      trainingSet({ name: 'other_view', spine: { labels: clicked }, features: [userStatsCopy] }),
      trainingSet({ name: 'no_log', spine: { labels: revisited }, features: [userStats] }),
    );
    expect(project.trainingSets.from_log).toEqual({
      kind: 'trainingSet', name: 'from_log', spine: { labels: 'clicked', fromLog: true }, features: { service: 'ranker_v2' },
      output: { format: 'parquet', path: 'training_sets/from_log', partitionBy: 'day' }, tags: {},
    });
    expect(project.trainingSets.recomputed!.spine).toEqual({ labels: 'clicked', fromLog: false });
    // user_stats_copy.ctr is another view's feature than the ctr the log holds (user_stats.ctr).
    expect(project.trainingSets.other_view!.spine).toEqual({ labels: 'clicked', fromLog: false });
    expect(project.trainingSets.no_log!.spine).toEqual({ labels: 'revisited', fromLog: false });
  });

  it('resolve to the label rows as spine, the decision time as its time, and the logged features joined by decision id and row index', () => {
    const project = validate(trainingSet({ name: 'from_log', spine: { labels: clicked }, features: rankerV2 }));
    const resolved = resolveTrainingSet(project, 'from_log', { from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T00:00:00.000Z' });
    expect(resolved.spine).toBeUndefined();
    expect(resolved.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'decision_id:string', 'row_index:int32', 'user_id:int64', 'served_at:timestamp', 'label:int32', 'outcome_count:int64', 'first_outcome_at:timestamp', 'labeled_at:timestamp',
      'ctr:float64', 'segment:string',
    ]);
    expect(resolved.join.spine).toEqual({
      relation: 'spine_from_log', timestampField: 'served_at',
      columns: ['decision_id', 'row_index', 'user_id', 'served_at', 'label', 'outcome_count', 'first_outcome_at', 'labeled_at'],
      from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T00:00:00.000Z',
    });
    // The service logs ctr only: segment always comes from the join.
    expect(resolved.join.log).toEqual({
      relation: 'flywheel.stream_ranker_decisions', keys: ['decision_id', 'row_index'], timestampField: 'served_at',
      features: [{ name: 'ctr', type: 'float64', statusColumn: 'ctr__status' }],
    });
    expect(resolved.labelsSpine?.log).toMatchObject({ stream: 'ranker_decisions', service: 'ranker' });
    const recomputed = validate(trainingSet({ name: 'recomputed', spine: { labels: clicked }, features: rankerV2, fromLog: false }));
    expect(resolveTrainingSet(recomputed, 'recomputed').join.log).toBeUndefined();
  });

  it('names every problem: unknown labels, fromLog without a decision log or without a logged feature, keys the labels lack, features named like label columns', () => {
    expect(problems(
      trainingSet({ name: 'typo', spine: { labels: 'clickd' }, features: ranker }),
      trainingSet({ name: 'source_from_log', spine, features: ranker, fromLog: true }),
      trainingSet({ name: 'stream_from_log', spine: { labels: revisited }, features: ranker, fromLog: true }),
      trainingSet({ name: 'nothing_logged', spine: { labels: clicked }, features: [userStatsCopy], fromLog: true }),
      trainingSet({ name: 'wrong_keys', spine: { labels: clicked }, features: [merchantRisk] }),
      trainingSet({ name: 'clash', spine: { labels: clicked }, features: [labelView] }),
    )).toEqual([
      'trainingSet "source_from_log", fromLog: fromLog takes feature values from a decision log, so the spine must be { labels } over a logged feature service\'s decisions; the spine is the source "click_spine"',
      'trainingSet "typo", spine.labels: unknown labels "clickd" (did you mean "clicked"?)',
      'trainingSet "stream_from_log", fromLog: labels "revisited" read their decisions from event stream "visits", which is not a feature service\'s decision log; fromLog takes feature values from a log, so give labels whose decisions are a feature service with logging',
      'trainingSet "nothing_logged", fromLog: feature service "ranker" logs none of the selected features (it logs user_stats.ctr); select features it serves, or leave fromLog out',
      'trainingSet "wrong_keys", spine: entity "merchant" (used by feature view "merchant_risk") join key "merchant_id" is an unknown column (known: decision_id, row_index, user_id, served_at, label, outcome_count, first_outcome_at, labeled_at) in the rows of labels "clicked"',
      'trainingSet "clash", features: feature "label" has the name of a column of labels "clicked"; output columns must be unique',
    ]);
    expect(problems(trainingSet({ name: 'bad', spine: { label: clicked } as never, features: ranker }))[0]).toBe(
      'trainingSet "bad", spine: expected a source (the object or its name) or { labels } (a labels definition or its name)',
    );
  });

  it('keep a source spine a plain name (specs hash as before), and plan a spine changed from a source to labels as a field change', () => {
    const before = validate(trainingSet({ name: 'set', spine, features: ranker }));
    expect(before.trainingSets.set!.spine).toBe('click_spine');
    const after = validate(trainingSet({ name: 'set', spine: { labels: clicked }, features: ranker }));
    expect(definitionHash(after.trainingSets.set!)).not.toBe(definitionHash(before.trainingSets.set!));
    const changes = diffProjects(before, after).filter((c) => c.kind === 'trainingSet');
    expect(changes).toMatchObject([{ action: 'change', kind: 'trainingSet', name: 'set', breaking: false }]);
    expect(changes[0]!.action === 'change' && changes[0]!.fields).toEqual([{ path: 'spine', before: 'click_spine', after: { labels: 'clicked', fromLog: true }, breaking: false }]);
  });
});
