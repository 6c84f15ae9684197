/** Runs as Temporal lists them, each linking to its page in the Temporal Web UI. */
import type { RunSummary } from '../../../server/ui/temporal-runs.ts';
import { formatDurationMs, formatInstant } from '../format.ts';
import { StatusBadge } from './common.tsx';

export function RunsTable({ runs, unavailable, showObject = false }: { runs: readonly RunSummary[]; unavailable: string | null; showObject?: boolean }) {
  if (unavailable) return <p className="note">Runs are not shown: {unavailable}.</p>;
  if (runs.length === 0) return <p className="muted">No runs.</p>;
  return (
    <table className="runs">
      <thead>
        <tr>
          {showObject && <th scope="col">Object</th>}
          <th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Workflow</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={`${run.workflowId}/${run.runId}`}>
            {showObject && <td>{run.object ?? 'all'}</td>}
            <td>{run.kind ?? run.workflowType}</td>
            <td><StatusBadge status={run.status} /></td>
            <td>{formatInstant(run.startTime)}</td>
            <td>{formatDurationMs(run.durationMs)}</td>
            <td>{run.url ? <a href={run.url} target="_blank" rel="noreferrer">{run.workflowId}</a> : run.workflowId}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
