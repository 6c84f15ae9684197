import { FlywheelError } from '../../core/errors.ts';

/**
 * Thrown by `flywheel init` when it cannot start a project as asked: a folder that is not empty, a
 * data file it cannot read or cannot propose a source for. `where` names the folder or file.
 */
export class InitError extends FlywheelError {
  readonly where: string;
  constructor(where: string, message: string, options?: { cause?: unknown }) {
    super(`${where}: ${message}`, options);
    this.where = where;
  }
}
