import { relative } from 'node:path';
import type { Command } from 'commander';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { loadConfigFor } from './global-options.ts';

/**
 * `flywheel validate`: loads the config and the definitions and checks them, nothing else (no
 * warehouse, no Temporal), so CI can run it on every change. Exit 0 with a one-line summary, or 1
 * with every definition problem (the same messages as plan).
 */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check the config and the definitions only (no warehouse, no Temporal): for CI')
    .action(async (_options: unknown, command: Command) => {
      const config = await loadConfigFor(command);
      const spec = await loadDefinitions(config.definitionsDir, config.projectRoot);
      const where = relative(process.cwd(), config.definitionsDir) || '.';
      process.stdout.write(`Valid: project ${config.project}, ${summarize(spec)} (${where}).\n`);
    });
}

const KINDS: readonly [keyof ProjectSpec, string, string][] = [
  ['entities', 'entity', 'entities'],
  ['sources', 'source', 'sources'],
  ['eventStreams', 'event stream', 'event streams'],
  ['featureViews', 'feature view', 'feature views'],
  ['featureServices', 'feature service', 'feature services'],
  ['trainingSets', 'training set', 'training sets'],
  ['labels', 'labels dataset', 'labels datasets'],
  ['loops', 'loop', 'loops'],
];

/** "1 entity, 2 sources, 1 feature view": the kinds the project has, in the order of the docs. */
export function summarize(spec: ProjectSpec): string {
  const parts = KINDS.flatMap(([key, one, many]) => {
    const n = Object.keys(spec[key]).length;
    return n === 0 ? [] : [`${n} ${n === 1 ? one : many}`];
  });
  return parts.length === 0 ? 'no definitions' : parts.join(', ');
}
