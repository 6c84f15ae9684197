/** The Labels page (`/labels/:name`): partitions open, matured or rebuilt late; the positive rate over time; how long outcomes take. */
import { useMemo } from 'react';
import type { LabelsPage as LabelsData } from '../../../server/ui/api/labels-page.ts';
import { useApi } from '../api.ts';
import { barOption, Chart, timeLineOption } from '../components/Chart.tsx';
import { CodeBlock, Facts, Loading, Section } from '../components/common.tsx';
import { formatAge, formatCount, formatInstant, formatShare } from '../format.ts';
import { Link } from '../router.tsx';

export function LabelsPage({ name }: { name: string }) {
  const loaded = useApi<LabelsData>(`/api/labels/${encodeURIComponent(name)}`);
  return <Loading loaded={loaded}>{(labels) => <Labels labels={labels} />}</Loading>;
}

function Labels({ labels }: { labels: LabelsData }) {
  const dataset = labels.dataset;
  const rate = useMemo(() => dataset && timeLineOption(dataset.partitions.filter((p) => p.positiveRate !== null && p.start !== null).map((p) => ({ at: p.start!, value: p.positiveRate! })), 'positive rate', 'positive rate', '#1a7f37'), [dataset]);
  const delays = labels.delays;
  const delayChart = useMemo(() => delays && barOption(delays.bins.map((b) => b.label), [{ name: 'rows', data: delays.bins.map((b) => b.rows), color: '#8250df' }], 'rows'), [delays]);
  return (
    <>
      <h1>Labels <code>{labels.name}</code></h1>
      <Facts items={[
        ['Decisions', <Link href={`/streams/${encodeURIComponent(labels.decisions)}`}>{labels.decisions}</Link>],
        ['Outcomes', <Link href={`/streams/${encodeURIComponent(labels.outcomes)}`}>{labels.outcomes}</Link>],
        ['Window', formatAge(labels.windowSeconds)],
        ['Rows', dataset ? <span data-testid="rows">{formatCount(dataset.rowCount)}</span> : 'not built yet'],
        ['Positives', dataset ? <span data-testid="positives">{formatCount(dataset.positives)}</span> : '–'],
        ['Partitions', dataset ? `${dataset.states.open} open, ${dataset.states.matured} matured, ${dataset.states['late-rebuilt']} rebuilt late` : '–'],
      ]} />
      {dataset && (
        <>
          <Section title="Partitions">
            <table>
              <thead><tr><th scope="col">Partition</th><th scope="col">State</th><th scope="col">Version</th><th scope="col">Rows</th><th scope="col">Positives</th><th scope="col">Rate</th><th scope="col">Why built</th><th scope="col">As of</th></tr></thead>
              <tbody>
                {dataset.partitions.map((p) => (
                  <tr key={p.key} data-partition={p.key}>
                    <td><code>{p.key}</code></td><td>{p.state}</td><td>{p.version}</td><td>{formatCount(p.rows)}</td><td>{formatCount(p.positives)}</td><td>{formatShare(p.positiveRate)}</td><td>{p.reason}</td><td>{formatInstant(p.asOf)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
          {rate && <Section title="Positive rate over time"><Chart option={rate} label={`Positive rate per partition of ${labels.name}`} /></Section>}
        </>
      )}
      {delays && delayChart && (
        <Section title="Outcome delay">
          <p>{formatCount(delays.rows)} labeled rows with an outcome, in the newest {delays.partitions} partitions: the time from the decision to its first outcome.</p>
          <Chart option={delayChart} label={`Outcome delay distribution of ${labels.name}: ${delays.rows} rows`} />
        </Section>
      )}
      <Section title="Definition">
        <CodeBlock code={labels.typescript} label={`${labels.name}, as applied (registry v${labels.registryVersion})`} />
      </Section>
      <p><Link href={`/runs?object=${encodeURIComponent(labels.name)}`}>Runs of {labels.name}</Link></p>
    </>
  );
}
