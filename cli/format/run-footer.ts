import type { TemporalConfig } from '../../core/config.ts';

/**
 * The Temporal Web UI page of a run: the profile's `temporal.webUrl`, else the dev server's UI for a
 * local address (`flywheel dev`: http://localhost:8233) or Temporal Cloud's for a `*.tmprl.cloud`
 * address; undefined when the UI's address cannot be known.
 */
export function temporalRunUrl(temporal: Pick<TemporalConfig, 'address' | 'namespace' | 'webUrl'>, workflowId: string): string | undefined {
  const host = temporal.address.replace(/:\d+$/, '');
  const base =
    temporal.webUrl?.replace(/\/+$/, '') ??
    (['localhost', '127.0.0.1', '::1', '[::1]'].includes(host) ? 'http://localhost:8233' : host.endsWith('.tmprl.cloud') ? 'https://cloud.temporal.io' : undefined);
  return base === undefined ? undefined : `${base}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** `12.3 s`, `4 min 05 s`, `1 h 02 min`: how long a run took, for people. */
export function formatElapsed(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/** The last line of a run's summary: how long it took, and where to see it in the Temporal UI. */
export function runFooter(temporal: Pick<TemporalConfig, 'address' | 'namespace' | 'webUrl'>, workflowId: string, elapsedMs: number): string {
  const url = temporalRunUrl(temporal, workflowId);
  return `  took ${formatElapsed(elapsedMs)}${url ? `; in the Temporal UI: ${url}` : `; workflow ${workflowId}`}\n`;
}
