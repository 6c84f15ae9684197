import type { RunConsistency } from '../../activities/training-set.ts';
import type { ColumnSource, ConsistencyReport, FeatureConsistency } from '../../core/training-set/consistency.ts';

/**
 * The skew summary of a training set built from a decision log (docs/training-from-logs.md): per
 * feature, how many values came from the log and from the join, and for the logged ones how many
 * differ from the recomputed value and by how much. Printed by `flywheel run training-set` (the run's
 * partitions) and `flywheel datasets show` (every published partition, from `_consistency.json`).
 */

const n = (value: number) => value.toLocaleString('en-US');
const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
const num = (value: number) => String(Number(value.toPrecision(4)));

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

/** One line per feature: its sources, then the comparison when the log held it. */
export function skewTable(sources: Readonly<Record<string, ColumnSource>>, features: Readonly<Record<string, FeatureConsistency>>): string[] {
  const rows = [['FEATURE', 'FROM LOG', 'FROM JOIN', 'DIFFERING', 'NULL VS VALUE', 'MEAN |DIFF|', 'MAX |DIFF|', 'MAX REL']];
  const names = [...Object.keys(sources), ...Object.keys(features).filter((name) => !(name in sources))];
  for (const name of names) {
    const source = sources[name] ?? features[name]?.source ?? { log: 0, join: 0 };
    const f = features[name];
    if (!f || f.compared === 0) {
      rows.push([name, n(source.log), n(source.join), f ? 'nothing compared' : 'not in the log', '', '', '', '']);
      continue;
    }
    rows.push([
      name, n(source.log), n(source.join),
      `${n(f.differing)} of ${n(f.compared)} (${pct(f.differingShare ?? 0)})`,
      n(f.nullMismatches),
      f.absoluteDifference ? num(f.absoluteDifference.mean) : '',
      f.absoluteDifference ? num(f.absoluteDifference.max) : '',
      f.relativeDifference ? pct(f.relativeDifference.max) : '',
    ]);
  }
  return pad(rows);
}

/** After `flywheel run training-set`: the run's partitions. */
export function formatRunConsistency(consistency: RunConsistency): string {
  return [
    `  from the decision log ${consistency.decisionStream}: ${n(consistency.rowsWithLog)} of ${n(consistency.rows)} rows have their decision in the log; logged values against recomputed ones:`,
    ...skewTable(consistency.sources, consistency.features).map((line) => `    ${line}`),
    `  consistency: ${consistency.reportUri}`,
    '',
  ].join('\n');
}

/** In `flywheel datasets show`: every published partition built from the log. */
export function formatConsistencyReport(report: ConsistencyReport, sources: Readonly<Record<string, ColumnSource>> | undefined): string {
  const floats = Object.entries(report.tolerance.relative).map(([type, tolerance]) => `${type} ${tolerance.toExponential()}`).join(', ');
  return [
    `Consistency (${report.partitions.length} partition${report.partitions.length === 1 ? '' : 's'} built from the decision log ${report.decisionStream} of ${report.service}, labels ${report.labels}):`,
    `  ${n(report.rowsWithLog)} of ${n(report.rows)} rows have their decision in the log; floats equal within a relative ${floats}, other types exactly`,
    ...skewTable(sources ?? Object.fromEntries(Object.entries(report.features).map(([name, f]) => [name, f.source])), report.features).map((line) => `  ${line}`),
    '',
  ].join('\n');
}
