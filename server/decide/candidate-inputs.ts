import { numericInput, type ModelInputs } from '../../connectors/model-runtime/model-inputs.ts';
import { valuesAt, type Fragments, type ReadPlan } from '../serving/assemble-features.ts';
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
  assembled: { fragments: Fragments; base: Int32Array },
  request: { readonly inputs: readonly string[]; readonly requestFields: ReadonlySet<string> },
  contextFields: Readonly<Record<string, unknown>>,
  rowFields: readonly Readonly<Record<string, unknown>>[],
): CandidateInputs {
  const { fragments, base } = assembled;
  const groups = target.groups.length;
  // The fragment each (candidate, group) reads: candidates sharing a stored record share its fragment.
  const records = new Int32Array(rows.count * groups);
  for (let row = 0; row < rows.count; row++) {
    for (let g = 0; g < groups; g++) {
      const group = target.groups[g]!;
      const slot = plan.slots[group.viewIndex]!;
      records[row * groups + g] = base[typeof slot === 'number' ? slot : slot[row]!]! + group.indexInView;
    }
  }
  const sources = sourcesOf(target, request);
  return new CandidateInputs({ target, sources, fragments, records, parsed: new Array(fragments.values.length), contextFields, rowFields, rows: new Array(rowFields.length) }, undefined);
}

/** What the candidates of one request are read from; shared by a subset. */
interface CandidateData {
  readonly target: ServingTarget;
  readonly sources: InputSources;
  /** The serving path's fragments (assemble-features.ts): the values' text of each is valuesAt's. */
  readonly fragments: Fragments;
  /** The fragment of candidate r, group g at r × groups + g. */
  readonly records: Int32Array;
  /** Fragments parsed so far, by fragment index. */
  readonly parsed: (readonly unknown[] | undefined)[];
  readonly contextFields: Readonly<Record<string, unknown>>;
  readonly rowFields: readonly Readonly<Record<string, unknown>>[];
  /** Row objects made so far, by candidate. */
  readonly rows: (Record<string, unknown> | undefined)[];
}

/**
 * The candidates as a model's inputs (model-inputs.ts). `order` picks and orders a subset of them
 * (the eligible ones, when filters left some out); row numbers are then positions in it.
 */
export class CandidateInputs implements ModelInputs {
  readonly #data: CandidateData;
  readonly #order: readonly number[] | undefined;

  constructor(data: CandidateData, order: readonly number[] | undefined) {
    this.#data = data;
    this.#order = order;
  }

  get length(): number {
    return this.#order === undefined ? this.#data.rowFields.length : this.#order.length;
  }

  /** The candidates at `indexes` (candidate numbers, not positions in a subset), in that order. */
  subset(indexes: readonly number[]): CandidateInputs {
    return new CandidateInputs(this.#data, indexes);
  }

  value(row: number, input: number): unknown {
    const candidate = this.#candidate(row);
    const { sources } = this.#data;
    const given = this.#requestField(candidate, input);
    if (given !== NOT_GIVEN) return given;
    const group = sources.group[input]!;
    if (group < 0) return undefined;
    return this.#parsed(this.#data.records[candidate * this.#data.target.groups.length + group]!)[sources.index[input]!] ?? null;
  }

  row(row: number): Readonly<Record<string, unknown>> {
    const candidate = this.#candidate(row);
    const { rows, target, records, contextFields, rowFields } = this.#data;
    let made = rows[candidate];
    if (made === undefined) {
      const groups = target.groups.length;
      const values = Array.from({ length: groups }, (_, g) => this.#parsed(records[candidate * groups + g]!));
      made = rowMakerOf(target)(values);
      for (const name in contextFields) made[name] = contextFields[name];
      const own = rowFields[candidate]!;
      for (const name in own) made[name] = own[name];
      rows[candidate] = made;
    }
    return made;
  }

  /**
   * Every input of every row into `out`, each value read from its record's parsed array by a typed
   * loop: a number goes into the tensor without being boxed (the value-by-value path boxed each of
   * 5,000 per request, bench/decide.ts). A request field goes the general way (`value`). Reading the
   * stored text without JSON.parse was tried and dropped: JavaScript's character loop took twice
   * JSON.parse's time on these strings (4.5 against 2.2 µs a record of 50 values).
   */
  fillNumbers(out: Float32Array): number {
    const { sources, records, target } = this.#data;
    const groups = target.groups.length;
    const width = sources.names.length;
    const rows = this.length;
    const ofGroup = new Array<readonly unknown[] | undefined>(groups);
    for (let r = 0; r < rows; r++) {
      const candidate = this.#candidate(r);
      for (let g = 0; g < groups; g++) ofGroup[g] = sources.groupRead[g] === 1 ? this.#parsed(records[candidate * groups + g]!) : undefined;
      const offset = r * width;
      for (let c = 0; c < width; c++) {
        if (sources.request[c] === 1) {
          const given = this.#requestField(candidate, c);
          if (given !== NOT_GIVEN) {
            const number = numericInput(given);
            if (number === undefined) return offset + c;
            out[offset + c] = number;
            continue;
          }
        }
        const group = sources.group[c]!;
        if (group < 0) {
          out[offset + c] = Number.NaN;
          continue;
        }
        const value = ofGroup[group]![sources.index[c]!];
        if (typeof value === 'number') {
          out[offset + c] = value;
          continue;
        }
        const number = numericInput(value ?? null);
        if (number === undefined) return offset + c;
        out[offset + c] = number;
      }
    }
    return -1;
  }

  #candidate(row: number): number {
    return this.#order === undefined ? row : this.#order[row]!;
  }

  /** A request input's value given by the candidate, else by the context, else NOT_GIVEN. */
  #requestField(candidate: number, input: number): unknown {
    const { sources, rowFields, contextFields } = this.#data;
    if (sources.request[input] !== 1) return NOT_GIVEN;
    const name = sources.names[input]!;
    const own = rowFields[candidate]!;
    if (Object.hasOwn(own, name)) return own[name];
    if (Object.hasOwn(contextFields, name)) return contextFields[name];
    return NOT_GIVEN;
  }

  #parsed(at: number): readonly unknown[] {
    const { parsed, fragments } = this.#data;
    let values = parsed[at];
    if (values === undefined) {
      values = JSON.parse(`[${valuesAt(fragments, at)}]`) as unknown[];
      parsed[at] = values;
    }
    return values;
  }
}

const NOT_GIVEN = Symbol('not given');

/** Where each of a model's inputs comes from: a served feature (group, index), a request field, or both in that order of precedence. */
interface InputSources {
  readonly names: readonly string[];
  /** The serving group holding the feature of that name (the last one, as in the row object), or -1. */
  readonly group: Int32Array;
  readonly index: Int32Array;
  /** 1 when the input is a request field the model reads (the context's or the candidate's). */
  readonly request: Uint8Array;
  /** 1 for each serving group some input reads (the others are never parsed for the model). */
  readonly groupRead: Uint8Array;
}

/** Per target, per model (the object the decide path keeps for it): computed once, not per request. */
const sourcesByTarget = new WeakMap<ServingTarget, WeakMap<object, InputSources>>();

function sourcesOf(target: ServingTarget, model: { readonly inputs: readonly string[]; readonly requestFields: ReadonlySet<string> }): InputSources {
  let byModel = sourcesByTarget.get(target);
  if (byModel === undefined) sourcesByTarget.set(target, (byModel = new WeakMap()));
  let sources = byModel.get(model);
  if (sources === undefined) {
    const { inputs, requestFields } = model;
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
    const groupRead = new Uint8Array(target.groups.length);
    for (const g of group) if (g >= 0) groupRead[g] = 1;
    sources = { names: inputs, group, index, request: Uint8Array.from(inputs, (name) => (requestFields.has(name) ? 1 : 0)), groupRead };
    byModel.set(model, sources);
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
