import { formatAge, type ViewMaterializationStatus } from '../../core/materialization/status.ts';

/**
 * How `flywheel status` prints for people: one line per online feature view, in columns.
 *
 *   Project "demo", registry version 3, at 2024-05-01T12:30:00.000Z:
 *
 *     feature view   schedule    watermark                 age     rows    state
 *     user_spend     every 1h    2024-05-01T12:00:00.000Z  30m     4,210   fresh
 *     user_windows   every 15m   2024-05-01T11:00:00.000Z  1h 30m  118     stale
 *     user_static    -           -                         -       -       never materialized
 *
 *   1 of 3 online feature views fresh, 2 stale.
 *
 *   Events in quarantine, refused by the warehouse (flywheel streams quarantine <stream>):
 *     clicks  3
 *
 * The quarantine lines appear only when a stream has events there.
 */
export function formatStatusText(document: {
  readonly project: string;
  readonly registryVersion: number | null;
  readonly now: string;
  readonly featureViews: readonly ViewMaterializationStatus[];
  readonly streams?: readonly { readonly stream: string; readonly quarantined: number }[];
}): string {
  if (document.registryVersion === null) return `Nothing has been applied to project "${document.project}" yet; run flywheel apply.\n`;
  const head = `Project "${document.project}", registry version ${document.registryVersion}, at ${document.now}:`;
  const quarantine = quarantineText(document.streams ?? []);
  if (document.featureViews.length === 0) return `${head}\n\nNo online feature views.\n${quarantine}`;
  const rows = document.featureViews.map((s) => [
    s.view,
    s.schedule === null ? '-' : `${s.schedule}${s.paused ? ' (paused)' : ''}`,
    s.watermark ?? '-',
    s.ageSeconds === null ? '-' : formatAge(s.ageSeconds),
    s.rows === null ? '-' : s.rows.toLocaleString('en-US'),
    stateText(s),
  ]);
  const header = ['feature view', 'schedule', 'watermark', 'age', 'rows', 'state'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => `  ${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  const stale = document.featureViews.filter((s) => s.stale).length;
  const fresh = document.featureViews.filter((s) => s.state === 'fresh').length;
  const total = document.featureViews.length;
  const summary = `${fresh} of ${total} online feature view${total === 1 ? '' : 's'} fresh, ${stale} stale.`;
  // A view never materialized serves nulls: say how to fill it rather than leave "stale" to decode.
  const never = document.featureViews.filter((s) => s.state === 'never').map((s) => s.view);
  const hint = never.length === 0 ? [] : [
    `${never.length === 1 ? `${never[0]} has` : `${never.length} views have`} no values online yet (served as missing): run \`flywheel materialize ${never.length === 1 ? never[0] : '<view>'}\`${never.length === total ? ', or `flywheel loop run` for all of them' : ''}.`,
  ];
  return `${[head, '', line(header), ...rows.map(line), '', summary, ...hint].join('\n')}\n${quarantine}`;
}

/** The streams with quarantined events, one line each (nothing when there are none). */
function quarantineText(streams: readonly { readonly stream: string; readonly quarantined: number }[]): string {
  const waiting = streams.filter((s) => s.quarantined > 0);
  if (waiting.length === 0) return '';
  const width = Math.max(...waiting.map((s) => s.stream.length));
  return `\nEvents in quarantine, refused by the warehouse (flywheel streams quarantine <stream>):\n${waiting.map((s) => `  ${s.stream.padEnd(width)}  ${s.quarantined.toLocaleString('en-US')}`).join('\n')}\n`;
}

function stateText(status: ViewMaterializationStatus): string {
  const base = status.state === 'never' ? 'never materialized (stale)' : status.state === 'unscheduled' ? 'not scheduled' : status.state;
  return status.definitionChanged ? `${base}; definition changed, next run is full` : base;
}
