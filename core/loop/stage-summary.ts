import type { LoopStageKind } from './plan-loop.ts';

/**
 * One line about what a stage's child workflow did, from its result, for the loop's result and the
 * CLI: the loop keeps this line and the child's id, never the child's whole result (which the Temporal
 * UI shows under the child). Pure; reads only the fields it knows and ignores the rest, so a result
 * that grows new fields still summarizes.
 */
export function summarizeStageResult(kind: LoopStageKind, result: unknown): string {
  const r = (result ?? {}) as Record<string, unknown>;
  const num = (key: string): number | undefined => (typeof r[key] === 'number' ? r[key] : undefined);
  const str = (key: string): string | undefined => (typeof r[key] === 'string' ? r[key] : undefined);
  const n = (value: number) => value.toLocaleString('en-US');
  const plural = (count: number, word: string, words = `${word}s`) => `${n(count)} ${count === 1 ? word : words}`;
  switch (kind) {
    case 'ingest': {
      const rows = num('rows') ?? 0;
      if (str('from') === 'table') {
        const watermark = str('watermark');
        return `${plural(rows, 'row')} loaded from the table${watermark ? `, watermark ${watermark}` : ''}`;
      }
      const quarantined = num('quarantined') ?? 0;
      return `${plural(num('segments') ?? 0, 'segment')} loaded, ${plural(rows, 'row')}${quarantined > 0 ? `, ${plural(quarantined, 'event')} quarantined` : ''}`;
    }
    case 'labels': {
      const parts = (['built', 'rebuilt', 'upToDate', 'open', 'failed'] as const)
        .map((key) => [key, num(key)] as const)
        .filter(([key, count]) => count !== undefined && (count > 0 || key === 'built'))
        .map(([key, count]) => `${n(count!)} ${key === 'upToDate' ? 'up to date' : key}`);
      return `partitions: ${parts.join(', ') || 'none'}`;
    }
    case 'trainingSet': {
      const partitions = Array.isArray(r.partitions) ? r.partitions.length : 0;
      const version = str('version');
      return `${plural(num('rowCount') ?? 0, 'row')} in ${plural(partitions, 'partition')}${version ? `, version ${version}` : ''}`;
    }
    case 'materialize': {
      const mode = str('mode') ?? 'run';
      const reason = str('reason');
      const watermark = str('watermark');
      return `${mode}${reason ? ` (${reason})` : ''}: ${plural(num('rows') ?? 0, 'entity', 'entities')}, ${n(num('written') ?? 0)} written${watermark ? `, watermark ${watermark}` : ''}`;
    }
  }
}

/**
 * Why a stage whose child workflow completed still did not do its work, or undefined when it did. A
 * labels run builds each partition on its own and completes with the failed ones counted (so one bad
 * day never blocks the others' publication); to the loop that stage has failed: a training set built
 * after it would read labels with partitions missing, so its dependents are skipped, as for a child
 * that failed outright. Pure, like summarizeStageResult.
 */
export function stageShortfall(kind: LoopStageKind, result: unknown): string | undefined {
  if (kind !== 'labels') return undefined;
  const r = (result ?? {}) as { failed?: unknown; partitions?: unknown };
  const failed = typeof r.failed === 'number' ? r.failed : 0;
  if (failed === 0) return undefined;
  const partitions = Array.isArray(r.partitions) ? (r.partitions as { key?: unknown; action?: unknown; reason?: unknown }[]) : [];
  const first = partitions.find((p) => p.action === 'failed');
  const total = partitions.length > 0 ? ` of ${partitions.length}` : '';
  const example = first ? `; first: ${String(first.key)}: ${String(first.reason)}` : '';
  return `${failed}${total} label partition${failed === 1 ? '' : 's'} failed${example}`;
}
