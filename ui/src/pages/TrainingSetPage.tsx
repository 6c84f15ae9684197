/** The Training set page (`/training-sets/:name`): versions, partitions, columns with provenance, the consistency report, and code that reads this version. */
import { useMemo } from 'react';
import type { TrainingSetPage as SetData } from '../../../server/ui/api/training-set-page.ts';
import { useApi } from '../api.ts';
import { Chart, type ChartOption } from '../components/Chart.tsx';
import { CodeBlock, Facts, Loading, Section } from '../components/common.tsx';
import { formatBytes, formatCount, formatInstant, formatShare } from '../format.ts';
import { Link } from '../router.tsx';

export function TrainingSetPage({ name, version }: { name: string; version: string | null }) {
  const loaded = useApi<SetData>(`/api/training-sets/${encodeURIComponent(name)}${version ? `?version=${encodeURIComponent(version)}` : ''}`);
  return <Loading loaded={loaded}>{(set) => <TrainingSet set={set} />}</Loading>;
}

const SERIES_COLORS = ['#0969da', '#bf8700', '#1a7f37', '#8250df', '#cf222e', '#57606a', '#1b7c83', '#953800'];

function TrainingSet({ set }: { set: SetData }) {
  const dataset = set.dataset;
  const consistency = set.consistency;
  const chart = useMemo((): ChartOption | null => {
    if (!consistency) return null;
    const keys = consistency.partitions.map((p) => p.key);
    return {
      tooltip: { trigger: 'axis', valueFormatter: (v: number) => `${(v * 100).toFixed(2)}%` },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 56, right: 16, top: 64, bottom: 56 },
      xAxis: { type: 'category', data: keys, axisLabel: { color: '#24292f' } },
      yAxis: { type: 'value', name: 'differing share', axisLabel: { color: '#24292f', formatter: (v: number) => `${(v * 100).toFixed(0)}%` } },
      series: consistency.features.map((feature, i) => ({
        type: 'bar', name: feature.name, itemStyle: { color: SERIES_COLORS[i % SERIES_COLORS.length] },
        data: consistency.partitions.map((p) => p.features[feature.name]?.differingShare ?? 0),
      })),
    };
  }, [consistency]);
  return (
    <>
      <h1>Training set <code>{set.name}</code></h1>
      <Facts items={[
        ['Spine', set.spine],
        ['Location', <code>{set.uri}</code>],
        ['Rows', dataset ? <span data-testid="rows">{formatCount(dataset.rowCount)}</span> : 'not built yet'],
        ['Size', dataset ? formatBytes(dataset.bytes) : '–'],
        ['Partitioned by', dataset?.partitionBy ?? '–'],
        ['Updated', dataset ? formatInstant(dataset.updatedAt) : '–'],
      ]} />
      {dataset && (
        <>
          <Section title="Versions">
            <table>
              <thead><tr><th scope="col">Version (run)</th><th scope="col">Written</th><th scope="col">Registry</th><th scope="col">Partitions</th><th scope="col">Rows</th><th scope="col">Read it</th></tr></thead>
              <tbody>
                {dataset.versions.map((v) => (
                  <tr key={v.version}>
                    <td><code>{v.version}</code></td><td>{formatInstant(v.createdAt)}</td><td>v{v.registryVersion}</td><td>{v.partitions}</td><td>{formatCount(v.rows)}</td>
                    <td><Link href={`/training-sets/${encodeURIComponent(set.name)}?version=${encodeURIComponent(v.version)}`}>snippet</Link></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
          <Section title="Partitions">
            <table>
              <thead><tr><th scope="col">Partition</th><th scope="col">Rows</th><th scope="col">Size</th><th scope="col">Files</th><th scope="col">Version</th></tr></thead>
              <tbody>
                {dataset.partitions.map((p) => (
                  <tr key={p.key} data-partition={p.key}>
                    <td><code>{p.key}</code></td><td>{formatCount(p.rows)}</td><td>{formatBytes(p.bytes)}</td><td>{p.files ?? '–'}</td><td><code>{p.version}</code></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
          <Section title="Columns">
            <table>
              <thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col">Provenance</th><th scope="col">Rows from the log</th><th scope="col">Rows recomputed</th></tr></thead>
              <tbody>
                {dataset.columns.map((c) => (
                  <tr key={c.name}><td><code>{c.name}</code></td><td>{c.type}</td><td>{c.provenance}</td><td>{c.log === null ? '–' : formatCount(c.log)}</td><td>{c.join === null ? '–' : formatCount(c.join)}</td></tr>
                ))}
              </tbody>
            </table>
          </Section>
        </>
      )}
      {consistency && chart && (
        <Section title="Consistency: logged against recomputed">
          <p>{formatCount(consistency.rowsWithLog)} of {formatCount(consistency.rows)} rows have their decision in the log; per feature, the share of those where the logged value differs from the recomputed one.</p>
          <Chart option={chart} label={`Differing share per feature over ${consistency.partitions.length} partitions`} />
          <table>
            <thead><tr><th scope="col">Feature</th><th scope="col">Compared</th><th scope="col">Differing</th><th scope="col">Share</th></tr></thead>
            <tbody>
              {consistency.features.map((f) => (
                <tr key={f.name}><td><code>{f.name}</code></td><td>{formatCount(f.compared)}</td><td>{formatCount(f.differing)}</td><td>{formatShare(f.differingShare)}</td></tr>
              ))}
            </tbody>
          </table>
        </Section>
      )}
      <Section title={`Read ${set.snippetVersion === 'current' ? 'the published version' : `version ${set.snippetVersion}`}`}>
        <CodeBlock code={set.snippets.python} label="Python (pandas, polars)" />
        <CodeBlock code={set.snippets.typescript} label="TypeScript (DuckDB)" />
      </Section>
      <Section title="Definition">
        <CodeBlock code={set.typescript} label={`${set.name}, as applied (registry v${set.registryVersion})`} />
      </Section>
      <p><Link href={`/runs?object=${encodeURIComponent(set.name)}`}>Runs of {set.name}</Link></p>
    </>
  );
}
