import type { LoopGraph } from './loop-graph.ts';

/**
 * Positions for the Loop page's graph, computed on the server by elkjs (the Eclipse Layout Kernel's
 * layered algorithm: left to right, crossings minimized, edges routed orthogonally). The browser only
 * draws what it is given, so the page shows the graph at once and in the same place on every load:
 * the layout depends on nothing but the graph (nodes and edges in a fixed order, no randomness).
 */

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 56;

export interface PlacedNode {
  readonly id: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface RoutedEdge {
  readonly from: string;
  readonly to: string;
  /** The polyline from the source's right side to the target's left side. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface LoopLayout {
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly PlacedNode[];
  readonly edges: readonly RoutedEdge[];
}

type ElkConstructor = new () => {
  layout(graph: ElkGraph): Promise<ElkGraph>;
};

interface ElkGraph {
  id: string;
  layoutOptions?: Record<string, string>;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  children?: ElkGraph[];
  edges?: { id: string; sources: string[]; targets: string[]; sections?: { startPoint: Point; endPoint: Point; bendPoints?: Point[] }[] }[];
}

interface Point {
  x: number;
  y: number;
}

let elk: Promise<InstanceType<ElkConstructor>> | undefined;

/** elkjs's bundled build runs in this thread (no web worker): a layout of a few hundred nodes takes tens of milliseconds. */
function loadElk(): Promise<InstanceType<ElkConstructor>> {
  // Loaded on first use: the CLI's other commands never load it (docs/development.md, "Startup").
  elk ??= import('elkjs/lib/elk.bundled.js').then((module) => {
    const ELK = (module as unknown as { default: ElkConstructor }).default;
    return new ELK();
  });
  return elk;
}

/** Layouts of the graphs laid out last, by the graph: a project's graph changes only when it is applied again. */
const cache = new Map<string, Promise<LoopLayout>>();
const CACHED_GRAPHS = 8;

/** The layout of `graph`, computed once per distinct graph (the last few are kept). */
export function cachedLayout(graph: LoopGraph): Promise<LoopLayout> {
  const key = JSON.stringify([graph.nodes.map((n) => n.id), graph.edges.map((e) => [e.from, e.to])]);
  let layout = cache.get(key);
  if (!layout) {
    layout = layoutLoopGraph(graph);
    layout.catch(() => cache.delete(key));
    cache.set(key, layout);
    if (cache.size > CACHED_GRAPHS) cache.delete(cache.keys().next().value!);
  }
  return layout;
}

export async function layoutLoopGraph(graph: LoopGraph): Promise<LoopLayout> {
  const engine = await loadElk();
  const laid = await engine.layout({
    id: 'loop',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.spacing.nodeNode': '24',
      'elk.layered.spacing.nodeNodeBetweenLayers': '56',
      'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
      // Fewer crossing-minimization sweeps than the default 7: a third of the time on 200 definitions, and as readable.
      'elk.layered.thoroughness': '2',
      'elk.padding': '[top=16,left=16,bottom=16,right=16]',
      // Graphs that do not touch each other (two unrelated pipelines) stacked, not side by side.
      'elk.separateConnectedComponents': 'true',
    },
    children: graph.nodes.map((node) => ({ id: node.id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: graph.edges.map((edge, index) => ({ id: `e${index}`, sources: [edge.from], targets: [edge.to] })),
  });
  const round = (value: number | undefined) => Math.round((value ?? 0) * 10) / 10;
  return {
    width: round(laid.width),
    height: round(laid.height),
    nodes: (laid.children ?? []).map((child) => ({ id: child.id, x: round(child.x), y: round(child.y), width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: (laid.edges ?? []).map((edge, index) => {
      const section = edge.sections?.[0];
      const points = section ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint] : [];
      return { from: graph.edges[index]!.from, to: graph.edges[index]!.to, points: points.map((p) => ({ x: round(p.x), y: round(p.y) })) };
    }),
  };
}
