/** The Loop page (`/`): the definitions as a graph, each node coloured by its health; a click opens its page. */
import { useEffect, type MouseEvent } from 'react';
import type { LoopPage as LoopData, LoopPageNode } from '../../../server/ui/api/loop-page.ts';
import { useApi } from '../api.ts';
import { HEALTH_COLORS, HEALTH_WORDS, HealthBadge, Loading, Section, StatusBadge } from '../components/common.tsx';
import { formatAge, formatInstant } from '../format.ts';
import { Link, navigate } from '../router.tsx';

/**
 * A User Timing mark set once per page load, after the first frame that shows the graph was painted:
 * its `startTime` is the first render's time from navigation start (test/ui-browser.test.ts reads it).
 */
export const LOOP_GRAPH_PAINTED = 'flywheel:loop-graph-painted';

const KIND_WORDS: Readonly<Record<string, string>> = {
  source: 'source',
  eventStream: 'event stream',
  decisionLog: 'decision log',
  streamTable: 'stream table',
  featureView: 'feature view',
  featureService: 'feature service',
  labels: 'labels',
  trainingSet: 'training set',
};

export function LoopPage() {
  const loaded = useApi<LoopData>('/api/loop');
  return (
    <Loading loaded={loaded}>
      {(loop) => (
        <>
          <h1>Loop</h1>
          <p className="lead">
            {loop.nodes.length} definitions of <strong>{loop.project}</strong> (registry v{loop.registryVersion}), as of {formatInstant(loop.now)}.
          </p>
          <ul className="legend" aria-label="Nodes by health">
            {(Object.keys(HEALTH_WORDS) as (keyof LoopData['health'])[]).map((health) => (
              <li key={health} data-health={health}>
                <span className="swatch" style={{ background: HEALTH_COLORS[health] }} aria-hidden="true" />
                {HEALTH_WORDS[health]}: <strong>{loop.health[health]}</strong>
              </li>
            ))}
          </ul>
          {loop.runsUnavailable && <p className="note">Runs are not shown: {loop.runsUnavailable}.</p>}
          <LoopGraph loop={loop} />
          <Section title="Definitions">
            <table>
              <thead>
                <tr><th scope="col">Definition</th><th scope="col">Kind</th><th scope="col">Health</th><th scope="col">Lag</th><th scope="col">Last run</th></tr>
              </thead>
              <tbody>
                {loop.nodes.map((node) => (
                  <tr key={node.id}>
                    <td><Link href={node.href}>{node.name}</Link></td>
                    <td>{KIND_WORDS[node.kind]}</td>
                    <td><HealthBadge health={node.health} /></td>
                    <td>{formatAge(node.lagSeconds)}</td>
                    <td>{node.lastRun ? <><StatusBadge status={node.lastRun.status} /> {formatInstant(node.lastRun.closeTime ?? node.lastRun.startTime)}</> : '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
        </>
      )}
    </Loading>
  );
}

function LoopGraph({ loop }: { loop: LoopData }) {
  useEffect(() => {
    // The effect runs once the graph is in the DOM: the next frame callback runs before that frame is painted, a task queued from it after.
    requestAnimationFrame(() => setTimeout(() => {
      if (performance.getEntriesByName(LOOP_GRAPH_PAINTED).length === 0) performance.mark(LOOP_GRAPH_PAINTED);
    }, 0));
  }, []);
  const open = (event: MouseEvent, href: string) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <div className="graph" role="group" aria-label={`The loop's graph: ${loop.nodes.length} definitions, ${loop.edges.length} links`}>
      {/* Fits the page's width, shrunk to at most 60 % of its size; a larger graph scrolls instead of becoming unreadable. */}
      <svg viewBox={`0 0 ${loop.width} ${loop.height}`} style={{ width: '100%', maxWidth: loop.width, minWidth: Math.round(loop.width * 0.6) }}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#6e7781" />
          </marker>
        </defs>
        {loop.edges.map((edge) => (
          <polyline key={`${edge.from}->${edge.to}`} points={edge.points.map((p) => `${p.x},${p.y}`).join(' ')} fill="none" stroke="#8c959f" strokeWidth="1.5" markerEnd="url(#arrow)" />
        ))}
        {loop.nodes.map((node) => <GraphNode key={node.id} node={node} onOpen={open} />)}
      </svg>
    </div>
  );
}

function GraphNode({ node, onOpen }: { node: LoopPageNode; onOpen: (event: MouseEvent, href: string) => void }) {
  const color = HEALTH_COLORS[node.health]!;
  const detail = `${HEALTH_WORDS[node.health]}${node.lagSeconds !== null ? ` · lag ${formatAge(node.lagSeconds)}` : ''}${node.lastRun ? ` · ${node.lastRun.status.toLowerCase()}` : ''}`;
  const name = node.name.length > 24 ? `${node.name.slice(0, 23)}…` : node.name;
  return (
    <a href={node.href} onClick={(event) => onOpen(event, node.href)} className="node" data-node={node.id} data-health={node.health}>
      <rect x={node.x} y={node.y} width={node.width} height={node.height} rx="6" fill="#ffffff" stroke={color} strokeWidth="2" />
      <rect x={node.x} y={node.y} width="6" height={node.height} rx="2" fill={color} />
      <text x={node.x + 14} y={node.y + 18} className="node-kind">{KIND_WORDS[node.kind]}</text>
      <text x={node.x + 14} y={node.y + 34} className="node-name">{name}</text>
      <text x={node.x + 14} y={node.y + 49} className="node-detail" fill={color}>{detail}</text>
    </a>
  );
}
