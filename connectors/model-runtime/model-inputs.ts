/**
 * The rows a model scores, read by the position of the model's input. The decide path hands a model
 * its candidates this way, straight from the stored values (server/decide/candidate-inputs.ts):
 * building an object of 50 numbers for each of 100 candidates made most of a decide request's
 * garbage, and the scavenges it caused most of its p99 (bench/decide.ts). Rows given as objects
 * are wrapped by `rowsAsInputs`.
 */
export interface ModelInputs {
  readonly length: number;
  /** Row `row`'s value of the model's input at position `input` (undefined when the row lacks it). */
  value(row: number, input: number): unknown;
  /** Row `row` as an object by name: what a TypeScript model reads, and what error messages name. */
  row(row: number): Readonly<Record<string, unknown>>;
  /**
   * Optional: fills `out[row × inputs + input]` with every value as `numericInput` reads it, and
   * returns -1; or stops at the first value that is not numeric and returns its cell. For inputs that
   * can do it without boxing each value (the decide path's, read from stored text).
   */
  fillNumbers?(out: Float32Array): number;
}

/** An input as a number (booleans 1/0, null or missing NaN); undefined for anything else (a string, an object). */
export function numericInput(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  if (value === null || value === undefined) return Number.NaN;
  return undefined;
}

/** `fillNumbers` for any ModelInputs, one value at a time. */
export function fillNumbersOf(inputs: ModelInputs, width: number, out: Float32Array): number {
  if (inputs.fillNumbers !== undefined) return inputs.fillNumbers(out);
  for (let r = 0; r < inputs.length; r++) {
    const offset = r * width;
    for (let c = 0; c < width; c++) {
      const number = numericInput(inputs.value(r, c));
      if (number === undefined) return offset + c;
      out[offset + c] = number;
    }
  }
  return -1;
}

/** Rows as objects by input name, read as ModelInputs. */
export class RowObjects implements ModelInputs {
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  readonly #names: readonly string[];

  constructor(rows: readonly Readonly<Record<string, unknown>>[], names: readonly string[]) {
    this.rows = rows;
    this.#names = names;
  }

  get length(): number {
    return this.rows.length;
  }

  value(row: number, input: number): unknown {
    return this.rows[row]![this.#names[input]!];
  }

  row(row: number): Readonly<Record<string, unknown>> {
    return this.rows[row]!;
  }
}

/** `rows` as ModelInputs for a model reading `names`; ModelInputs as they are. */
export function rowsAsInputs(rows: readonly Readonly<Record<string, unknown>>[] | ModelInputs, names: readonly string[]): ModelInputs {
  return Array.isArray(rows) ? new RowObjects(rows as readonly Readonly<Record<string, unknown>>[], names) : (rows as ModelInputs);
}

/** The rows as objects (a TypeScript model's argument): the wrapped array itself when there is one. */
export function rowObjectsOf(inputs: ModelInputs): readonly Readonly<Record<string, unknown>>[] {
  if (inputs instanceof RowObjects) return inputs.rows;
  return Array.from({ length: inputs.length }, (_, row) => inputs.row(row));
}
