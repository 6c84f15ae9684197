import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';

/**
 * Scratch space on a worker's disk, one folder per activity attempt:
 * `<scratchDir>/<workflow id>/<run id>-<activity id>-<attempt>/`. Nothing an activity leaves there is
 * read by another activity (they may run on other workers, or on this one at the same time): what
 * one step hands to the next goes through the object store or the warehouse (docs/deployment.md,
 * "Workers"). The folder is removed when the attempt ends, succeeded or failed, by the activity
 * boundary (atBoundary → withScratchCleanup), so a retry starts clean and nothing piles up.
 *
 * @example
 * const localDir = activityScratch(deps.scratchDir, run.runKey);   // <scratch>/<wf>/<run>-<activity>-<attempt>/<runKey>
 */
export function activityScratch(scratchDir: string, ...parts: string[]): string {
  const root = join(scratchDir, attemptFolder());
  mkdirSync(root, { recursive: true });
  cleanup.getStore()?.add(root);
  return join(root, ...parts);
}

/** Runs `work` and then removes every scratch folder it asked for; an inner call shares the outer one's. */
export async function withScratchCleanup<T>(work: () => Promise<T>): Promise<T> {
  if (cleanup.getStore()) return work();
  const folders = new Set<string>();
  try {
    return await cleanup.run(folders, work);
  } finally {
    for (const folder of folders) {
      await rm(folder, { recursive: true, force: true });
      // The workflow's folder goes with its last attempt; another attempt still using it keeps it.
      await rmdir(join(folder, '..')).catch(() => undefined);
    }
  }
}

const cleanup = new AsyncLocalStorage<Set<string>>();

/** The attempt's folder name; outside an activity (a script calling one directly), a fresh one. */
function attemptFolder(): string {
  let info: Context['info'];
  try {
    info = Context.current().info;
  } catch {
    return join('local', randomUUID());
  }
  const execution = info.workflowExecution;
  const attempt = `${safe(info.activityId)}-${info.attempt}`;
  // An activity started on its own, outside a workflow, has no workflow to group under.
  if (!execution) return join('standalone', `${randomUUID().slice(0, 8)}-${attempt}`);
  return join(safe(execution.workflowId), `${safe(execution.runId.slice(0, 13))}-${attempt}`);
}

/** Workflow ids hold `/` and `:` (`shop/training-set/daily/2024-03-01..2024-03-02`); a folder name may not. */
function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '_');
}
