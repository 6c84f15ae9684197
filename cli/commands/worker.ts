import type { Command } from 'commander';
import { loadConfigFor } from './global-options.ts';

/** `flywheel worker`: runs the project's workflows and activities until Ctrl-C. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("run a worker for the project's workflows and activities")
    .action(async (_options: unknown, command: Command) => {
      const config = await loadConfigFor(command);
      const { temporal } = config.profile;
      const { startProjectWorker } = await import('../../worker/start-project-worker.ts');
      const worker = await startProjectWorker(config);
      process.stderr.write(`Worker for ${config.project} (profile ${config.profileName}) on ${temporal.address}, namespace ${temporal.namespace}, task queue ${temporal.taskQueue}. Ctrl-C stops it.\n`);
      // The worker handles SIGINT/SIGTERM itself: it stops polling, lets running activities finish, then resolves.
      await worker.finished;
    });
}
