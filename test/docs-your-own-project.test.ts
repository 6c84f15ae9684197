import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerInitCommand } from '../cli/commands/init.ts';
import { REPO_ROOT } from './support/temp-project.ts';

/**
 * docs/your-own-project.md promises every `localProfile` option and every `flywheel init` option:
 * the options are read from the code (core/config.ts's signature, the registered command), so a new
 * one fails here until the page documents it.
 */

const doc = readFileSync(join(REPO_ROOT, 'docs', 'your-own-project.md'), 'utf8');

/** The first cells of the rows of the first markdown table after `marker`. */
function tableAfter(marker: string): string[] {
  const start = doc.indexOf(marker);
  expect(start, marker).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(start).split('\n');
  const table = lines.slice(lines.findIndex((l) => l.startsWith('|')));
  return table.slice(0, table.findIndex((l) => !l.startsWith('|'))).slice(2).map((l) => l.split('|')[1]!.trim());
}

describe('docs/your-own-project.md', () => {
  it('documents every localProfile option', () => {
    const source = readFileSync(join(REPO_ROOT, 'core', 'config.ts'), 'utf8');
    const signature = /export function localProfile\(options: \{([^}]*)\}/.exec(source);
    expect(signature).not.toBeNull();
    const options = [...signature![1]!.matchAll(/(\w+)\??:/g)].map((m) => `\`${m[1]}\``);
    expect(options).toEqual(['`stateDir`', '`temporalAddress`', '`taskQueue`']);
    expect(tableAfter('`localProfile(options)` returns a whole profile').sort()).toEqual([...options].sort());
  });

  it('documents every flywheel init option', () => {
    const program = new Command();
    registerInitCommand(program);
    const init = program.commands.find((c) => c.name() === 'init')!;
    const flags = init.options.map((o) => `\`${o.flags}\``);
    expect(tableAfter('`init [dir]` writes a new project').sort()).toEqual(flags.sort());
  });
});
