import type { Context, Info } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActivityInterceptorsFactory, NativeConnection } from '@temporalio/worker';

/**
 * An activity interceptor that holds a finished activity's outcome (its result or its failure) while
 * the Temporal server does not answer, and hands it to the SDK once the server answers again.
 *
 * Why: the SDK retries an activity's completion for at most about 10 s (sdk-core's default retry
 * options for calls other than polls; the TypeScript SDK cannot change them), then logs "Network
 * error while completing activity" and drops it. The server, back again, still sees the attempt
 * running and runs it again only when the attempt's heartbeat timeout passes: 2 minutes for the
 * training-set, labels and materialization activities. So a server away for 12 s cost 2 minutes, and
 * a run in flight waited that long (test/fault-temporal-restart.test.ts hung past its timeout in CI
 * that way: the loop's training-set activity ended early in a restart that took longer than usual).
 * Held here, the outcome goes out once the server answers, with the SDK's 10 s still ahead of it.
 *
 * The hold is bounded by how long the server waits for the attempt (its heartbeat timeout, else its
 * start-to-close timeout): past that the server has timed the attempt out and runs it again anyway.
 * A cancelled attempt (the worker shutting down, or the server cancelling it) is not held, nor is a
 * local activity. While the server answers, the cost is one GetSystemInfo call per finished activity.
 *
 * @example
 * Worker.create({ ..., interceptors: { activity: [holdOutcomeWhileServerAway(connection)] } });
 */
export function holdOutcomeWhileServerAway(connection: NativeConnection, options: HoldOptions = {}): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        // A local activity's outcome travels in its workflow task, which the server retries by itself.
        if (ctx.info.isLocal) return next(input);
        let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
        try {
          outcome = { ok: true, value: await next(input) };
        } catch (error) {
          outcome = { ok: false, error };
        }
        if (!ctx.cancellationSignal.aborted) {
          const limitMs = holdLimitMs(ctx);
          const answered = await untilServerAnswers(connection, limitMs, ctx.cancellationSignal, () => {
            ctx.log.warn(`Finished while the Temporal server does not answer; holding the outcome until it does (at most ${Math.round(limitMs / 1000)} s)`);
            options.onHold?.(ctx.info);
          });
          if (answered === 'after-a-wait') {
            ctx.log.info('The Temporal server answers again; handing over the held outcome');
            options.onRelease?.(ctx.info);
          }
        }
        if (outcome.ok) return outcome.value;
        throw outcome.error;
      },
    },
  });
}

export interface HoldOptions {
  /** Called once when a finished activity's outcome starts being held (the server did not answer). */
  onHold?: (activity: Info) => void;
  /** Called when a held outcome is handed to the SDK because the server answers again. */
  onRelease?: (activity: Info) => void;
}

/** How long the server still waits for this attempt: its heartbeat timeout, else its start-to-close timeout. */
function holdLimitMs(ctx: Context): number {
  const { heartbeatTimeoutMs, startToCloseTimeoutMs } = ctx.info;
  return heartbeatTimeoutMs !== undefined && heartbeatTimeoutMs > 0 ? heartbeatTimeoutMs : startToCloseTimeoutMs;
}

/** gRPC codes that mean "no server answered": UNAVAILABLE (refused, reset) and DEADLINE_EXCEEDED. */
const UNANSWERED_CODES = new Set([14, 4]);

/** A probe that came back unanswered sooner than this is followed by a pause, so the loop never spins. */
const MIN_PROBE_MS = 500;

/**
 * Resolves when the server answers a GetSystemInfo (at once when it is up), when `limitMs` has passed,
 * or when `signal` aborts. Each call is retried by the SDK for up to about 6 s while the connection is
 * refused, so the server's return is noticed within a few seconds and the loop needs no sleep of its own.
 */
async function untilServerAnswers(connection: NativeConnection, limitMs: number, signal: AbortSignal, onWait: () => void): Promise<'at-once' | 'after-a-wait' | 'gave-up'> {
  const deadline = Date.now() + limitMs;
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) resolve('aborted');
    else signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  let waited = false;
  while (Date.now() < deadline) {
    const startedAt = Date.now();
    const probe = connection.workflowService.getSystemInfo({}).then(
      () => 'answered' as const,
      // Any answer other than "nobody there" (a permission error, say) means the server is up.
      (error: unknown) => (UNANSWERED_CODES.has((error as { code?: unknown }).code as number) ? ('unanswered' as const) : ('answered' as const)),
    );
    const result = await Promise.race([probe, aborted]);
    if (result === 'answered') return waited ? 'after-a-wait' : 'at-once';
    if (result === 'aborted') return 'gave-up';
    if (!waited) onWait();
    waited = true;
    const elapsed = Date.now() - startedAt;
    if (elapsed < MIN_PROBE_MS) await Promise.race([sleep(MIN_PROBE_MS - elapsed), aborted]);
  }
  return 'gave-up';
}
