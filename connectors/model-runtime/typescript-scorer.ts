import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { importTypeScript } from '../../runtime/import-typescript.ts';
import { ModelArtifactError } from '../../core/models/errors.ts';
import type { ModelSpec } from '../../core/definitions/specs.ts';
import type { RawScorer } from './loaded-model.ts';

/** `score(params, rows)`: what a TypeScript model's module exports (docs/models.md). */
export type TypeScriptScoreFunction = (params: unknown, rows: readonly Readonly<Record<string, unknown>>[]) => ArrayLike<number>;

/**
 * A TypeScript model version: the definition's module (relative to the project root) scores with
 * the version's parameters, the JSON artifact. The parameters are parsed once, here.
 */
export async function typeScriptScorer(
  spec: ModelSpec & { artifact: { format: 'typescript' } },
  context: { version?: string; file: string; bytes: Uint8Array; projectRoot: string },
): Promise<RawScorer> {
  const fail = (reason: string, cause?: unknown) =>
    new ModelArtifactError({ model: spec.name, file: context.file, reason, ...(context.version !== undefined ? { version: context.version } : {}) }, cause === undefined ? undefined : { cause });
  let params: unknown;
  try {
    params = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(context.bytes));
  } catch (cause) {
    throw fail(`not valid JSON (a TypeScript model's artifact is its parameters as JSON): ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  let module: Record<string, unknown>;
  try {
    module = (await importTypeScript(pathToFileURL(resolve(context.projectRoot, spec.artifact.module)).href)) as Record<string, unknown>;
  } catch (cause) {
    throw fail(`cannot load module ${spec.artifact.module}: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  const score = module[spec.artifact.export];
  if (typeof score !== 'function') {
    throw fail(`module ${spec.artifact.module} has no function export "${spec.artifact.export}" (exports: ${Object.keys(module).join(', ') || 'none'})`);
  }
  return async (rows) => (score as TypeScriptScoreFunction)(params, rows);
}
