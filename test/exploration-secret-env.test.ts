import { describe, expect, it } from 'vitest';
import { explorationSecretFromEnv } from '../cli/serve/exploration-secret.ts';
import { explorationDraws, secretOf } from '../server/decide/exploration-draws.ts';

describe('flywheel serve: the exploration secret from FLYWHEEL_EXPLORATION_SECRET', () => {
  it('is undefined when the variable is unset (the server then draws with random bytes per start)', () => {
    expect(explorationSecretFromEnv({})).toBeUndefined();
  });

  it('is the variable as given, so two nodes given it draw the same for one key', () => {
    const secret = explorationSecretFromEnv({ FLYWHEEL_EXPLORATION_SECRET: 'sixteen chars ok' });
    expect(secret).toBe('sixteen chars ok');
    const nodeA = explorationDraws(secretOf(secret), 'ranker', 'request-42');
    const nodeB = explorationDraws(secretOf(secret), 'ranker', 'request-42');
    expect([nodeA(), nodeA(), nodeA()]).toEqual([nodeB(), nodeB(), nodeB()]);
  });

  it('refuses a secret shorter than 16 characters, naming the variable and its length', () => {
    expect(() => explorationSecretFromEnv({ FLYWHEEL_EXPLORATION_SECRET: 'short' })).toThrow(
      'environment variable FLYWHEEL_EXPLORATION_SECRET must be at least 16 characters (it has 5); unset it to draw with a random secret per start',
    );
    expect(() => explorationSecretFromEnv({ FLYWHEEL_EXPLORATION_SECRET: '' })).toThrow('(it has 0)');
  });
});
