import type { ModelVersionManifest, PromotedModel } from '../../core/models/manifest.ts';
import type { ModelVersionLineage } from '../models/model-lineage.ts';

/** `flywheel models list`: one line per version, the promoted one marked, with what it was trained on. */
export function formatModelList(models: readonly { name: string; versions: readonly ModelVersionManifest[]; promoted: PromotedModel | undefined }[]): string {
  if (models.length === 0) return 'No models are defined.\n';
  const lines: string[] = [];
  for (const { name, versions, promoted } of models) {
    const split = promoted?.split ? `, split by ${promoted.split.key}: ${promoted.split.arms.map((arm) => `${arm.version} ${arm.share}`).join(', ')}` : '';
    lines.push(`${name}${promoted ? ` (promoted: ${promoted.version}${split})` : versions.length > 0 ? ' (none promoted)' : ''}`);
    if (versions.length === 0) lines.push('  no versions registered');
    for (const v of versions) {
      const rows = v.trainedOn.partitions.reduce((n, p) => n + p.rowCount, 0);
      const mark = promoted?.version === v.version ? '*' : ' ';
      lines.push(`${mark} ${v.version}  ${v.format}  registered ${v.registeredAt}  trained on ${v.trainedOn.trainingSet}@${v.trainedOn.version} (${v.trainedOn.partitions.length} partition${v.trainedOn.partitions.length === 1 ? '' : 's'}, ${rows} rows)  sha256 ${v.sha256.slice(0, 12)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `flywheel models show` and `flywheel models lineage`: a decision (when one was named), its version, and what that was trained on. */
export function formatModelLineage(lineage: ModelVersionLineage): string {
  const { decision, model: m, partitions } = lineage;
  const lines: string[] = [];
  if (decision) lines.push(`decision ${decision.decisionId}  served at ${decision.servedAt}  in flywheel.stream_${decision.stream}`);
  const code = m.code ? `  code ${m.code.file} from ${m.code.module} (sha256 ${m.code.sha256.slice(0, 12)})` : '';
  lines.push(`model ${m.name} ${m.version}  ${m.format}  registered ${m.registeredAt}  artifact ${m.artifact} (sha256 ${m.sha256.slice(0, 12)})${code}`);
  lines.push(`trained on ${m.trainedOn.trainingSet}@${m.trainedOn.version}`);
  for (const p of partitions) {
    lines.push(`  partition ${p.key}  version ${p.version}  registry version ${p.registryVersion}  ${p.rowCount} rows`);
    if (p.manifest === 'missing') lines.push('    its manifest is gone (the partition was deleted)');
    if (p.manifest === 'rebuilt') lines.push(`    rebuilt since (now version ${p.currentVersion}); the manifest of the build trained on is replaced`);
    for (const view of p.featureViews ?? []) {
      const watermark = p.sourceWatermarks?.[view.name];
      lines.push(`    feature view ${view.name}  definition ${view.definitionHash.slice(0, 12)}  source watermark ${watermark ?? 'none'}`);
    }
    if (p.labels) {
      lines.push(`    labels ${p.labels.labels}: ${p.labels.partitions.map((l) => `${l.key} version ${l.version}`).join(', ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
