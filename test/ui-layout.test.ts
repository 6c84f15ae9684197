import { describe, expect, it } from 'vitest';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { loopGraph } from '../server/ui/loop-graph.ts';
import { layoutLoopGraph } from '../server/ui/loop-layout.ts';

/**
 * The Loop page's layout on a generated project of 200 definitions (docs/ui.md, "Speed"): elkjs places
 * it in bounded time, the same way on every run (so the page never moves between loads), with no two
 * nodes overlapping and every link going left to right. Pure: no server.
 */

/**
 * 20 streams (10 sent to the log API, 10 the decision logs of the first 10 services), 20 sources, 110
 * feature views over the first 10 streams and the sources, 20 services, 15 labels (decisions from a log,
 * outcomes from a stream), 15 training sets: 200 definitions.
 */
function generatedProject(): ProjectSpec {
  const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}_${String(i).padStart(3, '0')}`);
  const streams = names('stream', 20);
  const sources = names('source', 20);
  const views = names('view', 110);
  const services = names('service', 20);
  const spec = {
    entities: {},
    sources: Object.fromEntries(sources.map((name) => [name, { kind: 'source', name }])),
    eventStreams: Object.fromEntries(streams.map((name) => [name, { kind: 'eventStream', name }])),
    featureViews: Object.fromEntries(views.map((name, i) => [name, { kind: 'featureView', name, source: i % 2 === 0 ? streams[i % 10] : sources[i % 20] }])),
    featureServices: Object.fromEntries(services.map((name, i) => [name, {
      kind: 'featureService', name, features: [0, 1, 2, 3, 4].map((k) => ({ view: views[(i * 5 + k) % 110], features: [] })),
      ...(i < 10 ? { logging: { stream: streams[10 + i] } } : {}),
    }])),
    labels: Object.fromEntries(names('labels', 15).map((name, i) => [name, { kind: 'labels', name, decisions: streams[10 + (i % 10)], outcomes: streams[i % 10] }])),
    trainingSets: Object.fromEntries(names('training', 15).map((name, i) => [name, {
      kind: 'trainingSet', name, spine: i % 3 === 0 ? sources[i] : { labels: `labels_${String(i).padStart(3, '0')}`, fromLog: true },
      features: i % 2 === 0 ? { service: services[i] } : { views: [{ view: views[i * 7], features: [] }] },
    }])),
    loops: {},
    models: {},
  };
  return spec as unknown as ProjectSpec;
}

describe('the Loop page layout with 200 definitions', () => {
  it('is placed in bounded time, identically each time, without overlaps, left to right', async () => {
    const spec = generatedProject();
    const definitions = Object.values(spec).reduce((n, collection) => n + Object.keys(collection).length, 0);
    expect(definitions).toBe(200);
    const graph = loopGraph(spec);
    // A node per definition, plus a stream table per stream (20).
    expect(graph.nodes).toHaveLength(220);

    await layoutLoopGraph(loopGraph(generatedProject())); // elkjs loaded and warmed up once, as a running server has it
    const started = performance.now();
    const layout = await layoutLoopGraph(graph);
    const ms = performance.now() - started;
    process.stdout.write(`layout of ${graph.nodes.length} nodes and ${graph.edges.length} edges: ${ms.toFixed(0)} ms, ${layout.width} x ${layout.height} px\n`);
    // Generous: 2 shared cores under other tests' load. The server keeps the layout of the applied version, so it is paid once per apply.
    expect(ms).toBeLessThan(5_000);

    expect(await layoutLoopGraph(loopGraph(generatedProject()))).toEqual(layout);
    const boxes = layout.nodes;
    expect(boxes).toHaveLength(220);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart, `${a.id} overlaps ${b.id}`).toBe(true);
      }
    }
    const x = new Map(boxes.map((b) => [b.id, b.x]));
    for (const edge of layout.edges) {
      expect(x.get(edge.to)!, `${edge.from} -> ${edge.to}`).toBeGreaterThan(x.get(edge.from)!);
      expect(edge.points.length).toBeGreaterThanOrEqual(2);
    }
  });
});
