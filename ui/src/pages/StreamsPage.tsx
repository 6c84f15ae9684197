/** The Streams pages: every stream (`/streams`), and one (`/streams/:name`): events per minute, ingestion lag, quarantine, retention. */
import { useMemo } from 'react';
import type { StreamPage as StreamData, StreamsList } from '../../../server/ui/api/streams-page.ts';
import { useApi } from '../api.ts';
import { barOption, Chart, timeLineOption } from '../components/Chart.tsx';
import { CodeBlock, Facts, Loading, Section } from '../components/common.tsx';
import { formatAge, formatCount, formatInstant } from '../format.ts';
import { Link } from '../router.tsx';

export function StreamsListPage() {
  const loaded = useApi<StreamsList>('/api/streams');
  return (
    <Loading loaded={loaded}>
      {(list) => (
        <>
          <h1>Streams</h1>
          <table>
            <thead><tr><th scope="col">Stream</th><th scope="col">From</th><th scope="col">Events</th><th scope="col">Loads</th><th scope="col">Last load</th><th scope="col">Quarantined</th><th scope="col">Retention</th></tr></thead>
            <tbody>
              {list.streams.map((s) => (
                <tr key={s.name} data-stream={s.name}>
                  <td><Link href={`/streams/${encodeURIComponent(s.name)}`}>{s.name}</Link></td><td>{s.origin}</td><td>{formatCount(s.events)}</td><td>{formatCount(s.batches)}</td>
                  <td>{formatInstant(s.lastLoadedAt)}</td><td>{formatCount(s.quarantined)}</td><td>{formatAge(s.retentionSeconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Loading>
  );
}

export function StreamPage({ name }: { name: string }) {
  const loaded = useApi<StreamData>(`/api/streams/${encodeURIComponent(name)}`);
  return <Loading loaded={loaded}>{(stream) => <Stream stream={stream} />}</Loading>;
}

function Stream({ stream }: { stream: StreamData }) {
  const perMinute = useMemo(() => {
    // The minutes from the first with events: a stream that began recently is not drawn as two hours of zeros.
    const first = stream.eventsPerMinute.findIndex((m) => m.events > 0);
    const minutes = first === -1 ? [] : stream.eventsPerMinute.slice(Math.max(0, first - 1));
    return barOption(minutes.map((m) => m.minute.slice(11, 16)), [{ name: 'events', data: minutes.map((m) => m.events), color: '#0969da' }], 'events / minute');
  }, [stream]);
  const lag = useMemo(() => timeLineOption([...stream.loads].reverse().map((l) => ({ at: l.loadedAt, value: l.lagSeconds })), 'ingestion lag', 'seconds', '#bf8700'), [stream]);
  return (
    <>
      <h1>Stream <code>{stream.name}</code></h1>
      <Facts items={[
        ['From', stream.origin],
        ['Table', <code>{stream.table}</code>],
        ['Events', <span data-testid="events">{formatCount(stream.events)}</span>],
        ['Event times', stream.firstEvent ? `${formatInstant(stream.firstEvent)} to ${formatInstant(stream.lastEvent)}` : '–'],
        ['Quarantined', <span data-testid="quarantined">{formatCount(stream.quarantined)}</span>],
        ['Retention', `${formatAge(stream.retention.retentionSeconds)} (events before ${formatInstant(stream.retention.cutoff)}: ${formatCount(stream.retention.expired)}${stream.retention.scheduled ? ', deleted on its own schedule' : ', deleted by the daily sweep'})`],
      ]} />
      <Section title="Events per minute">
        {stream.events > 0 ? <Chart option={perMinute} label={`Events per minute of ${stream.name}, by event time`} /> : <p className="muted">No events loaded.</p>}
      </Section>
      <Section title="Ingestion lag">
        {stream.loads.length > 0 ? (
          <>
            <Chart option={lag} label={`Ingestion lag of the last ${stream.loads.length} loads of ${stream.name}`} />
            <table>
              <thead><tr><th scope="col">Batch</th><th scope="col">Loaded</th><th scope="col">Rows</th><th scope="col">Lag</th></tr></thead>
              <tbody>
                {stream.loads.slice(0, 10).map((l) => (
                  <tr key={l.batch}><td><code>{l.batch}</code></td><td>{formatInstant(l.loadedAt)}</td><td>{formatCount(l.rows)}</td><td>{l.lagSeconds.toFixed(1)}s</td></tr>
                ))}
              </tbody>
            </table>
          </>
        ) : <p className="muted">No loads.</p>}
      </Section>
      <Section title="Quarantine">
        {stream.quarantine.length === 0 ? <p className="muted">No quarantined events.</p> : (
          <table>
            <thead><tr><th scope="col">Batch</th><th scope="col">Event</th><th scope="col">Why</th><th scope="col">Since</th></tr></thead>
            <tbody>
              {stream.quarantine.map((q) => (
                <tr key={`${q.batch}/${q.eventIndex}`}><td><code>{q.batch}</code></td><td>{q.eventIndex}</td><td>{q.error}</td><td>{formatInstant(q.quarantinedAt)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Definition">
        <CodeBlock code={stream.typescript} label={`${stream.name}, as applied (registry v${stream.registryVersion})`} />
      </Section>
      <p><Link href={`/runs?object=${encodeURIComponent(stream.name)}`}>Runs of {stream.name}</Link></p>
    </>
  );
}
