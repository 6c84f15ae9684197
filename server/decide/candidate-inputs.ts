import type { ReadPlan } from '../serving/assemble-features.ts';
import type { ServingTarget } from '../serving/resolve-service.ts';
import type { ServedKeyValue } from '../serving/served-decision.ts';
import type { EntityRows } from '../serving/serving-request.ts';

/**
 * The rows a model scores in `POST /v1/decide`: each candidate's served values by feature name (null
 * when missing or expired), then the context's request fields, then the candidate's own. Read from
 * the fragments the serving path assembled (server/serving/assemble-features.ts): each distinct
 * stored record is parsed once however many candidates share it (a context's user, read once for
 * 100 candidates), and nothing of statuses or event times is parsed here (the decision log does
 * that later, off the request's path).
 */
export function candidateInputs(
  target: ServingTarget,
  rows: EntityRows,
  plan: ReadPlan,
  assembled: { fragments: { readonly values: readonly string[] }; base: Int32Array },
  contextFields: Readonly<Record<string, unknown>>,
  rowFields: readonly Readonly<Record<string, unknown>>[],
): Record<string, unknown>[] {
  const { fragments, base } = assembled;
  const parsed = new Map<number, unknown[]>();
  const out: Record<string, unknown>[] = [];
  const make = rowMakerOf(target);
  const groupValues = new Array<unknown[]>(target.groups.length);
  for (let row = 0; row < rows.count; row++) {
    for (let g = 0; g < target.groups.length; g++) {
      const group = target.groups[g]!;
      const slot = plan.slots[group.viewIndex]!;
      const at = base[typeof slot === 'number' ? slot : slot[row]!]! + group.indexInView;
      let values = parsed.get(at);
      if (values === undefined) {
        values = JSON.parse(`[${fragments.values[at]!}]`) as unknown[];
        parsed.set(at, values);
      }
      groupValues[g] = values;
    }
    const input = make(groupValues);
    for (const name in contextFields) input[name] = contextFields[name];
    const own = rowFields[row]!;
    for (const name in own) input[name] = own[name];
    out.push(input);
  }
  return out;
}

/** A row's join keys by name (the context's and its own), as the response and the decision log show them. */
export function keysOfRow(target: ServingTarget, rows: EntityRows, row: number): Record<string, ServedKeyValue> {
  const keys: Record<string, ServedKeyValue> = {};
  for (let k = 0; k < target.keys.length; k++) {
    const value = rows.columns[k]?.[row] ?? rows.shared[k]!;
    keys[target.keys[k]!.name] = typeof value === 'bigint' ? value.toString() : value;
  }
  return keys;
}

type RowMaker = (groupValues: readonly (readonly unknown[])[]) => Record<string, unknown>;

const rowMakers = new WeakMap<ServingTarget, RowMaker>();

/**
 * A function that builds one row as an object literal of the target's features, compiled once per
 * target: every row then has the same hidden class from birth, where assigning 50 properties one by
 * one cost a sixth of a decide request's CPU (bench/decide.ts, profiled). The keys are JSON-quoted
 * feature names (identifiers, checked when the definitions load), the values `g[group][index]`.
 */
function rowMakerOf(target: ServingTarget): RowMaker {
  let make = rowMakers.get(target);
  if (make === undefined) {
    const fields = target.groups.flatMap((group, g) => group.features.map((name, i) => `${JSON.stringify(name)}: g[${g}][${i}] ?? null`));
    make = new Function('g', `return { ${fields.join(', ')} };`) as RowMaker;
    rowMakers.set(target, make);
  }
  return make;
}
