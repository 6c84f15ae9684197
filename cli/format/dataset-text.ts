import type { DatasetManifest, PartitionManifest } from '../../core/training-set/manifest.ts';

const n = (value: number) => value.toLocaleString('en-US');
const pad = (rows: string[][]) => {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
};
const indent = (text: string) => text.split('\n').map((line) => `  ${line}`).join('\n');

/** `flywheel datasets list`: one line per training set. */
export function formatDatasetList(entries: readonly { name: string; uri: string; manifest: DatasetManifest | undefined }[]): string {
  if (entries.length === 0) return 'No training sets are defined.\n';
  const rows = [['TRAINING SET', 'PARTITIONS', 'ROWS', 'FROM', 'TO', 'UPDATED', 'LOCATION']];
  for (const { name, uri, manifest } of entries) {
    rows.push(manifest
      ? [name, `${manifest.partitions.length} (${manifest.partitionBy})`, n(manifest.rowCount), manifest.timeRange.from ?? '-', manifest.timeRange.to ?? '-', manifest.updatedAt, uri]
      : [name, '-', '-', '-', '-', 'not built yet', uri]);
  }
  return `${pad(rows)}\n`;
}

/** Partitions listed by `datasets show` without `--all`: the first and the last few. */
export const FOLDED_PARTITIONS = { head: 5, tail: 5 } as const;

/** A statistic for reading, not for computing: 4 significant digits, no exponent for everyday sizes (`86.99`, `0.06522`, `5148`). */
export function displayNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return n(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e15)) return value.toPrecision(4);
  return Number(value.toPrecision(4)).toLocaleString('en-US', { maximumFractionDigits: 20 });
}

/** `flywheel datasets show`: the schema, the partitions (folded unless `all`) and one partition's column statistics. */
export function formatDataset(name: string, uri: string, manifest: DatasetManifest, partition: PartitionManifest | undefined, options: { all?: boolean } = {}): string {
  const { partitions } = manifest;
  const fold = !options.all && partitions.length > FOLDED_PARTITIONS.head + FOLDED_PARTITIONS.tail + 1;
  const partitionRow = (p: DatasetManifest['partitions'][number]) => [p.key, n(p.rowCount), p.version, `v${p.registryVersion}`];
  const partitionRows = fold
    ? [...partitions.slice(0, FOLDED_PARTITIONS.head).map(partitionRow), [`… ${n(partitions.length - FOLDED_PARTITIONS.head - FOLDED_PARTITIONS.tail)} more (--all lists them)`, '', '', ''], ...partitions.slice(-FOLDED_PARTITIONS.tail).map(partitionRow)]
    : partitions.map(partitionRow);
  const lines = [
    `Training set ${name}: ${n(manifest.rowCount)} rows in ${partitions.length} partitions by ${manifest.partitionBy}, ${manifest.timeRange.from ?? '-'} .. ${manifest.timeRange.to ?? '-'}`,
    `Location: ${uri}`,
    '',
    'Schema:',
    indent(pad(manifest.schema.map((c) => [c.name, c.type]))),
    '',
    pad([['PARTITION', 'ROWS', 'VERSION', 'REGISTRY'], ...partitionRows]),
  ];
  if (partition) {
    lines.push('', `Partition ${partition.partition.key} (version ${partition.version}, ${n(partition.rowCount)} rows, created ${partition.createdAt}):`);
    // Built from a decision log: where each feature's values came from.
    const sourced = Object.values(partition.columnStats).some((s) => s.source !== undefined);
    lines.push(pad([
      ['COLUMN', 'TYPE', 'NULLS', 'MIN', 'MAX', 'MEAN', ...(sourced ? ['FROM LOG', 'FROM JOIN'] : [])],
      ...partition.schema.map((c) => {
        const s = partition.columnStats[c.name];
        const pct = partition.rowCount > 0 && s ? ` (${((s.nulls / partition.rowCount) * 100).toFixed(1)}%)` : '';
        const source = sourced ? (s?.source ? [n(s.source.log), n(s.source.join)] : ['', '']) : [];
        return [c.name, c.type, s ? `${n(s.nulls)}${pct}` : '-', s?.min === undefined ? '' : String(s.min), s?.max === undefined ? '' : String(s.max), s?.mean === undefined ? '' : displayNumber(s.mean), ...source];
      }),
    ]));
    if (partition.spine) {
      const log = partition.spine.decisionLog;
      lines.push('', `Spine: labels ${partition.spine.labels} (${partition.spine.partitions.map((p) => `${p.key} v${p.version}`).join(', ') || 'no partition in range'})${log ? `; features from the decision log ${log.stream}: ${log.features.join(', ')}` : ''}`);
    }
    lines.push('', 'Feature views:', indent(pad(partition.featureViews.map((v) => [v.name, v.definitionHash.slice(0, 12), `watermark ${partition.sourceWatermarks[v.name] ?? '-'}`]))));
  }
  return `${lines.join('\n')}\n`;
}
