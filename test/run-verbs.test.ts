import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

// One way to say "run this now": `flywheel run <kind> <name>`. The older forms (labels build,
// materialize, loop run, retention run) are the same commands, so they answer alike, word for word.
let project: TempProject;

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'verbs', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '127.0.0.1:1' }) } });\n`,
    'definitions/all.ts': `import { entity, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const userSpend = featureView({ name: 'user_spend', entities: [user], source: spend, online: true, features: { amount: 'float64' } });
`,
  });
  const engine = await openDuckDBEngine({ path: join(project.dir, '.flywheel', 'warehouse.duckdb') });
  await engine.run({ sql: 'CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE)', parameters: [] });
  await engine.close();
  expect(project.cli('apply').code).toBe(0);
});

afterAll(() => project?.remove());

describe('flywheel run <kind>', () => {
  it('lists every kind of run in its help', () => {
    const help = project.cli('run', '--help').stdout;
    for (const kind of ['training-set', 'labels', 'materialization', 'loop', 'retention']) expect(help).toMatch(new RegExp(`\\n  ${kind} \\[options\\]`));
  });

  it.each([
    [['run', 'materialization', 'user_spnd'], ['materialize', 'user_spnd']],
    [['run', 'labels', 'charged_back'], ['labels', 'build', 'charged_back']],
    [['run', 'retention', 'clicks'], ['retention', 'run', 'clicks']],
  ])('%j answers as %j does', (canonical, alias) => {
    const a = project.cli(...canonical);
    const b = project.cli(...alias);
    expect(a.code).toBe(1);
    expect(a.stderr).not.toBe('');
    expect({ code: a.code, stdout: a.stdout, stderr: a.stderr }).toEqual({ code: b.code, stdout: b.stdout, stderr: b.stderr });
  });

  it('takes the same options as the older form', () => {
    const a = project.cli('run', 'materialization', '--help').stdout.replace(/^Usage: .*\n/, '');
    const b = project.cli('materialize', '--help').stdout.replace(/^Usage: .*\n/, '');
    expect(a).toBe(b);
    expect(project.cli('run', 'loop', '--help').stdout.replace(/^Usage: .*\n/, '')).toBe(project.cli('loop', 'run', '--help').stdout.replace(/^Usage: .*\n/, ''));
  });
});
