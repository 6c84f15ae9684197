import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempProject, REPO_ROOT } from './support/temp-project.ts';

describe('flywheel --version', () => {
  it("prints the package's version and exits 0, with or without a project", () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const project = createTempProject({});
    try {
      for (const flag of ['--version', '-V']) expect(project.cli(flag)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    } finally {
      project.remove();
    }
  });
});
