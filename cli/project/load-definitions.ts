import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDefinition } from '../../core/definitions/definition.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { DefinitionError } from '../../core/errors.ts';
import type { LoadedDefinition } from '../../core/validation/validate-project.ts';
import { importTypeScript } from '../../runtime/import-typescript.ts';
import { loadFailureOf, type LoadFailure } from './load-failure.ts';

/**
 * Imports every .ts file under the definitions folder (sorted, so loading is reproducible), collects
 * the definitions they export, and validates them. Problems name the file relative to the project.
 */
export async function loadDefinitions(definitionsDir: string, projectRoot: string): Promise<ProjectSpec> {
  if (!existsSync(definitionsDir)) {
    throw new DefinitionError([{ file: relative(projectRoot, definitionsDir), kind: undefined, object: undefined, field: undefined, message: 'definitions folder does not exist' }]);
  }
  const loaded: LoadedDefinition[] = [];
  // By where they come from: a file that throws, or has a syntax error, fails every file importing it too.
  const importFailures = new Map<string, { failure: LoadFailure; files: string[] }>();
  for (const path of listTsFiles(definitionsDir)) {
    const file = relative(projectRoot, path);
    let module: Record<string, unknown>;
    try {
      module = (await importTypeScript(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (cause) {
      const failure = loadFailureOf(cause, file, projectRoot);
      const key = `${failure.where}\n${failure.message}`;
      importFailures.set(key, { failure, files: [...(importFailures.get(key)?.files ?? []), file] });
      continue;
    }
    // The same object may be exported under two names (or re-exported); count it once.
    const seen = new Set<unknown>();
    for (const value of Object.values(module)) {
      if (isDefinition(value) && !seen.has(value)) {
        seen.add(value);
        loaded.push({ file, definition: value });
      }
    }
  }
  if (importFailures.size > 0) {
    throw new DefinitionError([...importFailures.values()].map(({ failure, files }) => {
      const others = files.filter((file) => !failure.where.startsWith(`${file}:`) && failure.where !== file);
      const list = others.length < 2 ? others.join('') : `${others.slice(0, -1).join(', ')} and ${others.at(-1)}`;
      const also = others.length === 0 ? '' : ` (${list} ${others.length === 1 ? 'depends' : 'depend'} on it and could not load)`;
      return { file: failure.where, kind: undefined, object: undefined, field: undefined, message: `cannot load: ${failure.message}${also}` };
    }));
  }
  // The validator (and zod) load with the first definitions, not with every start of the CLI.
  const { validateProject } = await import('../../core/validation/validate-project.ts');
  return validateProject(dedupeReexports(loaded));
}

/** A definition re-exported from another file (export { user } from './entities.ts') is the same object. */
function dedupeReexports(loaded: LoadedDefinition[]): LoadedDefinition[] {
  const seen = new Set<unknown>();
  return loaded.filter(({ definition }) => (seen.has(definition) ? false : (seen.add(definition), true)));
}

function listTsFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return listTsFiles(path);
      return name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts') ? [path] : [];
    });
}
