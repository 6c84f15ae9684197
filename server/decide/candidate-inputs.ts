import type { ModelInputs } from '../../connectors/model-runtime/model-inputs.ts';
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
 *
 * The model reads them by input position (`value`), straight from the parsed records: no object is
 * built per candidate unless a filter or a TypeScript model asks for one (`row`).
 */
export function candidateInputs(
  target: ServingTarget,
  rows: EntityRows,
  plan: ReadPlan,
  assembled: { fragments: { readonly values: readonly string[] }; base: Int32Array },
  request: { readonly inputs: readonly string[]; readonly requestFields: ReadonlySet<string> },
  contextFields: Readonly<Record<string, unknown>>,
  rowFields: readonly Readonly<Record<string, unknown>>[],
): CandidateInputs {
  const { fragments, base } = assembled;
  const groups = target.groups.length;
  const parsed = new Map<number, readonly unknown[]>();
  const values = new Array<readonly unknown[]>(rows.count * groups);
  for (let row = 0; row < rows.count; row++) {
    for (let g = 0; g < groups; g++) {
      const group = target.groups[g]!;
      const slot = plan.slots[group.viewIndex]!;
      const at = base[typeof slot === 'number' ? slot : slot[row]!]! + group.indexInView;
      let record = parsed.get(at);
      if (record === undefined) {
        record = JSON.parse(`[${fragments.values[at]!}]`) as unknown[];
        parsed.set(at, record);
      }
      values[row * groups + g] = record;
    }
  }
  return new CandidateInputs(target, sourcesOf(target, request.inputs, request.requestFields), values, contextFields, rowFields, undefined);
}

/**
 * The candidates as a model's inputs (model-inputs.ts). `order` picks and orders a subset of them
 * (the eligible ones, when filters left some out); row numbers are then positions in it.
 */
export class CandidateInputs implements ModelInputs {
  readonly #target: ServingTarget;
  readonly #sources: InputSources;
  /** Row r's values of group g at r × groups + g. */
  readonly #values: readonly (readonly unknown[])[];
  readonly #contextFields: Readonly<Record<string, unknown>>;
  readonly #rowFields: readonly Readonly<Record<string, unknown>>[];
  readonly #order: readonly number[] | undefined;
  readonly #rows: (Record<string, unknown> | undefined)[];

  constructor(
    target: ServingTarget,
    sources: InputSources,
    values: readonly (readonly unknown[])[],
    contextFields: Readonly<Record<string, unknown>>,
    rowFields: readonly Readonly<Record<string, unknown>>[],
    order: readonly number[] | undefined,
  ) {
    this.#target = target;
    this.#sources = sources;
    this.#values = values;
    this.#contextFields = contextFields;
    this.#rowFields = rowFields;
    this.#order = order;
    this.#rows = new Array<Record<string, unknown> | undefined>(rowFields.length);
  }

  get length(): number {
    return this.#order === undefined ? this.#rowFields.length : this.#order.length;
  }

  /** The candidates at `indexes` (candidate numbers, not positions in a subset), in that order. */
  subset(indexes: readonly number[]): CandidateInputs {
    return new CandidateInputs(this.#target, this.#sources, this.#values, this.#contextFields, this.#rowFields, indexes);
  }

  value(row: number, input: number): unknown {
    const candidate = this.#order === undefined ? row : this.#order[row]!;
    const sources = this.#sources;
    // A request field: the candidate's own, else the context's, as the row object has it.
    if (sources.request[input] === 1) {
      const name = sources.names[input]!;
      const own = this.#rowFields[candidate]!;
      if (Object.hasOwn(own, name)) return own[name];
      if (Object.hasOwn(this.#contextFields, name)) return this.#contextFields[name];
    }
    const group = sources.group[input]!;
    if (group < 0) return undefined;
    return this.#values[candidate * this.#target.groups.length + group]![sources.index[input]!] ?? null;
  }

  row(row: number): Readonly<Record<string, unknown>> {
    const candidate = this.#order === undefined ? row : this.#order[row]!;
    let made = this.#rows[candidate];
    if (made === undefined) {
      const groups = this.#target.groups.length;
      made = rowMakerOf(this.#target)(this.#values.slice(candidate * groups, (candidate + 1) * groups));
      for (const name in this.#contextFields) made[name] = this.#contextFields[name];
      const own = this.#rowFields[candidate]!;
      for (const name in own) made[name] = own[name];
      this.#rows[candidate] = made;
    }
    return made;
  }
}

/** Where each of a model's inputs comes from: a served feature (group, index), a request field, or both in that order of precedence. */
interface InputSources {
  readonly names: readonly string[];
  /** The serving group holding the feature of that name (the last one, as in the row object), or -1. */
  readonly group: Int32Array;
  readonly index: Int32Array;
  /** 1 when the input is a request field the model reads (the context's or the candidate's). */
  readonly request: Uint8Array;
}

const sourcesByTarget = new WeakMap<ServingTarget, Map<string, InputSources>>();

function sourcesOf(target: ServingTarget, inputs: readonly string[], requestFields: ReadonlySet<string>): InputSources {
  let byInputs = sourcesByTarget.get(target);
  if (byInputs === undefined) sourcesByTarget.set(target, (byInputs = new Map()));
  const key = `${inputs.join('\u0000')}\u0001${[...requestFields].join('\u0000')}`;
  let sources = byInputs.get(key);
  if (sources === undefined) {
    const group = new Int32Array(inputs.length).fill(-1);
    const index = new Int32Array(inputs.length);
    target.groups.forEach((g, at) => g.features.forEach((name, i) => {
      for (let input = 0; input < inputs.length; input++) {
        if (inputs[input] === name) {
          group[input] = at;
          index[input] = i;
        }
      }
    }));
    sources = { names: inputs, group, index, request: Uint8Array.from(inputs, (name) => (requestFields.has(name) ? 1 : 0)) };
    byInputs.set(key, sources);
  }
  return sources;
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
