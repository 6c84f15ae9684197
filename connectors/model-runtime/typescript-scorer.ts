import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importTypeScript } from '../../runtime/import-typescript.ts';
import { ModelArtifactError } from '../../core/models/errors.ts';
import type { ModelSpec } from '../../core/definitions/specs.ts';
import type { RawScorer } from './loaded-model.ts';
import { rowObjectsOf } from './model-inputs.ts';

/** `score(params, rows)`: what a TypeScript model's module exports (docs/models.md). */
export type TypeScriptScoreFunction = (params: unknown, rows: readonly Readonly<Record<string, unknown>>[]) => ArrayLike<number>;

/** A version's bundled scoring module (bundle-typescript-model.ts): its bytes, their SHA-256, and the export that scores. */
export interface TypeScriptModelCode {
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly export: string;
  /** The module it was bundled from, for messages. */
  readonly module: string;
}

/**
 * A TypeScript model version: its scoring code with the version's parameters, the JSON artifact
 * (parsed once, here). The code is the version's bundle when it has one (every version registered
 * since bundling), else the definition's module (relative to the project root).
 */
export async function typeScriptScorer(
  spec: ModelSpec & { artifact: { format: 'typescript' } },
  context: { version?: string; file: string; bytes: Uint8Array; projectRoot: string; code?: TypeScriptModelCode },
): Promise<RawScorer> {
  const fail = (reason: string, cause?: unknown) =>
    new ModelArtifactError({ model: spec.name, file: context.file, reason, ...(context.version !== undefined ? { version: context.version } : {}) }, cause === undefined ? undefined : { cause });
  let params: unknown;
  try {
    params = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(context.bytes));
  } catch (cause) {
    throw fail(`not valid JSON (a TypeScript model's artifact is its parameters as JSON): ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  const moduleName = context.code ? `${context.code.module} (bundled)` : spec.artifact.module;
  const exportName = context.code?.export ?? spec.artifact.export;
  let module: Record<string, unknown>;
  try {
    module = context.code
      ? (await import(pathToFileURL(await bundleFile(context.code)).href)) as Record<string, unknown>
      : (await importTypeScript(pathToFileURL(resolve(context.projectRoot, spec.artifact.module)).href)) as Record<string, unknown>;
  } catch (cause) {
    throw fail(`cannot load module ${moduleName}: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  const score = module[exportName];
  if (typeof score !== 'function') {
    throw fail(`module ${moduleName} has no function export "${exportName}" (exports: ${Object.keys(module).join(', ') || 'none'})`);
  }
  return async (rows) => (score as TypeScriptScoreFunction)(params, rowObjectsOf(rows));
}

/**
 * The bundle as a file Node can import, named by its SHA-256 (so a process imports each version's
 * code once, and two versions never share a module instance); written whole, then renamed in.
 */
async function bundleFile(code: TypeScriptModelCode): Promise<string> {
  const folder = join(tmpdir(), 'flywheel-model-code');
  const file = join(folder, `${code.sha256}.mjs`);
  // Kept only when its bytes are exactly these (a temp folder is anyone's to write).
  if (await readFile(file).then((bytes) => Buffer.from(code.bytes).equals(bytes), () => false)) return file;
  await mkdir(folder, { recursive: true });
  const partial = `${file}.${randomBytes(6).toString('hex')}.partial`;
  await writeFile(partial, code.bytes);
  await rename(partial, file);
  return file;
}
