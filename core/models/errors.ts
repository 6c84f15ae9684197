import { FlywheelError } from '../errors.ts';

/**
 * Thrown by a loaded model's `score` when the artifact throws, returns NaN or infinity, returns a
 * probability outside [0, 1], returns the wrong number of scores, or an input cannot be fed to it.
 * `rowIndex` is the row of the call (0-based) when one row is to blame.
 */
export class ModelScoringError extends FlywheelError {
  readonly model: string;
  readonly version: string;
  readonly rowIndex: number | undefined;
  readonly reason: string;
  constructor(context: { model: string; version: string; rowIndex?: number; reason: string }, options?: { cause?: unknown }) {
    const row = context.rowIndex === undefined ? '' : `, row ${context.rowIndex}`;
    super(`model "${context.model}" version ${context.version}${row}: ${context.reason}`, options);
    this.model = context.model;
    this.version = context.version;
    this.rowIndex = context.rowIndex;
    this.reason = context.reason;
  }
}

/**
 * Thrown when a model version's artifact cannot be loaded or does not fit the model's definition
 * (`flywheel models register` checks this before storing it; serving and batch scoring when loading).
 */
export class ModelArtifactError extends FlywheelError {
  readonly model: string;
  readonly version: string | undefined;
  readonly file: string;
  readonly reason: string;
  constructor(context: { model: string; version?: string; file: string; reason: string }, options?: { cause?: unknown }) {
    const version = context.version === undefined ? '' : ` version ${context.version}`;
    super(`model "${context.model}"${version}, artifact ${context.file}: ${context.reason}`, options);
    this.model = context.model;
    this.version = context.version;
    this.file = context.file;
    this.reason = context.reason;
  }
}

/** Thrown by `flywheel models register|promote` when what is asked does not fit the registry (unknown dataset version, unknown model version). */
export class ModelRegistryError extends FlywheelError {
  readonly model: string;
  constructor(model: string, message: string) {
    super(`model "${model}": ${message}`);
    this.model = model;
  }
}

/** Thrown when a batch-scoring run's `--spine` cannot be read as a spine (a file of another format, no time column to use). */
export class BatchSpineError extends FlywheelError {
  readonly spine: string;
  readonly reason: string;
  constructor(spine: string, reason: string) {
    super(`--spine ${spine}: ${reason}`);
    this.spine = spine;
    this.reason = reason;
  }
}
