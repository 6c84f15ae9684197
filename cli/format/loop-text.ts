import type { LoopStage } from '../../core/loop/plan-loop.ts';
import type { FlywheelLoopResult, LoopStageOutcome } from '../../workflows/flywheel-loop.ts';

/**
 * How `flywheel loop plan` and `flywheel loop run` print a loop for people: one line per stage, in
 * loop order, in aligned columns. No colours (CI logs read it too).
 *
 *   Loop "hourly" of project "demo" as of 2024-05-02T03:00:00.000Z: 3 stages.
 *
 *     stage                       kind         depends on
 *     ingest:clicks               ingest       -
 *     trainingSet:fraud_training  trainingSet  ingest:clicks
 *     materialize:user_spend      materialize  -
 */
export function formatLoopPlan(args: { project: string; loop?: string; asOf: string; only?: readonly string[]; stages: readonly LoopStage[] }): string {
  const which = args.loop !== undefined ? `Loop "${args.loop}"` : 'The loop';
  const only = args.only && args.only.length > 0 ? ` (only ${args.only.join(', ')})` : '';
  const head = `${which} of project "${args.project}" as of ${args.asOf}${only}: ${count(args.stages.length, 'stage')}.`;
  if (args.stages.length === 0) return `${head}\n`;
  const rows = args.stages.map((stage) => [stage.id, stage.kind, stage.dependsOn.join(', ') || '-']);
  return `${[head, '', ...table(['stage', 'kind', 'depends on'], rows)].join('\n')}\n`;
}

/**
 *   Loop "hourly" of project "demo" as of 2024-05-02T03:00:00.000Z (registry v3): 2 succeeded, 1 failed, 1 skipped.
 *
 *     stage                       status     time   result
 *     ingest:clicks               succeeded  1.2s   2 segments loaded, 40 rows
 *     trainingSet:fraud_training  failed     0.8s   source "spine" ... not found
 *     materialize:user_clicks     skipped    -      ingest:clicks failed
 */
export function formatLoopResult(result: FlywheelLoopResult): string {
  const which = result.loop !== undefined ? `Loop "${result.loop}"` : 'The loop';
  const counts = result.stages.length === 0 ? 'no stages to run' : `${result.succeeded} succeeded, ${result.failed} failed, ${result.skipped} skipped`;
  const head = `${which} of project "${result.project}" as of ${result.asOf} (registry v${result.registryVersion}): ${counts}.`;
  if (result.stages.length === 0) return `${head}\n`;
  const rows = result.stages.map((stage) => [stage.id, stage.status, stage.durationMs === undefined ? '-' : formatMs(stage.durationMs), outcomeText(stage)]);
  return `${[head, '', ...table(['stage', 'status', 'time', 'result'], rows)].join('\n')}\n`;
}

function outcomeText(stage: LoopStageOutcome): string {
  const text = stage.summary ?? stage.error ?? stage.reason ?? '';
  // One line per stage: an error's first line (the whole one is in the child's history).
  return text.split('\n')[0]!;
}

/** `850ms`, `1.2s`, `2m 5s`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => `  ${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}
