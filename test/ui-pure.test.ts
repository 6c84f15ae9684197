import { describe, expect, it } from 'vitest';
import type { LabelsSpec } from '../core/definitions/specs.ts';
import { definitionTypeScript } from '../server/ui/definition-typescript.ts';
import type { LoopGraphNode } from '../server/ui/loop-graph.ts';
import { nodeStatus } from '../server/ui/node-health.ts';
import { delayHistogram } from '../server/ui/outcome-delays.ts';
import { readSnippets } from '../server/ui/read-snippets.ts';
import type { RunSummary } from '../server/ui/temporal-runs.ts';
import { runsVisibilityQuery } from '../server/ui/temporal-runs.ts';
import { valueHistogram } from '../server/ui/value-histogram.ts';

/** The UI's pure parts, edge cases by hand: definitions as TypeScript, histograms, delay bins, health, snippets, run queries. */

describe('definitionTypeScript', () => {
  it('writes a labels match\'s keys as names, durations as text, and leaves empty tags out', () => {
    const spec: LabelsSpec = {
      kind: 'labels', name: 'clicked', decisions: 'ranking_decisions', outcomes: 'clicks',
      match: { by: 'decision_id', decisionIdField: 'decision_id', outcomeField: 'decision_id', keys: ['item_id'] },
      windowSeconds: 5, value: { kind: 'any' }, output: { format: 'parquet', path: 'labels/clicked', partitionBy: 'hour' }, tags: {},
    };
    expect(definitionTypeScript(spec)).toBe([
      'labels({',
      "  name: 'clicked',",
      "  decisions: 'ranking_decisions',",
      "  outcomes: 'clicks',",
      '  match: {',
      "    by: 'decision_id',",
      "    decisionIdField: 'decision_id',",
      "    outcomeField: 'decision_id',",
      "    keys: ['item_id'],",
      '  },',
      "  window: '5s',",
      "  value: { kind: 'any' },",
      "  output: { format: 'parquet', path: 'labels/clicked', partitionBy: 'hour' },",
      '});',
      '',
    ].join('\n'));
  });
});

describe('valueHistogram', () => {
  it('puts one value everywhere in one bin, and counts nulls apart', () => {
    expect(valueHistogram('x', 'int64', [3, 3, null], [3, null, null])).toEqual({
      feature: 'x', type: 'int64', sample: 3, bins: [{ label: '3', low: 3, high: 3, offline: 2, online: 1 }], nulls: { offline: 1, online: 2 }, differing: 1,
    });
  });
  it('closes the last bin on the maximum, and calls values within 1e-9 relative equal', () => {
    // The range is [0, 10 + 1e-11]: 5 falls just below the middle (bin 4), 5.5 above it (bin 5), both tens in the last.
    const h = valueHistogram('x', 'float64', [0, 10, 5], [0, 10 * (1 + 1e-12), 5.5]);
    expect(h.bins.map((b) => [b.offline, b.online])).toEqual([[1, 1], [0, 0], [0, 0], [0, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0], [1, 1]]);
    expect(h.differing).toBe(1);
  });
  it('keeps the 10 most frequent values and sums the rest as (other)', () => {
    const offline = ['a', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
    const h = valueHistogram('s', 'string', offline, offline);
    expect(h.bins.map((b) => b.label)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', '(other)']);
    expect(h.bins.at(-1)).toEqual({ label: '(other)', offline: 2, online: 2 });
  });
  it('has no bins without values, and refuses sides of different lengths', () => {
    expect(valueHistogram('x', 'float64', [], []).bins).toEqual([]);
    expect(() => valueHistogram('x', 'float64', [1], [])).toThrow('offline has 1 values, online 0: one each per entity');
  });
});

describe('delayHistogram', () => {
  it('puts a delay on a bin edge in the bin it starts, and one of the whole window in the last', () => {
    const bins = delayHistogram([0, 0.5, 4.99, 5], 5);
    expect(bins.map((b) => [b.label, b.rows])).toEqual([
      ['0s–0.5s', 1], ['0.5s–1s', 1], ['1s–1.5s', 0], ['1.5s–2s', 0], ['2s–2.5s', 0], ['2.5s–3s', 0], ['3s–3.5s', 0], ['3.5s–4s', 0], ['4s–4.5s', 0], ['4.5s–5s', 2],
    ]);
  });
});

describe('nodeStatus', () => {
  const now = new Date('2024-05-02T07:00:00.000Z');
  const node = (kind: LoopGraphNode['kind']): LoopGraphNode => ({ id: `${kind}:x`, kind, name: 'x', href: '/' });
  const run = (status: string): RunSummary => ({ workflowId: 'w', runId: 'r', workflowType: 't', kind: 'labels', object: 'x', status, startTime: '', closeTime: null, durationMs: null, rangeStart: null, rangeEnd: null, url: null });
  it('failing beats fresh; never without anything produced; stale past the limit, fresh at it', () => {
    expect(nodeStatus(node('labels'), { lastRun: run('FAILED'), producedAt: '2024-05-02T06:59:00.000Z', staleAfterSeconds: null }, now)).toEqual({ health: 'failing', lagSeconds: 60 });
    expect(nodeStatus(node('labels'), { lastRun: run('COMPLETED'), producedAt: null }, now)).toEqual({ health: 'never', lagSeconds: null });
    expect(nodeStatus(node('trainingSet'), { producedAt: '2024-05-02T05:00:00.000Z', staleAfterSeconds: 7200 }, now)).toEqual({ health: 'fresh', lagSeconds: 7200 });
    expect(nodeStatus(node('trainingSet'), { producedAt: '2024-05-02T04:59:59.000Z', staleAfterSeconds: 7200 }, now)).toEqual({ health: 'stale', lagSeconds: 7201 });
    expect(nodeStatus(node('source'), {}, now)).toEqual({ health: 'static', lagSeconds: null });
    expect(nodeStatus(node('featureView'), {}, now)).toEqual({ health: 'static', lagSeconds: null });
  });
});

describe('readSnippets and runsVisibilityQuery', () => {
  it('reads file URIs as local paths and quotes what needs it', () => {
    const { python, typescript } = readSnippets(['file:///data/it%27s/part-00000.parquet', 's3://bucket/a.parquet']);
    expect(python).toContain(`files = [\n    "/data/it's/part-00000.parquet",\n    "s3://bucket/a.parquet",\n]`);
    expect(typescript).toContain(`const files = [\n  '/data/it\\'s/part-00000.parquet',\n  's3://bucket/a.parquet',\n];`);
  });
  it('quotes every value of the visibility query', () => {
    expect(runsVisibilityQuery('p', { kind: 'labels', object: 'a" OR "1"="1' })).toBe('FlywheelProject = "p" AND FlywheelKind = "labels" AND FlywheelObject = "a\\" OR \\"1\\"=\\"1"');
  });
});
