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
