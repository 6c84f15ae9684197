import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { ModelArtifactError } from '../../core/models/errors.ts';
import type { ModelSpec } from '../../core/definitions/specs.ts';

/**
 * A TypeScript model's scoring module and everything it imports (but Node's built-ins), bundled by
 * esbuild into one ES module: what `models register` stores with the version, so the version's code
 * is fixed with its parameters (docs/models.md, "A TypeScript model's code"). Paths in the output
 * are relative to the project root, so the same sources give the same bytes from any directory.
 */
/**
 * In a source checkout (index.ts beside this package's sources; bin/flywheel.js), a project's
 * `import 'flywheel'` loads the sources under the `flywheel-source` export condition, as the CLI
 * loads the definitions: the bundle must resolve it the same way (a checkout may have no dist/). An
 * installed package has no index.ts, and `flywheel` resolves to its dist/ as usual.
 */
const SOURCE_CONDITIONS = existsSync(new URL('../../index.ts', import.meta.url)) ? ['flywheel-source'] : [];

export async function bundleTypeScriptModel(spec: ModelSpec & { artifact: { format: 'typescript' } }, projectRoot: string): Promise<Uint8Array> {
  try {
    const result = await build({
      entryPoints: [resolve(projectRoot, spec.artifact.module)],
      absWorkingDir: resolve(projectRoot),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      conditions: SOURCE_CONDITIONS,
      write: false,
      logLevel: 'silent',
      legalComments: 'none',
      // A CommonJS dependency bundled into ESM calls require(): give it Node's.
      banner: { js: "import { createRequire as __flywheelCreateRequire } from 'node:module'; const require = __flywheelCreateRequire(import.meta.url);" },
    });
    return result.outputFiles[0]!.contents;
  } catch (cause) {
    const errors = (cause as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    const text = errors?.length
      ? errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('; ')
      : cause instanceof Error ? cause.message : String(cause);
    throw new ModelArtifactError({ model: spec.name, file: spec.artifact.module, reason: `cannot bundle the scoring module: ${text}` }, { cause });
  }
}
