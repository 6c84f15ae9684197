/** The Runs, Plan and Definition pages. */
import type { PlanDocument } from '../../../core/plan/plan.ts';
import type { DefinitionPage as DefinitionData, RunsPage as RunsData } from '../../../server/ui/api/other-pages.ts';
import { useApi } from '../api.ts';
import { CodeBlock, Loading, Section } from '../components/common.tsx';
import { RunsTable } from '../components/RunsTable.tsx';
import { formatInstant } from '../format.ts';
import { Link } from '../router.tsx';

export function RunsPage({ kind, object }: { kind: string | null; object: string | null }) {
  const query = new URLSearchParams({ ...(kind ? { kind } : {}), ...(object ? { object } : {}) }).toString();
  const loaded = useApi<RunsData>(`/api/runs${query ? `?${query}` : ''}`);
  return (
    <Loading loaded={loaded}>
      {(runs) => (
        <>
          <h1>Runs{object ? <> of <code>{object}</code></> : ''}{kind ? ` (${kind})` : ''}</h1>
          <p className="lead">
            The {runs.runs.length} most recent workflow runs of {runs.project}, newest first{runs.temporalUi ? <>; each opens in the <a href={runs.temporalUi} target="_blank" rel="noreferrer">Temporal UI</a></> : ''}.
            {(kind || object) && <> <Link href="/runs">All runs</Link></>}
          </p>
          <RunsTable runs={runs.runs} unavailable={runs.unavailable} showObject />
        </>
      )}
    </Loading>
  );
}

const ACTION_WORDS = { add: 'add', change: 'change', remove: 'remove' } as const;

export function PlanPage() {
  const loaded = useApi<PlanDocument>('/api/plan');
  return (
    <Loading loaded={loaded}>
      {(plan) => (
        <>
          <h1>Plan</h1>
          <p className="lead">
            What <code>flywheel apply</code> would change: the definitions folder now against {plan.applied ? `registry v${plan.applied.version} (applied ${formatInstant(plan.applied.appliedAt)})` : 'nothing applied yet'}.
            Read-only: apply from the command line.
          </p>
          <p data-testid="plan-summary">
            {plan.hasChanges ? `${plan.summary.add} to add, ${plan.summary.change} to change, ${plan.summary.remove} to remove${plan.summary.breaking > 0 ? `, ${plan.summary.breaking} breaking` : ''}.` : 'No changes: the applied version matches the definitions.'}
          </p>
          {plan.changes.length > 0 && (
            <Section title="Changes">
              <table>
                <thead><tr><th scope="col">Action</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Breaking</th><th scope="col">Fields and reasons</th></tr></thead>
                <tbody>
                  {plan.changes.map((change) => (
                    <tr key={`${change.kind}/${change.name}`} className={`plan-${change.action}`}>
                      <td>{ACTION_WORDS[change.action]}</td><td>{change.kind}</td><td><code>{change.name}</code></td><td>{change.breaking ? 'yes' : 'no'}</td>
                      <td>
                        {change.fields?.map((field) => (
                          <div key={field.path}><code>{field.path}</code>: {'before' in field ? <del>{JSON.stringify(field.before)}</del> : ''} {'after' in field ? <ins>{JSON.stringify(field.after)}</ins> : ''}</div>
                        ))}
                        {change.reasons.map((reason) => <div key={reason}>{reason}</div>)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
          )}
        </>
      )}
    </Loading>
  );
}

export function DefinitionPage({ kind, name }: { kind: string; name: string }) {
  const loaded = useApi<DefinitionData>(`/api/definitions/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`);
  return (
    <Loading loaded={loaded}>
      {(definition) => (
        <>
          <h1>{definition.kind} <code>{definition.name}</code></h1>
          <Section title="Definition">
            <CodeBlock code={definition.typescript} label={`${definition.name}, as applied (registry v${definition.registryVersion})`} />
          </Section>
          <p><Link href={`/runs?object=${encodeURIComponent(definition.name)}`}>Runs of {definition.name}</Link></p>
        </>
      )}
    </Loading>
  );
}

export function NotFoundPage({ path }: { path: string }) {
  return (
    <>
      <h1>Not found</h1>
      <p>No page at <code>{path}</code>. <Link href="/">Back to the loop</Link>.</p>
    </>
  );
}
