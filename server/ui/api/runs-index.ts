import type { RunSummary } from '../temporal-runs.ts';
import type { UiSources } from '../ui-sources.ts';

/** The most runs one page asks Temporal for: enough for every object's latest run in a busy project, bounded in cost. */
export const RUNS_PER_PAGE = 500;

/** The project's recent runs, newest first; empty (with why) when Temporal is not there. */
export async function recentRuns(sources: UiSources, query: { kind?: string; object?: string; limit?: number } = {}): Promise<{ runs: RunSummary[]; unavailable: string | null }> {
  if (!sources.runs) return { runs: [], unavailable: sources.runsUnavailable ?? 'Temporal is not connected' };
  try {
    return { runs: await sources.runs.list(sources.project, { ...query, limit: query.limit ?? RUNS_PER_PAGE }), unavailable: null };
  } catch (error) {
    return { runs: [], unavailable: `Temporal's visibility did not answer: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
}

/** The newest run per `<kind>/<object>` (runs come newest first). */
export function latestRunByObject(runs: readonly RunSummary[]): Map<string, RunSummary> {
  const latest = new Map<string, RunSummary>();
  for (const run of runs) {
    if (run.kind === null || run.object === null) continue;
    const key = `${run.kind}/${run.object}`;
    if (!latest.has(key)) latest.set(key, run);
  }
  return latest;
}
