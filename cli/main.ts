import { Command, CommanderError } from 'commander';
import { reportError } from './errors.ts';
import { registerCommands } from './commands/index.ts';
import { flywheelVersion } from './version.ts';

/**
 * The `flywheel` command. Each subcommand lives in cli/commands/ and registers itself; global options
 * (--config, --profile, --debug) are read through `program.opts()`.
 */
const program = new Command('flywheel')
  .description('The ML data flywheel as code: collect, organize, learn, decide.')
  .option('-c, --config <file>', 'path to flywheel.config.ts (default: found from the current folder upwards)')
  .option('-p, --profile <name>', 'configuration profile (default: $FLYWHEEL_PROFILE, the config\'s defaultProfile, or "local")')
  .option('--debug', 'show stack traces')
  .version(flywheelVersion(), '-V, --version', 'print the version of Flywheel')
  .showHelpAfterError('(run flywheel --help for usage)')
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    process.exitCode = reportError(error, Boolean(program.opts().debug));
  }
}
