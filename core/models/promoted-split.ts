import { ModelRegistryError } from './errors.ts';
import type { PromotedSplit } from './manifest.ts';

/**
 * Reads the A/B split `flywheel models promote <name> <version> --split v3=0.9,v4=0.1 --by user_id`
 * declares (docs/models.md, "A/B splits"): the arms in the order given (the order the hash's cumulative
 * shares are taken in, server/decide/ab-split.ts), each share in (0, 1], adding up to 1, each version
 * once, and the promoted version among them (it is the one batch scoring uses). Whether the versions
 * are registered is checked against the store (connectors/model-store). Pure.
 */
export function readPromotedSplit(model: string, version: string, split: string | undefined, by: string | undefined): PromotedSplit | undefined {
  if (split === undefined && by === undefined) return undefined;
  if (split === undefined) throw new ModelRegistryError(model, '--by names the context key of an A/B split; give the split too: --split <version>=<share>,...');
  if (by === undefined || by.trim() === '') throw new ModelRegistryError(model, '--split needs --by <context key>: the request context field whose hash picks each request\'s version');
  const arms: { version: string; share: number }[] = [];
  const parts = split.split(',');
  parts.forEach((part, index) => {
    const where = `--split part ${index + 1} "${part}"`;
    const match = /^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$/.exec(part);
    if (!match) throw new ModelRegistryError(model, `${where} must be <version>=<share>, such as v4=0.1`);
    const [, armVersion, text] = match as unknown as [string, string, string];
    const share = Number(text);
    if (!(share > 0 && share <= 1)) throw new ModelRegistryError(model, `${where}: the share must be a number in (0, 1], got ${text}`);
    if (arms.some((arm) => arm.version === armVersion)) throw new ModelRegistryError(model, `${where}: version ${armVersion} is named twice`);
    arms.push({ version: armVersion, share });
  });
  const total = arms.reduce((sum, arm) => sum + arm.share, 0);
  // A tolerance for decimal shares such as 0.7 + 0.2 + 0.1, which add up to 0.9999999999999999.
  if (Math.abs(total - 1) > 1e-9) throw new ModelRegistryError(model, `--split shares add up to ${total}, not 1`);
  if (!arms.some((arm) => arm.version === version)) {
    throw new ModelRegistryError(model, `--split must give the promoted version ${version} a share (batch scoring uses it); it names ${arms.map((arm) => arm.version).join(', ')}`);
  }
  return { key: by.trim(), arms };
}
