/**
 * The Flywheel UI (docs/ui.md): a header with the project and its pages, then the page the address
 * names. Every page reads the read-only API under /api/ (server/ui/ui-app.ts). The Loop page is part
 * of this chunk, drawn first; every other page is loaded when first opened, so the first render
 * never waits for ECharts (theirs alone).
 */
import { lazy, StrictMode, Suspense, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import type { ProjectOverview } from '../../server/ui/api/other-pages.ts';
import { useApi } from './api.ts';
import { LoopPage } from './pages/LoopPage.tsx';
import { Link, match, useLocation } from './router.tsx';

const FeatureViewPage = lazy(() => import('./pages/FeatureViewPage.tsx').then((m) => ({ default: m.FeatureViewPage })));
const TrainingSetPage = lazy(() => import('./pages/TrainingSetPage.tsx').then((m) => ({ default: m.TrainingSetPage })));
const LabelsPage = lazy(() => import('./pages/LabelsPage.tsx').then((m) => ({ default: m.LabelsPage })));
const StreamsListPage = lazy(() => import('./pages/StreamsPage.tsx').then((m) => ({ default: m.StreamsListPage })));
const StreamPage = lazy(() => import('./pages/StreamsPage.tsx').then((m) => ({ default: m.StreamPage })));
const RunsPage = lazy(() => import('./pages/OtherPages.tsx').then((m) => ({ default: m.RunsPage })));
const DefinitionPage = lazy(() => import('./pages/OtherPages.tsx').then((m) => ({ default: m.DefinitionPage })));
const NotFoundPage = lazy(() => import('./pages/OtherPages.tsx').then((m) => ({ default: m.NotFoundPage })));
const PlanPage = lazy(() => import('./pages/PlanPage.tsx').then((m) => ({ default: m.PlanPage })));

function Page({ path, query }: { path: string; query: URLSearchParams }) {
  let params: Record<string, string> | undefined;
  if (path === '/' || path === '/loop') return <LoopPage />;
  if ((params = match('/feature-views/:name', path))) return <FeatureViewPage name={params.name!} feature={query.get('feature')} />;
  if ((params = match('/training-sets/:name', path))) return <TrainingSetPage name={params.name!} version={query.get('version')} />;
  if ((params = match('/labels/:name', path))) return <LabelsPage name={params.name!} />;
  if (path === '/streams') return <StreamsListPage />;
  if ((params = match('/streams/:name', path))) return <StreamPage name={params.name!} />;
  if (path === '/runs') return <RunsPage kind={query.get('kind')} object={query.get('object')} />;
  if (path === '/plan') return <PlanPage />;
  if ((params = match('/definitions/:kind/:name', path))) return <DefinitionPage kind={params.kind!} name={params.name!} />;
  return <NotFoundPage path={path} />;
}

/** The title of each page, for the tab and for screen readers announcing the navigation. */
function titleOf(path: string): string {
  const [, first, name] = path.split('/');
  const words: Record<string, string> = { 'feature-views': 'Feature view', 'training-sets': 'Training set', labels: 'Labels', streams: 'Streams', runs: 'Runs', plan: 'Plan', definitions: 'Definition' };
  if (!first || first === 'loop') return 'Loop';
  return `${words[first] ?? 'Flywheel'}${name ? ` ${decodeURIComponent(path.split('/').at(-1)!)}` : ''}`;
}

function App() {
  const { path, query } = useLocation();
  const project = useApi<ProjectOverview>('/api/project');
  const name = project.state === 'done' ? project.data.project : undefined;
  useEffect(() => {
    document.title = `${titleOf(path)} · ${name ?? 'Flywheel'}`;
  }, [path, name]);
  const section = path.split('/')[1] ?? '';
  const current = (prefix: string) => (prefix === section || (prefix === '' && section === 'loop') ? 'page' : undefined);
  return (
    <>
      <a className="skip" href="#main">Skip to the page</a>
      <header>
        <Link href="/" className="brand">Flywheel{name ? <span> · {name}</span> : null}</Link>
        <nav aria-label="Pages">
          <Link href="/" aria-current={current('')}>Loop</Link>
          <Link href="/streams" aria-current={current('streams')}>Streams</Link>
          <Link href="/runs" aria-current={current('runs')}>Runs</Link>
          <Link href="/plan" aria-current={current('plan')}>Plan</Link>
          {project.state === 'done' && project.data.temporalUi && <a href={project.data.temporalUi} target="_blank" rel="noreferrer">Temporal UI</a>}
        </nav>
      </header>
      <main id="main">
        <Suspense fallback={<p className="muted" role="status">Loading…</p>}>
          <Page key={`${path}?${query.toString()}`} path={path} query={query} />
        </Suspense>
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
