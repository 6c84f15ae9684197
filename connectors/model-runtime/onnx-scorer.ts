import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-web';
import { ModelArtifactError, ModelScoringError } from '../../core/models/errors.ts';
import type { ModelSpec } from '../../core/definitions/specs.ts';
import type { RawScorer } from './loaded-model.ts';
import { fillNumbersOf } from './model-inputs.ts';

/**
 * ONNX Runtime compiled to WebAssembly (onnxruntime-web), run in Node: onnxruntime-node's install
 * downloads native binaries from nuget.org, which a locked-down build cannot reach (docs/models.md,
 * "Why onnxruntime-web"). One thread: a worker or serving process scores on its own thread and
 * Node's thread pool stays free; the .wasm files are read from the installed package, never fetched.
 */
let runtime: Promise<typeof Ort> | undefined;
/** Loaded on first use: processes that never score an ONNX model (the CLI, most workers) skip its start-up. */
function onnxRuntime(): Promise<typeof Ort> {
  runtime ??= import('onnxruntime-web').then((ort) => {
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = `${join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')}`;
    return ort;
  });
  return runtime;
}

/**
 * An ONNX model version: one float32 input `[batch, inputs]`, its first output `[batch]` or
 * `[batch, 1]`. Inputs are numbers or booleans (1/0); null or missing becomes NaN, which most
 * graphs turn into a NaN score (then a ModelScoringError naming the row and the null inputs).
 */
export async function onnxScorer(
  spec: ModelSpec,
  context: { version: string; file: string; bytes: Uint8Array; inputs: readonly string[] },
): Promise<RawScorer> {
  const ort = await onnxRuntime();
  const artifactError = (reason: string, cause?: unknown) =>
    new ModelArtifactError({ model: spec.name, version: context.version, file: context.file, reason }, cause === undefined ? undefined : { cause });
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(context.bytes);
  } catch (cause) {
    throw artifactError(`not a loadable ONNX model: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  if (session.inputNames.length !== 1) {
    throw artifactError(`the graph has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); Flywheel feeds one float32 tensor [batch, ${context.inputs.length}]`);
  }
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const meta = session.inputMetadata[0];
  if (meta?.isTensor) {
    if (meta.type !== 'float32') throw artifactError(`input "${inputName}" is ${meta.type}; Flywheel feeds float32`);
    const width = meta.shape[1];
    if (meta.shape.length !== 2 || (typeof width === 'number' && width !== context.inputs.length)) {
      throw artifactError(`input "${inputName}" has shape [${meta.shape.join(', ')}]; the model declares ${context.inputs.length} inputs (${context.inputs.join(', ')}), so it must be [batch, ${context.inputs.length}]`);
    }
  }
  const inputs = context.inputs;
  const width = inputs.length;
  return async (rows) => {
    // 5,000 cells for a decide request of 100 candidates × 50 inputs: filled by the inputs themselves
    // where they can do it without a boxed number per cell (server/decide/candidate-inputs.ts).
    const data = new Float32Array(rows.length * width);
    const bad = fillNumbersOf(rows, width, data);
    if (bad >= 0) {
      const r = Math.floor(bad / width);
      const c = bad % width;
      throw new ModelScoringError({ model: spec.name, version: context.version, rowIndex: r, reason: `input "${inputs[c]!}" is ${JSON.stringify(rows.value(r, c))}; an ONNX model's inputs are numbers or booleans` });
    }
    const results = await session.run({ [inputName]: new ort.Tensor('float32', data, [rows.length, width]) });
    const output = results[outputName]!;
    const perRow = output.dims.slice(1).reduce((a, b) => a * b, 1);
    if (output.dims[0] !== rows.length || perRow !== 1) {
      throw new ModelScoringError({ model: spec.name, version: context.version, reason: `output "${outputName}" has shape [${output.dims.join(', ')}] for ${rows.length} rows; expected [${rows.length}] or [${rows.length}, 1]` });
    }
    // The float32 scores as they are: checkedModel reads them into float64 (the same numbers as Array.from(…, Number)).
    return output.data as Float32Array;
  };
}
