import { FlywheelError } from '../core/errors.ts';

/** Thrown for bad command-line arguments; printed without a stack, like every FlywheelError. */
export class UsageError extends FlywheelError {}

/**
 * Prints an error as one clear message and returns the exit code. Errors Flywheel raises on purpose
 * are shown as their message; anything else is a bug, shown with its stack only under --debug.
 */
export function reportError(error: unknown, debug: boolean): number {
  if (error instanceof FlywheelError) {
    process.stderr.write(`error: ${error.message}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write('(run with --debug to see where it happened)\n');
  return 2;
}
