import { ConfigError } from '../../core/errors.ts';

/** The variable `flywheel serve` reads its exploration secret from (docs/decide.md, "Where the draws come from"). */
export const EXPLORATION_SECRET_VARIABLE = 'FLYWHEEL_EXPLORATION_SECRET';

/** Fewer characters than this would let someone who sees logged slates guess the secret by brute force. */
const MIN_SECRET_LENGTH = 16;

/**
 * The exploration secret from the environment, or undefined (the server then makes 32 random bytes at
 * start). Every node of a deployment given the same secret draws the same for the same decision key, so
 * an auditor holding it can recompute any logged decision's exploration. Read from the environment,
 * never a flag: a flag shows in `ps` and shell history.
 */
export function explorationSecretFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[EXPLORATION_SECRET_VARIABLE];
  if (value === undefined) return undefined;
  if (value.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`environment variable ${EXPLORATION_SECRET_VARIABLE} must be at least ${MIN_SECRET_LENGTH} characters (it has ${value.length}); unset it to draw with a random secret per start`);
  }
  return value;
}
