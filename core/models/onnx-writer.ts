/**
 * A tiny ONNX ModelProto writer for dense float32 networks (MatMul, Add, Relu, Sigmoid), so tests and
 * the decide benchmark can make ONNX models without Python. Protobuf is written by hand: the few
 * message fields used here are listed below by their numbers in onnx.proto (IR version 8, opset 13).
 *
 * @example
 * const bytes = denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[0.5], [-1]], bias: [0.25], activation: 'sigmoid' }] });
 */

export interface DenseLayer {
  /** `weights[i][j]`: from input i to output j (inputWidth × outputWidth). */
  readonly weights: readonly (readonly number[])[];
  readonly bias: readonly number[];
  readonly activation?: 'relu' | 'sigmoid' | 'none';
}

export interface DenseModel {
  readonly inputWidth: number;
  readonly layers: readonly DenseLayer[];
  /** The graph's input and output names; default `input` and `output`. */
  readonly inputName?: string;
  readonly outputName?: string;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

/** The ONNX bytes of a dense network: input `[batch, inputWidth]`, output `[batch, last layer width]`. */
export function denseOnnxModel(model: DenseModel): Uint8Array {
  const inputName = model.inputName ?? 'input';
  const outputName = model.outputName ?? 'output';
  const nodes: Uint8Array[] = [];
  const initializers: Uint8Array[] = [];
  let current = inputName;
  let width = model.inputWidth;
  model.layers.forEach((layer, index) => {
    const out = layer.bias.length;
    if (layer.weights.length !== width || layer.weights.some((row) => row.length !== out)) {
      throw new Error(`layer ${index}: weights must be ${width} × ${out}`);
    }
    initializers.push(tensor(`w${index}`, [width, out], layer.weights.flat()), tensor(`b${index}`, [out], layer.bias));
    const last = index === model.layers.length - 1;
    const activation = layer.activation ?? 'none';
    const sum = last && activation === 'none' ? outputName : `sum${index}`;
    nodes.push(node('MatMul', [current, `w${index}`], [`mm${index}`]), node('Add', [`mm${index}`, `b${index}`], [sum]));
    current = sum;
    if (activation !== 'none') {
      const activated = last ? outputName : `act${index}`;
      nodes.push(node(activation === 'relu' ? 'Relu' : 'Sigmoid', [current], [activated]));
      current = activated;
    }
    width = out;
  });
  const graph = concat(
    ...nodes.map((n) => field(1, n)),
    stringField(2, 'flywheel_dense'),
    ...initializers.map((t) => field(5, t)),
    field(11, valueInfo(inputName, width === 0 ? 0 : model.inputWidth)),
    field(12, valueInfo(outputName, width)),
  );
  const opset = concat(stringField(1, ''), varintField(2, 13));
  return concat(varintField(1, 8), stringField(2, 'flywheel'), field(7, graph), field(8, opset));
}

function node(opType: string, inputs: readonly string[], outputs: readonly string[]): Uint8Array {
  return concat(...inputs.map((i) => stringField(1, i)), ...outputs.map((o) => stringField(2, o)), stringField(4, opType));
}

function tensor(name: string, dims: readonly number[], values: readonly number[]): Uint8Array {
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return concat(...dims.map((d) => varintField(1, d)), varintField(2, FLOAT), stringField(8, name), field(9, raw));
}

/** A float tensor `[batch, width]` whose first dimension is symbolic. */
function valueInfo(name: string, width: number): Uint8Array {
  const shape = concat(field(1, stringField(2, 'batch')), field(1, varintField(1, width)));
  const tensorType = concat(varintField(1, FLOAT), field(2, shape));
  return concat(stringField(1, name), field(2, field(1, tensorType)));
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = BigInt(value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v > 0n);
  return bytes;
}

function varintField(number: number, value: number): Uint8Array {
  return Uint8Array.from([...varint(number << 3), ...varint(value)]);
}

function field(number: number, body: Uint8Array): Uint8Array {
  return concat(Uint8Array.from([...varint((number << 3) | 2), ...varint(body.length)]), body);
}

function stringField(number: number, value: string): Uint8Array {
  return field(number, new TextEncoder().encode(value));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
