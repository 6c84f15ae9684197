import type { Command } from 'commander';
import type { InitOptions } from '../init/run-init.ts';

/**
 * `flywheel init [dir]`: a new project (docs/your-own-project.md). From `--from` Parquet and CSV
 * files it proposes sources, an entity, feature views, a service and a training set, and prints why;
 * without, it starts from a sample table in an empty warehouse. The work (and DuckDB) is imported
 * only when the command runs.
 */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('start a new project in [dir]: config, definitions (an entity, source, feature view, service and training set), .gitignore, README')
    .argument('[dir]', 'folder of the new project, created if missing; it must be empty', '.')
    .option('--from <files...>', 'Parquet or CSV files or globs to start from (data/*.parquet data/users.csv); without it, a sample table')
    .option('--entity <column>', 'the entity key column (default: the id-like column shared by the most files)')
    .option('--timestamp <column>', "the event-time column, in the files that have it (default: each file's first TIMESTAMP or TIMESTAMPTZ column)")
    .option('--name <project>', 'project name, an identifier (default: from the folder name)')
    .option('--flywheel <spec>', "the flywheel dependency in package.json (default: this version, ^x.y.z; or a spec such as file:../flywheel-0.1.0.tgz)")
    .option('--force', 'write into a folder that is not empty (files of the same names are replaced)')
    .action(async (dir: string, options: InitOptions) => {
      const { runInit } = await import('../init/run-init.ts');
      await runInit(dir, options);
    });
}
