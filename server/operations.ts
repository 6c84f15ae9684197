import type { LogAppDeps } from './app.ts';
import type { StreamLogFailure } from '../connectors/log-store/segment-log/index.ts';

/**
 * What `GET /healthz` and `GET /readyz` answer (docs/collect-api.md, docs/serving.md "Operations").
 * Both answer without a token, for probes and load balancers. What names the project's insides, the
 * stream names, which stream's log failed, the address or path of a failing store and its error, is
 * told only to a caller holding a valid token (of any scope): an outsider learns whether the server
 * is alive and ready, not which streams to post to nor where the stores live.
 */
export type OperationsDeps = Pick<LogAppDeps, 'streams' | 'logStats' | 'pushStats' | 'decisionStats' | 'logFailures' | 'serving'>;

/**
 * The body of `/healthz`: the status and the push and decision-log counters (totals that name
 * nothing); with a valid token also the stream names and each stream's segment-log counters.
 */
export function healthBody(deps: OperationsDeps, shuttingDown: boolean, withToken: boolean): Record<string, unknown> {
  return {
    status: shuttingDown ? 'shutting_down' : 'ok',
    ...(withToken ? { streams: [...deps.streams.keys()], ...(deps.logStats ? { log: deps.logStats() } : {}) } : {}),
    ...(deps.pushStats ? { push: deps.pushStats() } : {}),
    ...(deps.decisionStats ? { decisions: deps.decisionStats() } : {}),
  };
}

/**
 * The checks of `/readyz`, each `ok` or what is wrong: not stopping, every stream's segment log
 * writable, the online store answering (with serving). Without a valid token a failure is named
 * (how many streams refuse events, the kind of store down) but not where or why.
 */
export async function readinessChecks(deps: OperationsDeps, shuttingDown: boolean, withToken: boolean): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  if (shuttingDown) checks.server = 'shutting down';
  const failures = Object.entries(deps.logFailures?.() ?? {});
  if (failures.length === 0) checks.segment_log = 'ok';
  else if (withToken) checks.segment_log = failures.map(([stream, f]) => `stream "${stream}" refuses events ${untilWhat(f)}: ${f.message}`).join('; ');
  else checks.segment_log = `${failures.length} stream${failures.length === 1 ? '' : 's'} refuse${failures.length === 1 ? 's' : ''} events${failures.every(([, f]) => f.untilRestart) ? ' until restart' : ''}`;
  if (deps.serving) {
    const problem = await deps.serving.notReady();
    if (problem === undefined) checks.online_store = 'ok';
    else if (withToken) checks.online_store = problem.message;
    else checks.online_store = `the online store (${storeKind(problem.store)}) is unavailable`;
  }
  return checks;
}

/** Until when a stream refuses events: after a failure for want of space, the next batch a moment later tries again. */
function untilWhat(failure: StreamLogFailure): string {
  return failure.untilRestart ? 'until restart' : 'until disk space is freed (the next batch tries again)';
}

/**
 * The kind of a store from how it prints itself, without its address: the scheme of
 * `redis://10.0.0.5:6379` or `sqlite:/var/lib/online.sqlite` (`redis`, `sqlite`).
 */
export function storeKind(store: string | undefined): string {
  return (store === undefined ? undefined : /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(store)?.[1]) ?? 'unknown';
}
