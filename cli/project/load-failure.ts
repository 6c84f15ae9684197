import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a definitions file failed to load: the project file and line the error comes from, and what it says. */
export interface LoadFailure {
  /** Relative to the project root, with `:line:column` when known: `definitions/user-features.ts:104:25`. */
  readonly where: string;
  readonly message: string;
}

/** esbuild (through tsx) reports a syntax error as `Transform failed with 1 error:\n/abs/file.ts:101:23: ERROR: …`. */
const TRANSFORM_ERROR = /^(.+?):(\d+):(\d+): ERROR: (.+)$/m;
/** A stack frame's location: `at fn (/abs/file.ts:12:5)`, `at /abs/file.ts:12:5`, or with a file:// URL. */
const STACK_FRAME = /^\s+at (?:.*? \()?((?:file:\/\/)?\/[^()\s]+?):(\d+):(\d+)\)?$/gm;

/**
 * Where an import of a definitions file failed, for a message that names the file and line the user
 * must fix rather than every file that imports it: a syntax error's position, else the first stack
 * frame in the project (outside node_modules; tsx maps it to the TypeScript line), else the file
 * whose import failed.
 */
export function loadFailureOf(error: unknown, importedFile: string, projectRoot: string): LoadFailure {
  const text = error instanceof Error ? error.message : String(error);
  const transform = TRANSFORM_ERROR.exec(text);
  if (transform && inProject(transform[1]!, projectRoot)) {
    return { where: `${relative(projectRoot, transform[1]!)}:${transform[2]}:${transform[3]}`, message: `syntax error: ${transform[4]}` };
  }
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  for (const frame of stack.matchAll(STACK_FRAME)) {
    const path = frame[1]!.startsWith('file://') ? fileURLToPath(frame[1]!) : frame[1]!;
    if (inProject(path, projectRoot)) return { where: `${relative(projectRoot, path)}:${frame[2]}:${frame[3]}`, message: text };
  }
  return { where: importedFile, message: text };
}

function inProject(path: string, projectRoot: string): boolean {
  if (!isAbsolute(path)) return false;
  const inside = relative(projectRoot, path);
  return inside !== '' && !inside.startsWith('..') && !inside.split(sep).includes('node_modules');
}
