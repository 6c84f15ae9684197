/** The Runs and Definition pages. */
import type { DefinitionPage as DefinitionData, RunsPage as RunsData } from '../../../server/ui/api/other-pages.ts';
import { useApi } from '../api.ts';
import { CodeBlock, Loading, Section } from '../components/common.tsx';
import { RunsTable } from '../components/RunsTable.tsx';
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
