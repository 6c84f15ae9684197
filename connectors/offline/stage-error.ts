import { FlywheelError } from '../../core/errors.ts';

/** Thrown by OfflineEngine.stageFiles when the warehouse cannot be given a file: one it cannot reach, or that is missing. */
export class StageError extends FlywheelError {
  /** The file as the caller named it (a local path or a URI). */
  readonly file: string;
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`Cannot stage ${JSON.stringify(file)} for the warehouse: ${reason}`, options);
    this.file = file;
  }
}
