import { decisionSampleFraction } from '../serving/decision-log.ts';

/**
 * The A/B split of `POST /v1/decide` (docs/decide.md, "Which version scores"): traffic split between
 * versions of a model by a context key, with shares declared at promotion
 * (`flywheel models promote ranker v3 --split v3=0.9,v4=0.1 --by user_id`), or per request as an override:
 *
 *     "split": { "key": "user_id", "shares": { "v3": 0.9, "v4": 0.1 } }
 *
 * The arm is chosen by a stable hash of the model's name and the key's value (the same 32-bit hash
 * as the decision log's sampling, `decisionSampleFraction`, of `<model>\u0000<value>`), so a user
 * always gets the same version on every server and every request while the shares stay the same,
 * and two models split the same users independently. The versions are taken in the order the
 * shares list them; a fraction below the first share picks the first, and so on.
 *
 * Pure.
 */

export interface SplitArm {
  readonly version: string;
  readonly share: number;
}

/** The version for `keyValue`: shares must be positive and sum to 1 (checked by the request reader). */
export function splitVersion(model: string, keyValue: string | number, arms: readonly SplitArm[]): string {
  const fraction = decisionSampleFraction(`${model}\u0000${String(keyValue)}`);
  let upTo = 0;
  for (const arm of arms) {
    upTo += arm.share;
    if (fraction < upTo) return arm.version;
  }
  // Rounding of the shares' sum below 1: the last arm takes the rest.
  return arms.at(-1)!.version;
}
