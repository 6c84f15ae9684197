import { afterEach, describe, expect, it } from 'vitest';
import { createTempProject, type TempProject } from './support/temp-project.ts';

// Bad input gets one clear message and a non-zero exit, never a stack trace.
let project: TempProject | undefined;
afterEach(() => project?.remove());

const config = (profile: string) => `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'p', definitions: './definitions', profiles: { local: ${profile} } });
`;

function expectCleanFailure(result: { code: number | null; stderr: string }, message: string) {
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('flywheel CLI errors', () => {
  it('names the config file and field of a bad profile', () => {
    project = createTempProject({ 'flywheel.config.ts': config(`{ ...localProfile(), offline: { type: 'duck' } as never }`), 'definitions/.keep': '' });
    const result = project.cli('plan');
    expectCleanFailure(result, `${project.dir}/flywheel.config.ts, field "profiles.local.offline.type": type must be "duckdb" or "snowflake"`);
  });

  it('refuses a secret written into the config', () => {
    project = createTempProject({ 'flywheel.config.ts': config(`{ ...localProfile(), onlineStore: { type: 'redis', url: 'redis://:hunter2@redis:6379' } }`), 'definitions/.keep': '' });
    expectCleanFailure(project.cli('plan'), 'field "profiles.local.onlineStore.url": must not contain a password; use passwordEnv');
  });

  it('names an unknown profile and the known ones', () => {
    project = createTempProject({ 'flywheel.config.ts': config('localProfile()'), 'definitions/.keep': '' });
    expectCleanFailure(project.cli('--profile', 'staging', 'plan'), 'field "profiles": no profile "staging"; the profiles are local');
  });

  it('says where no config was found', () => {
    project = createTempProject({});
    expectCleanFailure(project.cli('plan'), 'no flywheel.config.ts found in');
  });

  it('reports a syntax error once, at its file and line, and not again for each file that imports it', () => {
    project = createTempProject({
      'flywheel.config.ts': config('localProfile()'),
      'definitions/a-broken.ts': `import { entity } from 'flywheel';\nexport const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });\nexport const x = ;\n`,
      'definitions/b-user.ts': `export { user } from './a-broken.ts';\n`,
      'definitions/c-more.ts': `import { user } from './b-user.ts';\nexport const again = user;\n`,
    });
    const result = project.cli('plan');
    expectCleanFailure(result, '');
    expect(result.stderr).toBe(
      'error: Invalid definition:\n' +
        '  - definitions/a-broken.ts:3:17: cannot load: syntax error: Unexpected ";" (definitions/b-user.ts and definitions/c-more.ts depend on it and could not load)\n',
    );
  });

  it('names the file and line an exception was thrown at while loading the definitions', () => {
    project = createTempProject({
      'flywheel.config.ts': config('localProfile()'),
      'definitions/helpers.ts': `export function threshold(): number {\n  const table: Record<string, number> | undefined = undefined;\n  return table!.limit;\n}\n`,
      'definitions/views.ts': `import { threshold } from './helpers.ts';\nexport const limit = threshold();\n`,
    });
    const result = project.cli('plan');
    expectCleanFailure(result, '');
    expect(result.stderr).toBe(
      'error: Invalid definition:\n' +
        "  - definitions/helpers.ts:3:17: cannot load: Cannot read properties of undefined (reading 'limit') (definitions/views.ts depends on it and could not load)\n",
    );
  });

  it('names the Temporal address it cannot reach and how to start one', () => {
    project = createTempProject({ 'flywheel.config.ts': config(`localProfile({ temporalAddress: '127.0.0.1:1' })`), 'definitions/.keep': '' });
    // `worker`: the run commands read the applied registry first, and this project applied nothing (docs/runs.md).
    expectCleanFailure(project.cli('worker'), 'Cannot reach the Temporal server at 127.0.0.1:1 (namespace "default"). Start a local one with `flywheel dev`');
  }, 30_000);

  it('rejects an ambiguous time and a bad option value', () => {
    project = createTempProject({ 'flywheel.config.ts': config('localProfile()'), 'definitions/.keep': '' });
    expectCleanFailure(project.cli('run', 'training-set', 'x', '--from', '2024-01-01T10:00'), '--from "2024-01-01T10:00" is not an unambiguous instant');
    expectCleanFailure(project.cli('run', 'training-set', 'x', '--from', '2024-02-01', '--to', '2024-01-01'), 'must be before --to');
    const bad = project.cli('run', 'training-set', 'x', '--registry-version', 'two');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("option '--registry-version <n>' argument 'two' is invalid. expected a positive whole number");
  });
});
