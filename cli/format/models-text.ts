import type { ModelVersionManifest, PromotedModel } from '../../core/models/manifest.ts';

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
