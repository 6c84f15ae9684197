import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ServerMetrics } from '../server/metrics.ts';
import { RequestTallies } from '../server/request-tallies.ts';

// The request metrics are counted in plain numbers and handed to prom-client at scrape time
// (server/request-tallies.ts): the exposition must be the text prom-client gives when it observes
// the same requests itself, and the figures the ones computed by hand.

const BOUNDS = [0.001, 0.005, 0.01];
type Observation = [route: string, method: string, status: number, seconds: number];
// A duration on a bound (0.005 falls in le="0.005"), one past the last bound (only in +Inf), a zero,
// and a second series first seen between two observations of the first.
const OBSERVATIONS: Observation[] = [
  ['/v1/streams/:stream/events', 'POST', 200, 0.005],
  ['/v1/streams/:stream/events', 'POST', 400, 0.0002],
  ['/v1/streams/:stream/events', 'POST', 200, 0.25],
  ['/v1/streams/:stream/events', 'POST', 200, 0],
  ['/v1/streams/:stream/events', 'POST', 200, 0.0051],
];

function byPromClient(observations: readonly Observation[]): Registry {
  const registry = new Registry();
  const registers = [registry];
  const counter = new Counter({ name: 'requests_total', help: 'h', labelNames: ['route', 'method', 'status'], registers });
  const histogram = new Histogram({ name: 'duration_seconds', help: 'h', labelNames: ['route', 'method', 'status'], buckets: BOUNDS, registers });
  for (const [route, method, status, seconds] of observations) {
    counter.inc({ route, method, status: String(status) });
    histogram.observe({ route, method, status: String(status) }, seconds);
  }
  return registry;
}

function byTallies(tallies: RequestTallies): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Counter({ name: 'requests_total', help: 'h', labelNames: ['route', 'method', 'status'], registers, collect() { tallies.exportCounts(this); } });
  new Histogram({ name: 'duration_seconds', help: 'h', labelNames: ['route', 'method', 'status'], buckets: BOUNDS, registers, collect() { tallies.exportDurations(this); } });
  return registry;
}

describe('request tallies', () => {
  it("give prom-client's own text for the same requests, at every scrape", async () => {
    const tallies = new RequestTallies(BOUNDS);
    const registry = byTallies(tallies);
    for (const [route, method, status, seconds] of OBSERVATIONS.slice(0, 2)) tallies.observe(route, method, status, seconds);
    expect(await registry.metrics()).toBe(await byPromClient(OBSERVATIONS.slice(0, 2)).metrics());
    for (const [route, method, status, seconds] of OBSERVATIONS.slice(2)) tallies.observe(route, method, status, seconds);
    const text = await registry.metrics();
    expect(text).toBe(await byPromClient(OBSERVATIONS).metrics());

    const series = (status: number) => `route="/v1/streams/:stream/events",method="POST",status="${status}"`;
    expect(text).toContain(`requests_total{${series(200)}} 4\nrequests_total{${series(400)}} 1\n`);
    expect(text).toContain(
      [
        `duration_seconds_bucket{le="0.001",${series(200)}} 1`, // 0
        `duration_seconds_bucket{le="0.005",${series(200)}} 2`, // and 0.005
        `duration_seconds_bucket{le="0.01",${series(200)}} 3`, // and 0.0051
        `duration_seconds_bucket{le="+Inf",${series(200)}} 4`, // and 0.25
        `duration_seconds_sum{${series(200)}} ${0.005 + 0.25 + 0 + 0.0051}`,
        `duration_seconds_count{${series(200)}} 4`,
        `duration_seconds_bucket{le="0.001",${series(400)}} 1`,
      ].join('\n'),
    );
  });

  it('show no request series before the first request', async () => {
    const text = await byTallies(new RequestTallies(BOUNDS)).metrics();
    expect(text).toBe(await byPromClient([]).metrics());
    expect(text).not.toContain('requests_total{');
    expect(text).not.toContain('duration_seconds_bucket');
  });

  it("are what the server's /metrics shows", async () => {
    const metrics = new ServerMetrics();
    metrics.observeRequest('/healthz', 'GET', 200, 0.0004);
    metrics.observeRequest('/healthz', 'GET', 200, 0.03);
    const { text } = await metrics.exposition();
    expect(text).toContain('flywheel_http_requests_total{route="/healthz",method="GET",status="200"} 2\n');
    expect(text).toContain('flywheel_http_request_duration_seconds_bucket{le="0.0005",route="/healthz",method="GET",status="200"} 1\n');
    expect(text).toContain('flywheel_http_request_duration_seconds_bucket{le="0.025",route="/healthz",method="GET",status="200"} 1\n');
    expect(text).toContain('flywheel_http_request_duration_seconds_bucket{le="0.05",route="/healthz",method="GET",status="200"} 2\n');
    expect(text).toContain('flywheel_http_request_duration_seconds_count{route="/healthz",method="GET",status="200"} 2\n');
  });
});
