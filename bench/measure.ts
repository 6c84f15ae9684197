/** Small helpers shared by benchmarks: median of repeated timings, a printed report, a timed POST and percentiles. */
import type { Agent} from 'node:http';
import { request as httpRequest } from 'node:http';

export async function medianMs(runs: number, work: () => Promise<unknown>): Promise<{ medianMs: number; samplesMs: number[] }> {
  const samplesMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    samplesMs.push(performance.now() - start);
  }
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)]!, samplesMs };
}

/**
 * Times `subject` and `baseline` alternately (after one untimed warm-up of each), so drift in the
 * machine's load hits both alike; returns each one's median.
 */
export async function compareMs(runs: number, subject: () => Promise<unknown>, baseline: () => Promise<unknown>): Promise<{ subjectMs: number; baselineMs: number }> {
  await subject();
  await baseline();
  const s: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    s.push((await medianMs(1, subject)).medianMs);
    b.push((await medianMs(1, baseline)).medianMs);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return { subjectMs: median(s), baselineMs: median(b) };
}

export interface BenchResult {
  readonly name: string;
  readonly subject: { readonly label: string; readonly medianMs: number };
  readonly baseline: { readonly label: string; readonly medianMs: number };
  readonly details: Readonly<Record<string, string | number>>;
}

export function report(result: BenchResult): void {
  const ratio = result.subject.medianMs / result.baseline.medianMs;
  process.stdout.write(
    `\n${result.name}\n` +
      Object.entries(result.details).map(([k, v]) => `  ${k}: ${v}\n`).join('') +
      `  ${result.subject.label}: ${result.subject.medianMs.toFixed(0)} ms (median)\n` +
      `  ${result.baseline.label} (baseline): ${result.baseline.medianMs.toFixed(0)} ms (median)\n` +
      `  ratio: ${ratio.toFixed(2)}x the baseline\n`,
  );
}

/** One POST with a bearer token over `agent`, timed from the request's start to the answer's last byte. */
export function timedPost(agent: Agent, url: URL, token: string, body: string): Promise<{ ms: number; status: number; text: () => string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = httpRequest(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ ms: performance.now() - start, status: res.statusCode ?? 0, text: () => Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The p-th percentile (nearest rank) of ascending samples. */
export const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
