/** The Feature view page (`/feature-views/:name`): definition, source, ttl, freshness over time, runs, and the skew histogram. */
import { useMemo, type ReactNode } from 'react';
import type { FeatureViewPage as ViewData } from '../../../server/ui/api/feature-view-page.ts';
import { useApi } from '../api.ts';
import { barOption, Chart, timeLineOption } from '../components/Chart.tsx';
import { CodeBlock, Facts, HealthBadge, Loading, Section } from '../components/common.tsx';
import { RunsTable } from '../components/RunsTable.tsx';
import { formatAge, formatCount, formatInstant } from '../format.ts';
import { Link, navigate } from '../router.tsx';

export function FeatureViewPage({ name, feature }: { name: string; feature: string | null }) {
  const path = `/api/feature-views/${encodeURIComponent(name)}${feature ? `?feature=${encodeURIComponent(feature)}` : ''}`;
  const loaded = useApi<ViewData>(path);
  return <Loading loaded={loaded}>{(view) => <FeatureView view={view} />}</Loading>;
}

function FeatureView({ view }: { view: ViewData }) {
  const status = view.status;
  const freshness = useMemo(() => timeLineOption(view.freshness.map((p) => ({ at: p.at, value: p.ageSeconds })), 'watermark age', 'seconds', '#0969da'), [view]);
  const histogram = view.histogram;
  const skew = useMemo(() => histogram && barOption(histogram.bins.map((b) => b.label), [
    { name: 'offline (as of now)', data: histogram.bins.map((b) => b.offline), color: '#0969da' },
    { name: 'online', data: histogram.bins.map((b) => b.online), color: '#bf8700' },
  ], 'entities'), [histogram]);
  return (
    <>
      <h1>Feature view <code>{view.name}</code></h1>
      <Facts items={[
        ['Source', <Link href={view.source.href}>{view.source.name}</Link>],
        ['Entities', view.entities.join(', ')],
        ['Join keys', view.joinKeys.join(', ')],
        ['Features', `${view.features.length}`],
        ['TTL', view.ttlSeconds === null ? 'none' : formatAge(view.ttlSeconds)],
        ['Online', view.online ? 'yes' : 'no (offline only)'],
        ...(status ? [
          ['Freshness', <><HealthBadge health={status.state === 'never' ? 'never' : status.stale ? 'stale' : 'fresh'} /> {status.watermark ? `watermark ${formatInstant(status.watermark)}, ${formatAge(status.ageSeconds)} old` : 'never materialized'}</>] as [string, ReactNode],
          ['Schedule', status.schedule ?? 'on demand'] as [string, ReactNode],
          ['Last materialization', status.finishedAt ? `${status.mode}, ${formatCount(status.rows ?? 0)} rows, ${formatInstant(status.finishedAt)}` : '–'] as [string, ReactNode],
        ] : []),
      ] as [string, ReactNode][]} />
      <Section title="Definition">
        <CodeBlock code={view.typescript} label={`${view.name}, as applied (registry v${view.registryVersion})`} />
      </Section>
      {view.online && (
        <Section title="Online freshness">
          {view.freshness.length > 0
            ? <Chart option={freshness} label={`Watermark age of ${view.name} over time: ${view.freshness.length} points, latest ${formatAge(view.freshness.at(-1)!.ageSeconds)}`} />
            : <p className="muted">No materialization yet.</p>}
        </Section>
      )}
      <Section title="Skew: offline against online">
        {histogram && skew ? (
          <>
            <p>
              <label htmlFor="feature">Feature </label>
              <select id="feature" value={histogram.feature} onChange={(event) => navigate(`/feature-views/${encodeURIComponent(view.name)}?feature=${encodeURIComponent(event.target.value)}`)}>
                {view.features.map((f) => <option key={f.name} value={f.name}>{f.name} ({f.type})</option>)}
              </select>
              {' '}over a sample of <strong data-testid="sample">{formatCount(histogram.sample)}</strong> entities: <strong data-testid="differing">{formatCount(histogram.differing)}</strong> differ online; nulls offline {histogram.nulls.offline}, online {histogram.nulls.online}.
            </p>
            <Chart option={skew} label={`Histogram of ${histogram.feature}: offline as of now against online, ${histogram.sample} entities`} />
          </>
        ) : <p className="muted">{view.histogramUnavailable}</p>}
      </Section>
      <Section title="Materialization runs">
        <RunsTable runs={view.runs} unavailable={view.runsUnavailable} />
      </Section>
    </>
  );
}
