import type { ProjectSpec } from '../../core/definitions/specs.ts';

/**
 * The loop as a graph of definitions (the Loop page), derived from an applied ProjectSpec. Pure.
 *
 *   event streams → stream tables → labels
 *   sources → feature views → feature services → training sets
 *   feature services → decision logs → stream tables → labels → training sets
 *
 * A stream table is the warehouse table ingestion loads a stream into (`flywheel.stream_<name>`): it
 * gets its own node because ingestion is a run of its own that can be late or fail on its own.
 *
 * @example
 * loopGraph(spec).edges; // [{ from: 'eventStream:clicks', to: 'streamTable:clicks' }, ...]
 */

export const LOOP_NODE_KINDS = ['source', 'eventStream', 'decisionLog', 'streamTable', 'featureView', 'featureService', 'labels', 'trainingSet'] as const;
export type LoopNodeKind = (typeof LOOP_NODE_KINDS)[number];

export interface LoopGraphNode {
  /** `<kind>:<name>`, unique in the graph. */
  readonly id: string;
  readonly kind: LoopNodeKind;
  /** The definition's name (for a stream table, its stream's). */
  readonly name: string;
  /** The UI page of the node, a path of the frontend. */
  readonly href: string;
}

export interface LoopGraphEdge {
  readonly from: string;
  readonly to: string;
}

export interface LoopGraph {
  readonly nodes: readonly LoopGraphNode[];
  readonly edges: readonly LoopGraphEdge[];
}

export const nodeId = (kind: LoopNodeKind, name: string): string => `${kind}:${name}`;

/** The page each kind of node opens. */
export function nodeHref(kind: LoopNodeKind, name: string): string {
  const segment = encodeURIComponent(name);
  switch (kind) {
    case 'eventStream':
    case 'decisionLog':
    case 'streamTable':
      return `/streams/${segment}`;
    case 'featureView': return `/feature-views/${segment}`;
    case 'labels': return `/labels/${segment}`;
    case 'trainingSet': return `/training-sets/${segment}`;
    case 'source': return `/definitions/source/${segment}`;
    case 'featureService': return `/definitions/featureService/${segment}`;
  }
}

export function loopGraph(spec: ProjectSpec): LoopGraph {
  const nodes = new Map<string, LoopGraphNode>();
  const edges: LoopGraphEdge[] = [];
  const seen = new Set<string>();
  const add = (kind: LoopNodeKind, name: string): string => {
    const id = nodeId(kind, name);
    if (!nodes.has(id)) nodes.set(id, { id, kind, name, href: nodeHref(kind, name) });
    return id;
  };
  const link = (from: string, to: string) => {
    const key = `${from}\u0000${to}`;
    if (seen.has(key)) return;
    seen.add(key);
    edges.push({ from, to });
  };
  const decisionLogs = new Set(Object.values(spec.featureServices).flatMap((service) => (service.logging ? [service.logging.stream] : [])));
  /** The node a reader of `name` (a source or an event stream) depends on. */
  const relation = (name: string) => (spec.eventStreams[name] ? add('streamTable', name) : add('source', name));

  for (const name of sorted(spec.sources)) add('source', name);
  for (const name of sorted(spec.eventStreams)) {
    link(add(decisionLogs.has(name) ? 'decisionLog' : 'eventStream', name), add('streamTable', name));
  }
  for (const name of sorted(spec.featureViews)) link(relation(spec.featureViews[name]!.source), add('featureView', name));
  for (const name of sorted(spec.featureServices)) {
    const service = spec.featureServices[name]!;
    const id = add('featureService', name);
    for (const selection of service.features) link(add('featureView', selection.view), id);
    if (service.logging) link(id, add('decisionLog', service.logging.stream));
  }
  for (const name of sorted(spec.labels)) {
    const labels = spec.labels[name]!;
    const id = add('labels', name);
    link(add('streamTable', labels.decisions), id);
    link(add('streamTable', labels.outcomes), id);
  }
  for (const name of sorted(spec.trainingSets)) {
    const set = spec.trainingSets[name]!;
    const id = add('trainingSet', name);
    link(typeof set.spine === 'string' ? relation(set.spine) : add('labels', set.spine.labels), id);
    if ('service' in set.features) link(add('featureService', set.features.service), id);
    else for (const selection of set.features.views) link(add('featureView', selection.view), id);
  }
  return { nodes: [...nodes.values()], edges };
}

function sorted(collection: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(collection).sort();
}
