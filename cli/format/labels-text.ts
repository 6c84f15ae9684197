import type { LabelDatasetManifest, LabelPartitionManifest } from '../../core/labels/manifest.ts';
import type { BuildLabelsResult } from '../../workflows/build-labels.ts';

const n = (value: number) => value.toLocaleString('en-US');
const plural = (value: number, word: string) => `${n(value)} ${word}${value === 1 ? '' : 's'}`;
const pad = (rows: string[][]) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
};

/**
 * What `flywheel labels build` prints: a summary line, then each partition built, rebuilt, left
 * open or failed with its reason (up-to-date ones are counted only).
 *
 *   Labels clicked as of 2024-03-05T00:00:00.000Z (registry v3): 1 built, 1 rebuilt, 4 up to date, 1 open.
 *     day=2024-03-02  v2  rebuilt  120 rows, 14 positive  late outcomes: 3 outcomes loaded after version 1
 */
export function formatLabelsResult(result: BuildLabelsResult): string {
  const head = `Labels ${result.labels} as of ${result.asOf} (registry v${result.registryVersion})`;
  if (result.upToDateRun) {
    const open = result.open > 0 ? `; ${result.open} still open` : '';
    return `${head}: up to date (${result.upToDate} partition${result.upToDate === 1 ? '' : 's'}${open}); nothing was written.\n`;
  }
  const counts = [
    `${result.built} built`, `${result.rebuilt} rebuilt`, `${result.upToDate} up to date`,
    ...(result.open > 0 ? [`${result.open} open`] : []), ...(result.failed > 0 ? [`${result.failed} failed`] : []),
  ];
  const shown = result.partitions.filter((p) => p.action !== 'up-to-date');
  const rows = shown.map((p) => [
    `  ${p.key}`, p.version !== undefined ? `v${p.version}` : '', p.action,
    p.rowCount !== undefined ? `${plural(p.rowCount, 'row')}, ${n(p.positives ?? 0)} positive` : '', p.reason,
  ]);
  const lines = [`${head}: ${counts.join(', ')}.`, ...(rows.length > 0 ? [pad(rows)] : [])];
  if (result.datasetUri) lines.push(`  dataset:  ${result.datasetUri}`, `  manifest: ${result.manifestUri}`);
  return `${lines.join('\n')}\n`;
}

/** `flywheel labels list`: one line per labels dataset. */
export function formatLabelsList(entries: readonly { name: string; uri: string; manifest: LabelDatasetManifest | undefined }[]): string {
  if (entries.length === 0) return 'No labels are defined.\n';
  const rows = [['LABELS', 'PARTITIONS', 'ROWS', 'POSITIVES', 'FROM', 'TO', 'UPDATED', 'LOCATION']];
  for (const { name, uri, manifest } of entries) {
    rows.push(manifest
      ? [name, `${manifest.partitions.length} (${manifest.partitionBy})`, n(manifest.rowCount), n(manifest.positives), manifest.timeRange.from ?? '-', manifest.timeRange.to ?? '-', manifest.updatedAt, uri]
      : [name, '-', '-', '-', '-', '-', 'not built yet', uri]);
  }
  return `${pad(rows)}\n`;
}

/** `flywheel labels show`: the schema, every partition with its version and why it was built, one partition's details. */
export function formatLabelsDataset(name: string, uri: string, manifest: LabelDatasetManifest, partition: LabelPartitionManifest | undefined): string {
  const lines = [
    `Labels ${name}: ${n(manifest.rowCount)} rows (${n(manifest.positives)} with an outcome) in ${manifest.partitions.length} partitions by ${manifest.partitionBy}, ${manifest.timeRange.from ?? '-'} .. ${manifest.timeRange.to ?? '-'}`,
    `Location: ${uri}`,
    '',
    'Schema:',
    ...manifest.schema.map((c) => `  ${c.name}  ${c.type}`),
    '',
    pad([
      ['PARTITION', 'VERSION', 'ROWS', 'POSITIVES', 'COMPLETE', 'AS OF', 'REASON'],
      ...manifest.partitions.map((p) => [p.key, `v${p.version}`, n(p.rowCount), n(p.positives), p.complete ? 'yes' : 'no', p.asOf, p.reason]),
    ]),
  ];
  if (partition) {
    lines.push(
      '',
      `Partition ${partition.partition.key}: version ${partition.version} (build ${partition.build}, created ${partition.createdAt}, registry v${partition.registryVersion})`,
      `  reason: ${partition.reason}`,
      `  as of ${partition.asOf}; ${partition.complete ? 'complete' : 'open: only the decisions mature then are labeled'}`,
      `  watermarks: decisions ${partition.watermarks.decisions ?? '-'}, outcomes ${partition.watermarks.outcomes ?? '-'}`,
      ...(partition.previous ? [`  replaced version ${partition.previous.version} (build ${partition.previous.build}, created ${partition.previous.createdAt})`] : []),
      `  ${n(partition.rowCount)} rows, ${n(partition.positives)} with an outcome`,
    );
  }
  return `${lines.join('\n')}\n`;
}
